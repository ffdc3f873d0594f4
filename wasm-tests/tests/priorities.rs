//! The WasmScheduler's priorities in a JS host: high first in a microtask drain, low only in
//! macrotask drains (and first in each, so it progresses), a high task woken by low work runs
//! next; counters per priority; `utc_now` is `Date.now()`; and the TestScheduler's simulated
//! dedicated executor on wasm32.
#![cfg(target_arch = "wasm32")]

use scheduler::SystemTime;
use scheduler::{Priority, Scheduler, Task, TestScheduler};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::support::{js_sleep, new_wasm_scheduler, next_macrotask, yield_now};

/// Spawns a task of `priority` that logs `name`.
fn logged(
    scheduler: &Arc<dyn Scheduler>,
    log: &Arc<Mutex<Vec<&'static str>>>,
    priority: Priority,
    name: &'static str,
) -> Task<()> {
    let log = log.clone();
    scheduler.spawn_with_priority(priority, async move { log.lock().unwrap().push(name) })
}

/// Resolves after the microtasks queued so far (one promise turn).
async fn after_microtasks() {
    wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&wasm_bindgen::JsValue::from(1)))
        .await
        .unwrap();
}

/// Once the last task of another priority ends, runnables go to the one lane again without
/// reading their priority (the common case's direct path); a new high or low task routes by
/// priority again, in the same order as the first time.
#[wasm_bindgen_test]
async fn priority_bands_stop_when_the_last_non_medium_task_ends_and_come_back() {
    let (_wasm, scheduler) = new_wasm_scheduler();
    for round in 0..3 {
        let log = Arc::new(Mutex::new(Vec::new()));
        let tasks = [
            logged(&scheduler, &log, Priority::Low, "low"),
            logged(&scheduler, &log, Priority::Medium, "medium"),
            logged(&scheduler, &log, Priority::High, "high"),
        ];
        after_microtasks().await;
        assert_eq!(
            log.lock().unwrap().clone(),
            ["high", "medium"],
            "round {round}: high, then medium; low waits for a macrotask"
        );
        for task in tasks {
            task.await;
        }
        assert_eq!(log.lock().unwrap().clone(), ["high", "medium", "low"]);
        // Medium work alone between the rounds: many yields through the direct path.
        let yields: Vec<Task<()>> = (0..10)
            .map(|_| {
                scheduler.spawn(async {
                    for _ in 0..10 {
                        yield_now().await;
                    }
                })
            })
            .collect();
        for task in yields {
            task.await;
        }
    }
}

#[wasm_bindgen_test]
async fn high_runs_first_in_the_microtask_drain_and_low_waits_for_a_macrotask() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let log = Arc::new(Mutex::new(Vec::new()));
    let tasks = [
        logged(&scheduler, &log, Priority::Low, "low"),
        logged(&scheduler, &log, Priority::Medium, "medium"),
        logged(&scheduler, &log, Priority::High, "high"),
    ];
    after_microtasks().await;
    let order = log.lock().unwrap().clone();
    assert_eq!(
        order,
        ["high", "medium"],
        "the microtask drain runs high, then medium; low waits"
    );
    // A later macrotask runs it (in browsers, `postTask` at background priority: after the
    // host's other tasks, so possibly after a few).
    for _ in 0..100 {
        if log.lock().unwrap().len() == 3 {
            break;
        }
        next_macrotask().await;
    }
    let order = log.lock().unwrap().clone();
    assert_eq!(order, ["high", "medium", "low"]);
    for task in tasks {
        task.await;
    }
    let stats = wasm.stats();
    let spawned: Vec<(Priority, u64)> = stats
        .priorities
        .iter()
        .map(|(priority, counters)| (*priority, counters.spawned))
        .collect();
    assert_eq!(
        spawned,
        [
            (Priority::Low, 1),
            (Priority::Medium, 1),
            (Priority::High, 1)
        ]
    );
    assert_eq!(stats.total.completed, 3);
}

#[wasm_bindgen_test]
async fn a_high_task_spawned_by_low_work_runs_before_the_rest_of_it() {
    let (_wasm, scheduler) = new_wasm_scheduler();
    let log = Arc::new(Mutex::new(Vec::new()));
    let first = scheduler.spawn_with_priority(Priority::Low, {
        let (log, scheduler) = (log.clone(), scheduler.clone());
        async move {
            log.lock().unwrap().push("low 0");
            logged(&scheduler, &log, Priority::High, "high").detach();
        }
    });
    let rest: Vec<Task<()>> = ["low 1", "low 2", "low 3"]
        .into_iter()
        .map(|name| logged(&scheduler, &log, Priority::Low, name))
        .collect();
    first.await;
    for task in rest {
        task.await;
    }
    let order = log.lock().unwrap().clone();
    assert_eq!(order, ["low 0", "high", "low 1", "low 2", "low 3"]);
}

#[wasm_bindgen_test]
async fn low_work_progresses_while_medium_work_keeps_the_queue_busy() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Medium tasks that keep waking themselves until the low one is done.
    let spinners: Vec<Task<u64>> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            scheduler.spawn(async move {
                let mut yields = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && yields < 10_000_000 {
                    yield_now().await;
                    yields += 1;
                }
                yields
            })
        })
        .collect();
    let low = scheduler.spawn_with_priority(Priority::Low, {
        let stop = stop.clone();
        async move {
            for _ in 0..5 {
                yield_now().await;
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    low.await;
    for spinner in spinners {
        assert!(spinner.await < 10_000_000, "the low task starved");
    }
    assert!(wasm.stats().macrotask_yields > 0);
}

#[wasm_bindgen_test]
async fn utc_now_is_the_hosts_wall_clock() {
    let (_wasm, scheduler) = new_wasm_scheduler();
    let date_now = js_sys::Date::now();
    let utc = scheduler
        .utc_now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3;
    assert!(
        (utc - date_now).abs() < 1_000.0,
        "{utc} vs Date.now() {date_now}"
    );
    js_sleep(5.0).await;
    let later = scheduler
        .utc_now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3;
    assert!(later >= utc + 4.0);
}

#[wasm_bindgen_test]
fn the_test_scheduler_simulates_dedicated_executors_and_its_clock_on_wasm32() {
    let orders = TestScheduler::many(10, async |test| {
        let start = test.utc_now();
        let root = test.background().spawn_dedicated(|executor| async move {
            let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            let tasks: Vec<Task<()>> = (0..3)
                .map(|i| {
                    let log = log.clone();
                    executor.spawn(async move { log.borrow_mut().push(i) })
                })
                .collect();
            futures::future::join_all(tasks).await;
            executor.timer(Duration::from_secs(60)).await;
            log.take()
        });
        let order = root.await;
        assert_eq!(test.utc_now(), start + Duration::from_secs(60));
        order
    });
    assert!(orders.iter().all(|order| order == &[0, 1, 2]));
}
