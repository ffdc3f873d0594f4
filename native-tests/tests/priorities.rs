//! The TestScheduler's side of priorities, dedicated executors and the clock: the weighted pick
//! observed over many seeds (a statistical bound, not an exact count), its determinism, how PCT
//! treats priorities, the simulated dedicated executor, and the fake UTC clock.

use scheduler::{Priority, Scheduler, Strategy, TestScheduler, TestSchedulerConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Spawns one no-op task per priority in `priorities` (in that order) on a fresh scheduler and
/// returns the order they ran in.
fn run_order(config: TestSchedulerConfig, priorities: &[Priority]) -> Vec<Priority> {
    let test = TestScheduler::new(config);
    let order = Arc::new(Mutex::new(Vec::new()));
    for &priority in priorities {
        let order = order.clone();
        test.background()
            .spawn_with_priority(
                priority,
                async move { order.lock().unwrap().push(priority) },
            )
            .detach();
    }
    test.run_until_parked();
    order.lock().unwrap().clone()
}

/// The share of each priority among `picks`, as (high, medium, low).
fn shares(picks: &[Priority]) -> (f64, f64, f64) {
    let share = |priority| {
        picks.iter().filter(|&&pick| pick == priority).count() as f64 / picks.len() as f64
    };
    (
        share(Priority::High),
        share(Priority::Medium),
        share(Priority::Low),
    )
}

const BANDS: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

#[test]
fn the_pick_between_bands_is_weighted_60_30_10_over_many_seeds() {
    const SEEDS: u64 = 4_000;
    let orders: Vec<Vec<Priority>> = (0..SEEDS)
        .map(|seed| run_order(TestSchedulerConfig::with_seed(seed), &BANDS))
        .collect();
    let (high, medium, low) = shares(&orders.iter().map(|order| order[0]).collect::<Vec<_>>());
    // 4,000 draws: one standard deviation is under 0.008 for these shares; allow over 4.
    for (what, share, weight) in [
        ("high", high, 0.6),
        ("medium", medium, 0.3),
        ("low", low, 0.1),
    ] {
        assert!(
            (share - weight).abs() < 0.035,
            "{what} ran first in {share:.3} of the seeds, expected about {weight}"
        );
    }
    // Once high ran, medium against low is 30 against 10.
    let second: Vec<Priority> = orders
        .iter()
        .filter(|order| order[0] == Priority::High)
        .map(|order| order[1])
        .collect();
    let (_, medium, _) = shares(&second);
    assert!((medium - 0.75).abs() < 0.05, "medium second in {medium:.3}");
    // And every seed still ran every task.
    assert!(orders.iter().all(|order| order.len() == 3));
}

#[test]
fn the_weighted_pick_is_deterministic_per_seed() {
    let many: Vec<Priority> = (0..30).map(|i| BANDS[i % 3]).collect();
    for seed in 0..50 {
        let first = run_order(TestSchedulerConfig::with_seed(seed), &many);
        assert_eq!(
            first,
            run_order(TestSchedulerConfig::with_seed(seed), &many)
        );
    }
    let distinct: std::collections::HashSet<Vec<Priority>> = (0..50)
        .map(|seed| run_order(TestSchedulerConfig::with_seed(seed), &many))
        .collect();
    assert!(distinct.len() > 40, "seeds give different schedules");
}

#[test]
fn pct_chooses_regardless_of_priority() {
    // PCT's guarantee needs every ready candidate; no backend orders bands strictly either.
    let config = |seed| TestSchedulerConfig {
        strategy: Strategy::Pct { depth: 2, steps: 5 },
        ..TestSchedulerConfig::with_seed(seed)
    };
    let firsts: Vec<Priority> = (0..600)
        .map(|seed| run_order(config(seed), &BANDS)[0])
        .collect();
    let (high, medium, low) = shares(&firsts);
    for share in [high, medium, low] {
        assert!((share - 1.0 / 3.0).abs() < 0.1, "{high} {medium} {low}");
    }
}

#[test]
fn a_simulated_dedicated_executor_runs_on_the_test_thread_interleaved_by_the_seed() {
    let test_thread = std::thread::current().id();
    let orders: Vec<Vec<&'static str>> = (0..40)
        .map(|seed| {
            let test = TestScheduler::with_seed(seed);
            let log = Arc::new(Mutex::new(Vec::new()));
            let dedicated = test.background().spawn_dedicated({
                let log = log.clone();
                move |executor| async move {
                    assert_eq!(std::thread::current().id(), test_thread);
                    for _ in 0..3 {
                        let log = log.clone();
                        executor
                            .spawn(async move { log.lock().unwrap().push("dedicated") })
                            .await;
                    }
                }
            });
            let background = test.spawn({
                let log = log.clone();
                async move {
                    for _ in 0..3 {
                        log.lock().unwrap().push("background");
                        scheduler_yield().await;
                    }
                }
            });
            test.block(async move {
                dedicated.await;
                background.await;
            });
            log.lock().unwrap().clone()
        })
        .collect();
    let distinct: std::collections::HashSet<_> = orders.iter().collect();
    assert!(distinct.len() > 1, "the seed interleaves the two");
}

/// Yields once.
async fn scheduler_yield() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

#[test]
fn dedicated_executors_pass_the_determinism_check() {
    let config = TestSchedulerConfig {
        check_determinism: true,
        ..TestSchedulerConfig::default()
    };
    TestScheduler::many_with(config, 30, async |test| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let root = test.background().spawn_dedicated({
            let log = log.clone();
            move |executor| async move {
                let tasks: Vec<_> = (0..4)
                    .map(|i| {
                        let log = log.clone();
                        executor.spawn(async move { log.lock().unwrap().push(i) })
                    })
                    .collect();
                futures::future::join_all(tasks).await;
            }
        });
        let low = test.background().spawn_with_priority(Priority::Low, {
            let log = log.clone();
            async move { log.lock().unwrap().push(100) }
        });
        root.await;
        low.await;
        let local: Vec<i32> = log
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|&i| i < 100)
            .collect();
        assert_eq!(local, [0, 1, 2, 3], "FIFO on the dedicated executor");
    });
}

/// `days` since 1970-01-01 as a civil date (Howard Hinnant's `civil_from_days`).
fn civil_date(secs: u64) -> (i64, u32, u32) {
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn date(time: SystemTime) -> (i64, u32, u32) {
    civil_date(
        time.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

#[test]
fn the_utc_clock_starts_on_2026_01_01_and_moves_with_advance_clock() {
    let test = TestScheduler::with_seed(3);
    let start = SystemTime::UNIX_EPOCH + TestScheduler::UTC_START;
    assert_eq!(test.utc_now(), start);
    assert_eq!(date(start), (2026, 1, 1));
    let seen = Arc::new(Mutex::new(None));
    let background = test.background();
    background
        .spawn({
            let (background, seen) = (background.clone(), seen.clone());
            async move {
                background.timer(Duration::from_secs(90 * 60)).await;
                *seen.lock().unwrap() = Some(background.utc_now());
            }
        })
        .detach();
    test.advance_clock(Duration::from_secs(24 * 60 * 60));
    assert_eq!(
        *seen.lock().unwrap(),
        Some(start + Duration::from_secs(90 * 60)),
        "a task reads the clock at its timer's deadline"
    );
    assert_eq!(test.utc_now(), start + Duration::from_secs(24 * 60 * 60));
    assert_eq!(date(test.utc_now()), (2026, 1, 2));
    // Every seed sees the same clock.
    let other = TestScheduler::with_seed(4);
    other.advance_clock(Duration::from_secs(24 * 60 * 60));
    assert_eq!(other.utc_now(), test.utc_now());
}

#[test]
fn set_utc_now_tests_a_year_rollover() {
    let new_year = TestScheduler::many(5, async |test| {
        // 2026-12-31T23:59:58Z
        let eve = SystemTime::UNIX_EPOCH + Duration::from_secs(1_798_761_598);
        assert_eq!(date(eve), (2026, 12, 31));
        test.set_utc_now(eve);
        let background = test.background();
        let dates = background
            .spawn({
                let background = background.clone();
                async move {
                    let before = date(background.utc_now());
                    background.timer(Duration::from_secs(2)).await;
                    (before, date(background.utc_now()))
                }
            })
            .await;
        assert_eq!(test.utc_now(), eve + Duration::from_secs(2));
        dates
    });
    assert!(
        new_year
            .iter()
            .all(|&dates| dates == ((2026, 12, 31), (2027, 1, 1)))
    );
}

#[test]
fn a_realtime_task_is_simulated_as_high_on_the_test_thread() {
    let test_thread = std::thread::current().id();
    let test = TestScheduler::with_seed(0);
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let task = scheduler.spawn_with_priority(Priority::Realtime, async move {
        (std::thread::current().id(), Priority::current())
    });
    assert_eq!(test.block(task), (test_thread, Priority::Realtime));
}
