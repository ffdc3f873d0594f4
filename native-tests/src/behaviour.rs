//! The shared behaviour suite: test bodies every scheduler must pass, written once and run on
//! each backend (LinuxScheduler, TestScheduler, WindowsScheduler, ...).
//!
//! A backend plugs in by implementing [`Harness`] (two methods: which scheduler, and how to drive
//! the main thread until a future completes) and invoking [`behaviour_tests!`](crate::behaviour_tests)
//! in one of its test files:
//!
//! ```ignore
//! struct MyHarness(Arc<MyScheduler>);
//! impl native_tests::behaviour::Harness for MyHarness { ... }
//! native_tests::behaviour_tests!(MyHarness::new());
//! ```
//!
//! Bodies only use the public API (`Arc<dyn Scheduler>`, the executors, `Task`, `Timer`), never
//! thread timing, so they pass on a deterministic scheduler and on real threads alike. Delays are
//! a few milliseconds so the suite takes well under a second of real time per backend. The
//! bodies for priorities, dedicated executors and the clock are in `behaviour/priorities.rs`.

mod priorities;

pub use priorities::*;

use crate::support::{ObservedPanics, PanicOnDrop};
use futures::FutureExt as _;
use futures::channel::{mpsc, oneshot};
use futures::future::join_all;
use futures::{SinkExt as _, StreamExt as _};
use scheduler::{BackgroundExecutor, ForegroundExecutor, Scheduler, Task};
use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a behaviour test reaches the scheduler under test and drives its main thread.
///
/// Every test body calls [`scheduler`](Harness::scheduler) for the `Arc<dyn Scheduler>` it
/// spawns on, and [`run`](Harness::run) once or more, from the thread the harness was made on
/// (the main thread), to drive a future to completion.
pub trait Harness {
    /// The scheduler under test. Its main thread is the thread that calls [`run`](Self::run).
    fn scheduler(&self) -> Arc<dyn Scheduler>;

    /// Drives the main thread (its foreground queue, and for a deterministic scheduler
    /// everything else too) until `future` completes; returns its output. `future` itself runs
    /// on the main thread, so it may spawn and await foreground tasks.
    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static;
}

/// Defines one `#[test]` per behaviour body, each on a fresh harness made by `$make`.
///
/// ```ignore
/// native_tests::behaviour_tests!(LinuxHarness::new());
/// ```
#[macro_export]
macro_rules! behaviour_tests {
    ($make:expr) => {
        $crate::behaviour_tests!(@tests $make;
            background_tasks_return_their_output,
            foreground_tasks_run_on_main_thread_and_background_tasks_never_do,
            foreground_tasks_run_in_spawn_order,
            background_wake_resumes_foreground_task_on_main_thread,
            timers_never_fire_early,
            timers_fire_in_deadline_order,
            dropping_a_task_cancels_it,
            detached_task_runs_to_completion,
            panic_reaches_the_awaiter_and_scheduler_keeps_working,
            destructor_panics_reach_unobserved_panic_naming_the_task,
            cross_task_ping_pong_loses_no_message,
            many_tasks_complete_exactly_once,
            nested_spawns_complete,
            block_with_timeout_times_out_and_returns_the_future,
            executors_api_round_trip,
            dropped_timer_never_fires,
            priority_is_inherited_unless_given,
            realtime_task_runs_and_its_children_are_high,
            low_priority_work_progresses_under_high_priority_load,
            dedicated_executor_runs_local_tasks_in_order_off_the_main_thread,
            dropping_a_dedicated_root_task_cancels_it,
            utc_now_moves_with_the_clock,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let harness = $make;
                $crate::behaviour::$name(&harness);
            }
        )*
    };
}

fn executors<H: Harness>(harness: &H) -> (BackgroundExecutor, ForegroundExecutor) {
    let scheduler = harness.scheduler();
    (
        BackgroundExecutor::new(scheduler.clone()),
        ForegroundExecutor::new(scheduler),
    )
}

pub use crate::support::yield_now;

/// Background tasks hand their outputs back through their `Task`s, in spawn order.
pub fn background_tasks_return_their_output<H: Harness>(harness: &H) {
    let (background, _) = executors(harness);
    let outputs = harness.run(async move {
        let tasks: Vec<Task<u64>> = (0..200u64)
            .map(|i| background.spawn(async move { i * 3 }))
            .collect();
        join_all(tasks).await
    });
    assert_eq!(outputs, (0..200u64).map(|i| i * 3).collect::<Vec<_>>());
}

/// Foreground tasks see `is_main_thread() == true`; background tasks see `false`.
pub fn foreground_tasks_run_on_main_thread_and_background_tasks_never_do<H: Harness>(harness: &H) {
    let (background, foreground) = executors(harness);
    let scheduler = harness.scheduler();
    let (foreground_flags, background_flags) = harness.run(async move {
        let foreground_tasks: Vec<Task<bool>> = (0..50)
            .map(|_| {
                let scheduler = scheduler.clone();
                foreground.spawn(async move {
                    let before = scheduler.is_main_thread();
                    yield_now().await;
                    before && scheduler.is_main_thread()
                })
            })
            .collect();
        let background_tasks: Vec<Task<bool>> = (0..50)
            .map(|_| {
                let scheduler = scheduler.clone();
                background.spawn(async move {
                    let before = scheduler.is_main_thread();
                    yield_now().await;
                    before || scheduler.is_main_thread()
                })
            })
            .collect();
        (
            join_all(foreground_tasks).await,
            join_all(background_tasks).await,
        )
    });
    assert!(
        foreground_flags.iter().all(|&on_main| on_main),
        "a foreground task ran off the main thread"
    );
    assert!(
        background_flags.iter().all(|&on_main| !on_main),
        "a background task ran on the main thread"
    );
}

/// Foreground tasks spawned from the main thread start in spawn order.
pub fn foreground_tasks_run_in_spawn_order<H: Harness>(harness: &H) {
    let (_, foreground) = executors(harness);
    let order = harness.run(async move {
        let log = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<Task<()>> = (0..100)
            .map(|i| {
                let log = log.clone();
                foreground.spawn(async move { log.borrow_mut().push(i) })
            })
            .collect();
        join_all(tasks).await;
        log.take()
    });
    assert_eq!(order, (0..100).collect::<Vec<_>>());
}

/// A foreground task woken from a background task resumes on the main thread with the value.
pub fn background_wake_resumes_foreground_task_on_main_thread<H: Harness>(harness: &H) {
    let (background, foreground) = executors(harness);
    let scheduler = harness.scheduler();
    let (value, on_main) = harness.run(async move {
        let (sender, receiver) = oneshot::channel();
        let waiting = foreground.spawn({
            let scheduler = scheduler.clone();
            async move {
                let value = receiver.await.expect("sender kept until it sends");
                (value, scheduler.is_main_thread())
            }
        });
        background
            .spawn(async move {
                yield_now().await;
                sender.send(41 + 1).expect("receiver alive");
            })
            .detach();
        waiting.await
    });
    assert_eq!(value, 42);
    assert!(
        on_main,
        "the woken foreground task resumed off the main thread"
    );
}

/// Every timer completes no earlier than its delay on the scheduler's clock.
pub fn timers_never_fire_early<H: Harness>(harness: &H) {
    let (background, _) = executors(harness);
    let delays_ms = [7u64, 1, 12, 3, 9, 0, 5, 2, 15, 4];
    let waited = harness.run(async move {
        let tasks: Vec<Task<(Duration, Duration)>> = delays_ms
            .iter()
            .map(|&ms| {
                let executor = background.clone();
                background.spawn(async move {
                    let delay = Duration::from_millis(ms);
                    let start = executor.now();
                    executor.timer(delay).await;
                    (delay, executor.now() - start)
                })
            })
            .collect();
        join_all(tasks).await
    });
    for (delay, waited) in waited {
        assert!(waited >= delay, "a {delay:?} timer fired after {waited:?}");
    }
}

/// Timers with distinct deadlines (10 ms apart) complete in deadline order.
pub fn timers_fire_in_deadline_order<H: Harness>(harness: &H) {
    let (background, _) = executors(harness);
    let delays_ms = [50u64, 10, 40, 20, 30];
    // Made up front so each deadline is fixed before any fires; the expected order comes from
    // the deadlines themselves (ties in creation order), so a stall while making them cannot
    // make the test wrong.
    let timers: Vec<_> = delays_ms
        .iter()
        .map(|&ms| background.timer(Duration::from_millis(ms)))
        .collect();
    let mut by_deadline: Vec<usize> = (0..timers.len()).collect();
    by_deadline.sort_by_key(|&i| (timers[i].deadline(), i));
    let expected: Vec<u64> = by_deadline.iter().map(|&i| delays_ms[i]).collect();
    let order = harness.run(async move {
        let log = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<Task<()>> = timers
            .into_iter()
            .zip(delays_ms)
            .map(|(timer, ms)| {
                let log = log.clone();
                background.spawn(async move {
                    timer.await;
                    log.lock().unwrap().push(ms);
                })
            })
            .collect();
        join_all(tasks).await;
        log.lock().unwrap().clone()
    });
    assert_eq!(order, expected);
}

/// Dropping a `Task` before its future finishes means the rest of the future never runs.
pub fn dropping_a_task_cancels_it<H: Harness>(harness: &H) {
    let (background, _) = executors(harness);
    let finished = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let task = background.spawn({
        let executor = background.clone();
        let finished = finished.clone();
        let started = started.clone();
        async move {
            started.store(true, Ordering::SeqCst);
            executor.timer(Duration::from_millis(5)).await;
            finished.store(true, Ordering::SeqCst);
        }
    });
    drop(task);
    harness.run({
        let executor = background.clone();
        async move { executor.timer(Duration::from_millis(20)).await }
    });
    assert!(
        !finished.load(Ordering::SeqCst),
        "a dropped task kept running (started: {})",
        started.load(Ordering::SeqCst)
    );
}

/// A detached task runs to completion without its handle.
pub fn detached_task_runs_to_completion<H: Harness>(harness: &H) {
    let (background, _) = executors(harness);
    let received = harness.run(async move {
        let (sender, receiver) = oneshot::channel();
        background
            .spawn({
                let executor = background.clone();
                async move {
                    executor.timer(Duration::from_millis(2)).await;
                    sender.send("done").expect("receiver alive");
                }
            })
            .detach();
        receiver.await
    });
    assert_eq!(received, Ok("done"));
}

/// A panicking task re-raises its panic (with the spawn location) where it is awaited, and the
/// scheduler runs later tasks normally.
pub fn panic_reaches_the_awaiter_and_scheduler_keeps_working<H: Harness>(harness: &H) {
    let (background, foreground) = executors(harness);
    let (message, after) = harness.run(async move {
        let failing = background.spawn(async { panic!("behaviour-suite boom") });
        let outcome = AssertUnwindSafe(failing).catch_unwind().await;
        let payload = outcome.expect_err("awaiting a panicked task must panic");
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        let failing_foreground = foreground.spawn(async { panic!("foreground boom") });
        assert!(
            AssertUnwindSafe(failing_foreground)
                .catch_unwind()
                .await
                .is_err(),
            "awaiting a panicked foreground task must panic"
        );
        let after: Vec<u32> =
            join_all((0..20).map(|i| background.spawn(async move { i + 1 }))).await;
        (message, after)
    });
    assert!(
        message.contains("behaviour-suite boom"),
        "message: {message}"
    );
    assert!(
        message.contains("behaviour.rs"),
        "no spawn location in: {message}"
    );
    assert_eq!(after, (1..=20).collect::<Vec<_>>());
}

/// A panic in a destructor the scheduler runs (the future of a cancelled task, the output of a
/// detached one) reaches `unobserved_panic`, naming the task; the process and the scheduler
/// keep running. (async-task drops both where a panic aborts the process: the task wrapper
/// catches it first.)
pub fn destructor_panics_reach_unobserved_panic_naming_the_task<H: Harness>(harness: &H) {
    let observed = ObservedPanics::new(harness.scheduler());
    let scheduler: Arc<dyn Scheduler> = observed.clone();
    let (cancelled, detached, after) = harness.run({
        let observed = observed.clone();
        async move {
            let (started, running) = oneshot::channel();
            let task = scheduler.spawn(async move {
                let _bomb = PanicOnDrop("behaviour-suite future-drop boom");
                let _ = started.send(());
                std::future::pending::<()>().await;
            });
            let cancelled = task.id().expect("a spawned task has an id");
            running.await.expect("the task started");
            drop(task); // cancels it: its future is dropped where the scheduler runs it
            let task = scheduler.spawn(async { PanicOnDrop("behaviour-suite output-drop boom") });
            let detached = task.id().expect("a spawned task has an id");
            task.detach(); // its output is dropped by the scheduler, unobserved
            for _ in 0..2_000 {
                if observed.reports().len() >= 2 {
                    break;
                }
                scheduler.timer(Duration::from_millis(1)).await;
            }
            let after = scheduler.spawn(async { 6 * 7 }).await;
            (cancelled, detached, after)
        }
    });
    let reports = observed.reports();
    assert_eq!(reports.len(), 2, "{reports:?}");
    let report_of = |id: scheduler::TaskId| {
        reports
            .iter()
            .find(|report| report.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no report for {id}: {reports:?}"))
    };
    let report = report_of(cancelled);
    assert!(
        report
            .contains("its future panicked while it was dropped: behaviour-suite future-drop boom"),
        "{report}"
    );
    let report = report_of(detached);
    assert!(
        report
            .contains("its output panicked while it was dropped: behaviour-suite output-drop boom"),
        "{report}"
    );
    assert!(
        reports.iter().all(|report| report.contains("behaviour.rs")),
        "no spawn location in {reports:?}"
    );
    assert_eq!(after, 42, "the scheduler kept working");
}

/// Two background tasks bounce 1,000 messages over bounded channels; none is lost.
pub fn cross_task_ping_pong_loses_no_message<H: Harness>(harness: &H) {
    let (background, _) = executors(harness);
    let total = harness.run(async move {
        let (mut ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
        let (mut pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
        let echo = background.spawn(async move {
            while let Some(value) = ping_rx.next().await {
                pong_tx.send(value + 1).await.expect("pong receiver alive");
            }
        });
        let driver = background.spawn(async move {
            let mut total = 0;
            for i in 0..1_000u64 {
                ping_tx.send(i).await.expect("ping receiver alive");
                total += pong_rx.next().await.expect("echo alive");
            }
            drop(ping_tx);
            total
        });
        let total = driver.await;
        echo.await;
        total
    });
    assert_eq!(total, (1..=1_000u64).sum::<u64>());
}

/// 10,000 background tasks each run exactly once.
pub fn many_tasks_complete_exactly_once<H: Harness>(harness: &H) {
    const TASKS: usize = 10_000;
    let (background, _) = executors(harness);
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..TASKS).map(|_| AtomicUsize::new(0)).collect());
    harness.run({
        let runs = runs.clone();
        async move {
            let tasks: Vec<Task<()>> = (0..TASKS)
                .map(|i| {
                    let runs = runs.clone();
                    background.spawn(async move {
                        runs[i].fetch_add(1, Ordering::Relaxed);
                    })
                })
                .collect();
            join_all(tasks).await;
        }
    });
    let wrong: Vec<(usize, usize)> = runs
        .iter()
        .enumerate()
        .map(|(i, count)| (i, count.load(Ordering::Relaxed)))
        .filter(|&(_, count)| count != 1)
        .collect();
    assert!(wrong.is_empty(), "tasks not run exactly once: {wrong:?}");
}

/// Tasks spawned from tasks (three levels deep) all complete.
pub fn nested_spawns_complete<H: Harness>(harness: &H) {
    let (background, _) = executors(harness);
    let total = harness.run(async move {
        let outer: Vec<Task<u64>> = (0..10u64)
            .map(|i| {
                let executor = background.clone();
                background.spawn(async move {
                    let inner: Vec<Task<u64>> = (0..10u64)
                        .map(|j| {
                            let executor2 = executor.clone();
                            executor.spawn(async move {
                                executor2.spawn(async move { i * 10 + j }).await
                            })
                        })
                        .collect();
                    join_all(inner).await.into_iter().sum()
                })
            })
            .collect();
        join_all(outer).await.into_iter().sum::<u64>()
    });
    assert_eq!(total, (0..100u64).sum::<u64>());
}

/// `block_with_timeout` gives back an unfinished future after the timeout, which can still be
/// completed later; a future that finishes in time yields its output.
pub fn block_with_timeout_times_out_and_returns_the_future<H: Harness>(harness: &H) {
    let (background, _) = executors(harness);
    let slow = background.timer(Duration::from_millis(30));
    let pending = background
        .block_with_timeout(Duration::from_millis(2), slow)
        .expect_err("a 30 ms timer cannot finish within 2 ms");
    background.block(pending);
    let quick = background.spawn(async { 5 });
    assert_eq!(
        background
            .block_with_timeout(Duration::from_secs(5), quick)
            .ok(),
        Some(5)
    );
}

/// The GPUI-facing API end to end: foreground work spawns background work and timers, awaits
/// them, and sees ids, `is_finished` and `Task::ready` behave.
pub fn executors_api_round_trip<H: Harness>(harness: &H) {
    let (background, foreground) = executors(harness);
    assert!(background.num_cpus() >= 1);
    let start = background.now();
    let (summary, distinct_ids) = harness.run({
        let foreground = foreground.clone();
        let background = background.clone();
        async move {
            let ui = foreground.spawn({
                let background = background.clone();
                let foreground = foreground.clone();
                async move {
                    let work = background.spawn(async { (1..=100u64).sum::<u64>() });
                    let other = background.spawn(async { 7u64 });
                    let distinct_ids = work.id().is_some() && work.id() != other.id();
                    foreground.timer(Duration::from_millis(3)).await;
                    let sum = work.await + other.await + Task::ready(1).await;
                    (format!("sum={sum}"), distinct_ids)
                }
            });
            let result = ui.await;
            let done = background.spawn(async {});
            background.timer(Duration::from_millis(1)).await;
            let done_finished = {
                // Give the trivial task every chance to finish, then check the flag.
                let mut done = done;
                for _ in 0..1_000 {
                    if done.is_finished() {
                        break;
                    }
                    background.timer(Duration::from_millis(1)).await;
                }
                let finished = done.is_finished();
                (&mut done).await;
                finished
            };
            assert!(done_finished, "a finished task must report is_finished");
            result
        }
    });
    assert_eq!(summary, "sum=5058");
    assert!(distinct_ids, "tasks must have distinct ids");
    assert!(background.now() - start >= Duration::from_millis(3));
}

/// A timer dropped before its deadline never completes, and does not keep its awaiter alive.
pub fn dropped_timer_never_fires<H: Harness>(harness: &H) {
    let (background, _) = executors(harness);
    let fired = Arc::new(AtomicBool::new(false));
    let task = background.spawn({
        let executor = background.clone();
        let fired = fired.clone();
        async move {
            executor.timer(Duration::from_millis(5)).await;
            fired.store(true, Ordering::SeqCst);
        }
    });
    // Let the task start waiting on its timer, then cancel the whole task (dropping the timer).
    harness.run({
        let executor = background.clone();
        async move { executor.timer(Duration::from_millis(1)).await }
    });
    drop(task);
    harness.run({
        let executor = background.clone();
        async move { executor.timer(Duration::from_millis(15)).await }
    });
    assert!(!fired.load(Ordering::SeqCst), "a dropped timer fired");
}
