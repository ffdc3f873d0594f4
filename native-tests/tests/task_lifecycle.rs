//! Task semantics on the TestScheduler: cancellation on drop, detach, panics, blocking with a
//! time-out, deadlock and non-determinism reports, teardown without leaks, scale.

use futures::channel::oneshot;
use native_tests::support::{PanicOnDrop, panic_text, yield_now};
use scheduler::{Scheduler, Task, TaskKind, TestScheduler, run_seeds};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

fn test_scheduler(seed: u64) -> (Arc<TestScheduler>, Arc<dyn Scheduler>) {
    let test = TestScheduler::with_seed(seed);
    let scheduler: Arc<dyn Scheduler> = test.clone();
    (test, scheduler)
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn dropping_a_task_cancels_it_runs_its_destructor_and_skips_the_rest() {
    run_seeds(|seed| {
        let (test, scheduler) = test_scheduler(seed);
        let destructor_ran = Arc::new(AtomicBool::new(false));
        let after_await = Arc::new(AtomicBool::new(false));
        let (sender, receiver) = oneshot::channel::<()>();
        let task = scheduler.spawn({
            let guard = DropFlag(destructor_ran.clone());
            let after_await = after_await.clone();
            async move {
                let _guard = guard;
                let _ = receiver.await;
                after_await.store(true, Ordering::SeqCst);
            }
        });
        let id = task.id().unwrap();
        test.run_until_parked(); // now suspended at the await
        assert!(test.is_task_running(id));
        drop(task);
        test.run_until_parked();
        assert!(
            destructor_ran.load(Ordering::SeqCst),
            "the future's destructor ran"
        );
        assert!(
            !test.is_task_running(id),
            "a cancelled task is no longer running"
        );
        let _ = sender.send(()); // waking it now must not resume it
        test.run_until_parked();
        assert!(
            !after_await.load(Ordering::SeqCst),
            "code after the await never ran"
        );
    });
}

#[test]
fn dropping_a_task_before_its_first_poll_never_polls_it() {
    let (test, scheduler) = test_scheduler(0);
    let polled = Arc::new(AtomicBool::new(false));
    let task = scheduler.spawn({
        let polled = polled.clone();
        async move { polled.store(true, Ordering::SeqCst) }
    });
    drop(task);
    test.run_until_parked();
    assert!(!polled.load(Ordering::SeqCst));
    assert!(test.live_tasks().is_empty());
}

#[test]
fn a_detached_task_runs_to_completion() {
    run_seeds(|seed| {
        let (test, scheduler) = test_scheduler(seed);
        let done = Arc::new(AtomicBool::new(false));
        let inner = scheduler.clone();
        scheduler
            .spawn({
                let done = done.clone();
                async move {
                    inner.timer(Duration::from_secs(3)).await;
                    let child = inner.spawn(async { 21 * 2 });
                    assert_eq!(child.await, 42);
                    done.store(true, Ordering::SeqCst);
                }
            })
            .detach();
        test.run_until_parked();
        assert!(!done.load(Ordering::SeqCst), "still waiting for its timer");
        test.advance_clock(Duration::from_secs(3));
        assert!(done.load(Ordering::SeqCst));
        assert!(test.live_tasks().is_empty());
    });
}

#[test]
fn a_panic_is_reraised_where_the_task_is_awaited_with_its_spawn_location() {
    let (test, scheduler) = test_scheduler(5);
    let spawn_line = line!() + 1;
    let task = scheduler.spawn(async { panic!("boom in task") });
    let id = task.id().unwrap();
    let awaited = catch_unwind(AssertUnwindSafe(|| scheduler.block(task)));
    let message = panic_text(&*awaited.expect_err("awaiting a panicked task panics"));
    assert!(message.contains("boom in task"), "{message}");
    assert!(
        message.contains(&format!("{}:{spawn_line}:", file!())),
        "message names the spawn location: {message}"
    );
    assert!(
        message.contains(&id.to_string()),
        "message names the task: {message}"
    );
    assert!(!test.is_task_running(id));

    // The scheduler keeps working: more tasks, including ones spawned before the panic ran.
    let tasks: Vec<Task<u32>> = (0..10).map(|i| scheduler.spawn(async move { i })).collect();
    assert_eq!(
        scheduler.block(futures::future::join_all(tasks)),
        (0..10).collect::<Vec<_>>()
    );
}

/// A panic nobody awaits is never swallowed: the TestScheduler fails the test at its next tick,
/// naming the task and where it was spawned; the other tasks are not disturbed.
#[test]
fn a_detached_panicking_task_fails_the_test_naming_it_and_disturbs_no_other() {
    run_seeds(|seed| {
        let (test, scheduler) = test_scheduler(seed);
        let doomed = scheduler.spawn(async { panic!("detached boom") });
        let id = doomed.id().unwrap();
        doomed.detach();
        let survivor = scheduler.spawn(async { "alive" });
        let report = catch_unwind(AssertUnwindSafe(|| test.run_until_parked()))
            .expect_err("the unobserved panic fails the test");
        let message = panic_text(&*report);
        assert!(
            message.contains(&format!("{id} spawned at {}", file!())),
            "{message}"
        );
        assert!(
            message.contains("panicked and nobody awaited it: detached boom"),
            "{message}"
        );
        assert_eq!(scheduler.block(survivor), "alive");
        test.run_until_parked();
        assert!(test.live_tasks().is_empty());
    });
}

/// A cancelled task whose future panics in its destructor: async-task drops the future where a
/// panic aborts the process (issue 20, defect 1). The wrapper catches it; the test fails with
/// one report naming the task, and the scheduler carries on.
#[test]
fn a_cancelled_task_whose_future_panics_when_dropped_fails_the_test_naming_it() {
    run_seeds(|seed| {
        let (test, scheduler) = test_scheduler(seed);
        let (_sender, receiver) = oneshot::channel::<()>();
        let task = scheduler.spawn(async move {
            let _bomb = PanicOnDrop("future-drop boom");
            let _ = receiver.await;
        });
        let id = task.id().unwrap();
        test.run_until_parked();
        drop(task);
        let report = catch_unwind(AssertUnwindSafe(|| test.run_until_parked()))
            .expect_err("the destructor's panic fails the test");
        let message = panic_text(&*report);
        assert!(
            message.contains(&format!("{id} spawned at {}", file!())),
            "{message}"
        );
        assert!(
            message.contains("its future panicked while it was dropped: future-drop boom"),
            "{message}"
        );
        assert!(!test.is_task_running(id));
        assert_eq!(scheduler.block(scheduler.spawn(async { 7 })), 7);
    });
}

/// A detached task whose output panics in its destructor: async-task drops that output where a
/// panic aborts the process (issue 20, defect 1); it fails the test naming the task instead.
#[test]
fn a_detached_task_whose_output_panics_when_dropped_fails_the_test_naming_it() {
    run_seeds(|seed| {
        let (test, scheduler) = test_scheduler(seed);
        let task = scheduler.spawn(async { PanicOnDrop("output-drop boom") });
        let id = task.id().unwrap();
        task.detach();
        let survivor = scheduler.spawn(async { "alive" });
        let report = catch_unwind(AssertUnwindSafe(|| test.run_until_parked()))
            .expect_err("the destructor's panic fails the test");
        let message = panic_text(&*report);
        assert!(
            message.contains(&format!("{id} spawned at {}", file!())),
            "{message}"
        );
        assert!(
            message.contains("its output panicked while it was dropped: output-drop boom"),
            "{message}"
        );
        assert_eq!(scheduler.block(survivor), "alive");
    });
}

/// The output of a finished task whose handle is dropped is dropped by that `drop`, in the
/// caller's code: a panic there reaches the caller, as any destructor's panic does (it is not an
/// unobserved panic, and it never reaches async-task's abort).
#[test]
fn dropping_the_handle_of_a_finished_task_whose_output_panics_panics_at_the_drop() {
    let (test, scheduler) = test_scheduler(1);
    let task = scheduler.spawn(async { PanicOnDrop("handle-drop boom") });
    test.run_until_parked();
    assert!(task.is_finished());
    let outcome = catch_unwind(AssertUnwindSafe(|| drop(task)));
    assert_eq!(panic_text(&*outcome.unwrap_err()), "handle-drop boom");
    // Nothing was reported as unobserved: the next tick does not fail.
    assert!(!test.tick());
    let finished = scheduler.spawn(async { PanicOnDrop("detach boom") });
    test.run_until_parked();
    let outcome = catch_unwind(AssertUnwindSafe(|| finished.detach()));
    assert_eq!(panic_text(&*outcome.unwrap_err()), "detach boom");
    assert!(!test.tick());
}

/// Every backend sends a panic nobody awaited (a detached task, or a `Task` dropped without
/// being awaited) through the one hook, `Scheduler::unobserved_panic`, exactly once; an awaited
/// panic is re-raised at the awaiter instead and never reported there.
#[test]
fn unobserved_panics_reach_the_hook_once_and_awaited_ones_never_do() {
    struct Reporting {
        inner: Arc<TestScheduler>,
        reports: Mutex<Vec<String>>,
    }
    impl Scheduler for Reporting {
        fn schedule(&self, runnable: scheduler::Runnable) {
            self.inner.schedule(runnable)
        }
        fn schedule_after(&self, delay: Duration, runnable: scheduler::Runnable) {
            self.inner.schedule_after(delay, runnable)
        }
        fn park(&self, timeout: Option<Duration>) -> bool {
            self.inner.park(timeout)
        }
        fn unparker(&self) -> scheduler::Unparker {
            self.inner.unparker()
        }
        fn is_main_thread(&self) -> bool {
            self.inner.is_main_thread()
        }
        fn now(&self) -> scheduler::Instant {
            self.inner.now()
        }
        fn unobserved_panic(&self, task: &scheduler::TaskMetadata, message: &str) {
            self.reports
                .lock()
                .unwrap()
                .push(format!("{task}: {message}"));
        }
    }
    let reporting = Arc::new(Reporting {
        inner: TestScheduler::with_seed(5),
        reports: Mutex::new(Vec::new()),
    });
    let scheduler: Arc<dyn Scheduler> = reporting.clone();
    scheduler.spawn(async { panic!("detached") }).detach();
    let dropped = scheduler.spawn(async { panic!("dropped unawaited") });
    let awaited = scheduler.spawn(async { panic!("awaited") });
    // Everything ready runs before the timer fires (virtual time).
    scheduler.block(scheduler.timer(Duration::from_millis(1)));
    assert!(dropped.is_finished());
    drop(dropped);
    let outcome = catch_unwind(AssertUnwindSafe(|| scheduler.block(awaited)));
    assert!(panic_text(&*outcome.unwrap_err()).contains("awaited"));
    let mut reports = reporting.reports.lock().unwrap().clone();
    reports.sort();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports[0].ends_with(": detached"), "{reports:?}");
    assert!(reports[1].ends_with(": dropped unawaited"), "{reports:?}");
    assert!(
        reports.iter().all(|report| report.contains(file!())),
        "{reports:?}"
    );
}

#[test]
fn block_with_timeout_returns_the_pending_future_which_later_completes() {
    run_seeds(|seed| {
        let (test, scheduler) = test_scheduler(seed);
        let inner = scheduler.clone();
        let task = scheduler.spawn(async move {
            inner.timer(Duration::from_secs(5)).await;
            "late"
        });
        let pending = scheduler
            .block_with_timeout(Duration::from_secs(1), task)
            .expect_err("a 5 s timer cannot finish within 1 s");
        assert_eq!(
            test.elapsed(),
            Duration::from_secs(1),
            "timed out at the deadline"
        );
        assert_eq!(
            scheduler.block(pending),
            "late",
            "the returned future still completes"
        );
        assert_eq!(test.elapsed(), Duration::from_secs(5));
    });
}

#[test]
fn block_with_timeout_gives_up_after_the_drawn_tick_budget() {
    let (test, scheduler) = test_scheduler(1);
    test.set_block_tick_range(3..=3);
    let busy = scheduler.spawn(async {
        for _ in 0..50 {
            yield_now().await;
        }
        "done"
    });
    let pending = scheduler
        .block_with_timeout(Duration::from_secs(1), busy)
        .expect_err("3 ticks cannot finish 50 yields");
    assert_eq!(
        test.elapsed(),
        Duration::ZERO,
        "the tick budget ran out before any time passed"
    );
    test.set_block_tick_range(1000..=1000);
    assert_eq!(
        scheduler
            .block_with_timeout(Duration::from_secs(1), pending)
            .ok(),
        Some("done")
    );
}

#[test]
fn dropping_the_scheduler_with_a_stalled_detached_task_frees_everything() {
    let (test, scheduler) = test_scheduler(2);
    let weak_scheduler = Arc::downgrade(&test);
    let future_dropped = Arc::new(AtomicBool::new(false));
    let (sender, receiver) = oneshot::channel::<()>();
    // Stalled on a timer an hour away (the scheduler holds the timer, the timer holds the
    // task's waker) and on a channel nobody will send on.
    let timer = scheduler.timer(Duration::from_secs(3600));
    scheduler
        .spawn({
            let guard = DropFlag(future_dropped.clone());
            async move {
                let _guard = guard;
                timer.await;
                let _ = receiver.await;
            }
        })
        .detach();
    // And one that never got to run at all.
    let never_polled = Arc::new(AtomicBool::new(false));
    scheduler
        .spawn({
            let guard = DropFlag(never_polled.clone());
            async move {
                let _guard = guard;
            }
        })
        .detach();
    test.tick(); // runs one of the two
    drop(scheduler);
    drop(test);
    assert!(
        weak_scheduler.upgrade().is_none(),
        "no Arc cycle keeps the scheduler alive"
    );
    assert!(
        future_dropped.load(Ordering::SeqCst),
        "the stalled task's future was dropped"
    );
    assert!(
        never_polled.load(Ordering::SeqCst),
        "the queued task's future was dropped"
    );
    drop(sender);
}

#[test]
fn a_task_cancelled_by_scheduler_shutdown_yields_none_when_fallible() {
    let (test, scheduler) = test_scheduler(0);
    let task = scheduler.spawn(async { 1 });
    let metadata = *task.metadata().unwrap();
    assert_eq!(metadata.kind(), TaskKind::Background);
    drop(scheduler);
    drop(test); // drops the queued runnable: the task is cancelled
    assert_eq!(futures::executor::block_on(task.fallible()), None);

    let (test, scheduler) = test_scheduler(0);
    let task = scheduler.spawn(async { 1 });
    drop((scheduler, test));
    let awaited = catch_unwind(AssertUnwindSafe(|| futures::executor::block_on(task)));
    let message = panic_text(&*awaited.unwrap_err());
    assert!(
        message.contains("was cancelled before it finished"),
        "{message}"
    );
    assert!(
        message.contains(file!()),
        "names the spawn location: {message}"
    );
}

#[test]
fn task_ready_and_introspection() {
    let (test, scheduler) = test_scheduler(0);
    let ready = Task::ready(5);
    assert!(ready.is_finished());
    assert_eq!(ready.id(), None);
    assert_eq!(scheduler.block(ready), 5);

    let task = scheduler.spawn(async { 6 });
    assert!(!task.is_finished());
    test.run_until_parked();
    assert!(task.is_finished());
    assert_eq!(scheduler.block(task), 6);
}

#[test]
fn deadlock_panics_naming_every_pending_task_and_its_spawn_location() {
    let (_test, scheduler) = test_scheduler(4);
    let (_sender, receiver) = oneshot::channel::<u32>();
    let spawn_line = line!() + 1;
    let stuck = scheduler.spawn(async move { receiver.await.unwrap_or(0) });
    let id = stuck.id().unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| scheduler.block(stuck)));
    let message =
        panic_text(&*outcome.expect_err("blocking on a task that can never wake deadlocks"));
    assert!(message.contains("deadlocked"), "{message}");
    assert!(message.contains("seed 4"), "{message}");
    assert!(message.contains(&id.to_string()), "{message}");
    assert!(
        message.contains(&format!("{}:{spawn_line}:", file!())),
        "names the spawn location: {message}"
    );
    assert!(
        message.contains("allow_parking"),
        "suggests the way out: {message}"
    );
}

#[test]
fn a_wake_from_another_thread_is_reported_as_non_determinism() {
    let (test, scheduler) = test_scheduler(0);
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let spawn_line = line!() + 1;
    let task = scheduler.spawn({
        let slot = slot.clone();
        let mut woken = false;
        std::future::poll_fn(move |cx| {
            if woken {
                return Poll::Ready(());
            }
            woken = true;
            *slot.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        })
    });
    test.run_until_parked();
    let waker = slot.lock().unwrap().take().unwrap();
    std::thread::Builder::new()
        .name("intruder".into())
        .spawn(move || waker.wake())
        .unwrap()
        .join()
        .unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| test.tick()));
    let message = panic_text(&*outcome.expect_err("the next tick reports the foreign wake"));
    assert!(message.contains("non-determinism"), "{message}");
    assert!(
        message.contains("intruder"),
        "names the waking thread: {message}"
    );
    assert!(
        message.contains(&format!("{}:{spawn_line}:", file!())),
        "{message}"
    );
    // Reported once; with parking allowed the same wake is accepted.
    test.run_until_parked();
    drop(task);
}

#[test]
fn with_parking_allowed_a_real_thread_can_complete_a_blocked_future() {
    let (test, scheduler) = test_scheduler(0);
    test.allow_parking();
    let (sender, receiver) = oneshot::channel();
    let worker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        sender.send(7).unwrap();
    });
    assert_eq!(scheduler.block(receiver), Ok(7));
    worker.join().unwrap();
}

#[test]
fn a_million_tasks_run_to_completion() {
    let count = if cfg!(miri) { 1_000 } else { 1_000_000 };
    let (test, scheduler) = test_scheduler(42);
    let completed = Arc::new(AtomicUsize::new(0));
    for _ in 0..count {
        let completed = completed.clone();
        scheduler
            .spawn(async move {
                completed.fetch_add(1, Ordering::Relaxed);
            })
            .detach();
    }
    assert_eq!(test.ready_count(), count);
    test.run_until_parked();
    assert_eq!(completed.load(Ordering::Relaxed), count);
    assert!(test.live_tasks().is_empty());
}

#[test]
fn a_dropped_timer_is_forgotten() {
    let (test, scheduler) = test_scheduler(0);
    let timer = scheduler.timer(Duration::from_secs(10));
    let kept = scheduler.timer(Duration::from_secs(20));
    assert_eq!(test.pending_timer_count(), 2);
    drop(timer);
    assert_eq!(test.pending_timer_count(), 1);
    scheduler.block(kept);
    assert_eq!(
        test.elapsed(),
        Duration::from_secs(20),
        "the dropped timer did not fire"
    );
}

#[test]
fn is_main_thread_is_true_for_foreground_tasks_only() {
    let (test, scheduler) = test_scheduler(0);
    assert!(scheduler.is_main_thread());
    let probe = scheduler.clone();
    let background = scheduler.spawn(async move { probe.is_main_thread() });
    let probe = scheduler.clone();
    let foreground = scheduler.spawn_foreground(async move { probe.is_main_thread() });
    assert!(!scheduler.block(background));
    assert!(scheduler.block(foreground));
    test.run_until_parked();
}

#[test]
fn a_foreign_wake_with_no_later_tick_is_reported_when_the_scheduler_is_dropped() {
    let (test, scheduler) = test_scheduler(0);
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    scheduler
        .spawn({
            let slot = slot.clone();
            std::future::poll_fn(move |cx| {
                *slot.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            })
        })
        .detach();
    test.run_until_parked();
    let waker = slot.lock().unwrap().take().unwrap();
    std::thread::spawn(move || waker.wake()).join().unwrap();
    drop(scheduler);
    let outcome = catch_unwind(AssertUnwindSafe(move || drop(test)));
    let message =
        panic_text(&*outcome.expect_err("the unreported foreign wake surfaces at the end"));
    assert!(message.contains("non-determinism"), "{message}");
}
