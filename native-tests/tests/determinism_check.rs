//! The determinism self-check (`CHECK_DETERMINISM=1`, or `check_determinism` in the config):
//! every seed runs twice and a difference in the traces fails, naming the first differing step.
//! A body that reads a `HashMap`'s iteration order or the wall clock must be caught.

use futures::future::join_all;
use native_tests::child;
use native_tests::support::{panic_text, yield_now};
use scheduler::{TestScheduler, TestSchedulerConfig};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn checked() -> TestSchedulerConfig {
    TestSchedulerConfig {
        check_determinism: true,
        ..TestSchedulerConfig::default()
    }
}

/// The failure message of `many_with(checked(), 10, body)`.
fn failure(body: impl AsyncFnMut(Arc<TestScheduler>)) -> String {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        TestScheduler::many_with(checked(), 10, body);
    }));
    panic_text(&*outcome.expect_err("the check must fail"))
}

/// Spawns one task per `(key, yields)` in the map's iteration order: which task id does how
/// much work depends on the order, which `RandomState` makes differ from map to map.
async fn hash_map_body(test: Arc<TestScheduler>) {
    let work: HashMap<u32, u32> = (0..16).map(|key| (key, key % 5)).collect();
    let tasks: Vec<_> = work
        .into_values()
        .map(|yields| {
            test.spawn(async move {
                for _ in 0..yields {
                    yield_now().await;
                }
            })
        })
        .collect();
    join_all(tasks).await;
}

#[test]
fn a_body_that_depends_on_hash_map_order_is_caught() {
    let message = failure(hash_map_body);
    eprintln!("{message}");
    assert!(
        message.contains("non-determinism: seed 0 ran differently the second time"),
        "{message}"
    );
    assert!(message.contains("First difference at tick "), "{message}");
    assert!(message.contains("  first run:  "), "{message}");
    assert!(message.contains("  second run: "), "{message}");
    assert!(
        message.contains("determinism_check.rs:"),
        "the spawn location: {message}"
    );
    assert!(message.contains("HashMap"), "the likely causes: {message}");
    assert!(
        message.contains("rerun with: CHECK_DETERMINISM=1 SEED=0 cargo test"),
        "{message}"
    );
}

#[test]
fn a_body_that_reads_the_wall_clock_is_caught() {
    let message = failure(async |test| {
        // How long a task works depends on the real time: 0 to 60 yields.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let yields = nanos % 61;
        let worker = test.spawn(async move {
            for _ in 0..yields {
                yield_now().await;
            }
        });
        let other = test.spawn(async {});
        join_all([worker, other]).await;
    });
    eprintln!("{message}");
    assert!(
        message.contains("ran differently the second time"),
        "{message}"
    );
    assert!(message.contains("determinism_check.rs:"), "{message}");
}

#[test]
fn state_left_by_the_first_run_that_fails_the_second_is_caught() {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let message = failure(async |test| {
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        test.spawn(async {}).await;
        assert!(
            run.is_multiple_of(2),
            "the second run of a seed sees the first's state"
        );
    });
    assert!(
        message.contains("non-determinism: seed 0 passed the first time and failed the second"),
        "{message}"
    );
}

#[test]
fn a_deterministic_test_passes_the_check_with_every_kind_of_work() {
    let balances = TestScheduler::many_with(checked(), 30, async |test| {
        let balance = Arc::new(Mutex::new(100));
        let withdrawals: Vec<_> = [30, 50]
            .into_iter()
            .map(|amount| {
                let (balance, delay) = (balance.clone(), test.simulate_random_delay());
                let timer = test.timer(Duration::from_millis(amount));
                test.spawn(async move {
                    let seen = *balance.lock().unwrap();
                    delay.await;
                    timer.await;
                    *balance.lock().unwrap() = seen - amount;
                })
            })
            .collect();
        join_all(withdrawals).await;
        *balance.lock().unwrap()
    });
    assert_eq!(balances.len(), 30, "one output per seed, not two");
}

#[test]
fn check_determinism_from_the_environment_applies_to_run_seeds() {
    let Some(outcome) = child::run_with_env(
        "check_determinism_from_the_environment_applies_to_run_seeds",
        Duration::from_secs(60),
        &[("CHECK_DETERMINISM", "1"), ("SEED", ""), ("REPLAY", "")],
        || {
            scheduler::run_seeds(|seed| {
                let test = TestScheduler::with_seed(seed);
                test.block(hash_map_body(test.clone()));
            })
        },
    ) else {
        return;
    };
    assert!(!outcome.status.unwrap().success(), "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("non-determinism: seed 0 ran differently the second time"),
        "{}",
        outcome.stderr
    );
}
