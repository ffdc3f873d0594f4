//! The fault suite: every misuse a user can write, and every defect found under adversarial use,
//! asserted by its clear panic or error text. A case that used to abort or hang runs in a child
//! process (`native_tests::child`), so an abort or a hang is a red test, not a dead run.
//!
//! Each test names the defect of issue 10 it pins down ("defect N").

use futures::FutureExt as _;
use futures::channel::oneshot;
use native_tests::child;
use native_tests::support::{panic_text, yield_now};
use scheduler::cloud::{ExecutionContext, SimulatedExecutionContext};
use scheduler::{Scheduler, TestScheduler, session};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Defect 1 (TestScheduler): `spawn_foreground` off the main thread used to be accepted, and
/// the task's first poll on the test thread aborted the process. Now the spawn itself panics,
/// naming the call site: from another OS thread (even with parking allowed), and from a
/// background task on the test thread.
#[test]
fn spawn_foreground_off_the_main_thread_panics_at_the_call_on_the_test_scheduler() {
    let Some(outcome) = child::run(
        "spawn_foreground_off_the_main_thread_panics_at_the_call_on_the_test_scheduler",
        LIMIT,
        || {
            let test = TestScheduler::with_seed(1);
            test.allow_parking();
            let scheduler = test.as_dyn();
            let line = line!() + 3;
            let from_thread = std::thread::spawn(move || {
                catch_unwind(AssertUnwindSafe(|| {
                    scheduler.spawn_foreground(async {}).detach()
                }))
            })
            .join()
            .unwrap();
            let message = panic_text(&*from_thread.expect_err("refused at the spawn"));
            assert!(message.contains("off the main thread"), "{message}");
            assert!(
                message.contains(&format!("{}:{line}", file!())),
                "{message}"
            );
            test.run_until_parked(); // used to abort here
            let scheduler = test.as_dyn();
            let from_background = test.spawn(async move {
                catch_unwind(AssertUnwindSafe(|| {
                    scheduler.spawn_foreground(async {}).detach()
                }))
                .is_err()
            });
            assert!(
                test.block(from_background),
                "refused in a background task too"
            );
        },
    ) else {
        return;
    };
    outcome.assert_succeeded();
}

/// Defect 5: a wake that arrives after the TestScheduler is dropped used to queue the runnable
/// where nobody runs it, so its future (and the channel sender it holds) was never dropped.
#[test]
fn a_wake_after_the_test_scheduler_is_dropped_drops_the_task() {
    let test = TestScheduler::with_seed(2);
    let (wake, woken) = oneshot::channel::<()>();
    let (probe, mut probe_closed) = oneshot::channel::<()>();
    test.spawn(async move {
        let _probe = probe;
        let _ = woken.await;
    })
    .detach();
    test.run_until_parked();
    drop(test);
    assert_eq!(
        probe_closed.try_recv(),
        Ok(None),
        "still alive before the wake"
    );
    wake.send(()).unwrap();
    assert!(
        probe_closed.try_recv().is_err(),
        "the woken task's future was dropped, dropping its sender"
    );
}

/// Defect 7 (TestScheduler): `Duration::MAX` used to panic with "overflow when adding duration
/// to instant" in `timer`, `advance_clock` and `block_with_timeout`.
#[test]
fn duration_max_never_overflows_on_the_test_scheduler() {
    let test = TestScheduler::with_seed(3);
    let forever = test.timer(Duration::MAX);
    assert!(forever.deadline() > test.now());
    let never = test.timer(Duration::MAX);
    assert_eq!(
        test.as_dyn()
            .block_with_timeout(Duration::MAX, async { 7 })
            .ok(),
        Some(7)
    );
    test.advance_clock(Duration::MAX);
    assert!(forever.now_or_never().is_some(), "every timer fired");
    drop(never);
}

/// Defect 8: a task's destructor used to run outside the task's session, so a task it spawned
/// belonged to no session and `validate_session_cleanup` never reported it.
#[test]
fn a_task_destructor_runs_in_its_session_and_what_it_spawns_is_reported() {
    struct SpawnOnDrop(Arc<dyn Scheduler>, Arc<AtomicBool>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            self.1.store(session::current().is_some(), Ordering::SeqCst);
            let scheduler = self.0.clone();
            scheduler
                .spawn(async move {
                    std::future::pending::<()>().await;
                })
                .detach();
        }
    }
    let test = TestScheduler::with_seed(4);
    let ctx = SimulatedExecutionContext::new(test.as_dyn());
    let in_session = Arc::new(AtomicBool::new(false));
    let request = {
        let (scheduler, in_session) = (test.as_dyn(), in_session.clone());
        ctx.serve(async move {
            let guard = SpawnOnDrop(scheduler.clone(), in_session);
            let task = scheduler.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
            yield_now().await;
            drop(task); // cancelled: its future (and the guard) is dropped
        })
    };
    let session = request.session();
    ctx.block(request).unwrap();
    ctx.wait_on_execution_context(session);
    assert!(
        in_session.load(Ordering::SeqCst),
        "the destructor saw its session"
    );
    let leak = ctx
        .validate_session_cleanup(session)
        .unwrap_err()
        .to_string();
    assert!(leak.contains(&format!("({session})")), "{leak}");
}

/// Defect 9: `is_main_thread()` used to become `true` inside a background task after a nested
/// `block` (the flag was reset instead of restored).
#[test]
fn is_main_thread_stays_false_in_a_background_task_after_a_nested_block() {
    let test = TestScheduler::with_seed(5);
    let scheduler = test.as_dyn();
    let seen = test.spawn(async move {
        let before = scheduler.is_main_thread();
        // A nested block that runs another task before it returns.
        let other = scheduler.spawn(async {});
        scheduler.block(other);
        (before, scheduler.is_main_thread())
    });
    assert_eq!(test.block(seen), (false, false));
    assert!(
        test.as_dyn().is_main_thread(),
        "the test itself is the main thread"
    );
}

/// Defect 10: `tick` / `run_until_parked` used not to fire timers that were already due, so a
/// `timer(Duration::ZERO)` waited for `advance_clock`. Now (like a paused tokio clock and Zed's
/// TestScheduler) a due timer fires when nothing else is ready; the clock does not move.
#[test]
fn run_until_parked_fires_timers_that_are_already_due() {
    let test = TestScheduler::with_seed(6);
    let fired = test.spawn({
        let test = test.clone();
        async move {
            test.timer(Duration::ZERO).await;
            "fired"
        }
    });
    test.run_until_parked();
    assert!(fired.is_finished());
    assert_eq!(test.elapsed(), Duration::ZERO);
    let later = test.timer(Duration::from_millis(1));
    test.run_until_parked();
    assert_eq!(
        test.pending_timer_count(),
        1,
        "a timer in the future still waits"
    );
    drop(later);
}

/// Suspected and confirmed: dropping a `Timer` that a task had polled used to drop the timer's
/// runnable inside the TestScheduler's state borrow; the drop wakes that task, whose wake needs
/// the same borrow ("already borrowed").
#[test]
fn dropping_a_polled_timer_does_not_reenter_the_scheduler() {
    let test = TestScheduler::with_seed(7);
    let (hand_over, handed_over) = oneshot::channel();
    let waiter = test.spawn({
        let test = test.clone();
        async move {
            let mut timer = test.timer(Duration::from_secs(10));
            // Polled with this task's own waker, which the timer's runnable wakes when dropped.
            assert!(futures::poll!(&mut timer).is_pending());
            hand_over.send(timer).ok();
            std::future::pending::<()>().await
        }
    });
    let timer = test.block(handed_over).unwrap();
    drop(timer); // wakes `waiter` from inside the cancellation
    test.run_until_parked();
    assert_eq!(test.pending_timer_count(), 0);
    drop(waiter);
}

/// Suspected and confirmed: two `SimulatedExecutionContext`s on one scheduler used to number
/// their sessions alike and cancel each other's tasks. The scheduler now numbers them.
#[test]
fn two_simulations_on_one_scheduler_never_share_or_cancel_a_session() {
    let test = TestScheduler::with_seed(8);
    let first = SimulatedExecutionContext::new(test.as_dyn());
    let second = SimulatedExecutionContext::new(test.as_dyn());
    let (release, released) = oneshot::channel::<()>();
    let long = {
        let ctx = second.clone();
        second.serve(async move {
            ctx.wait_until(async move {
                let _ = released.await;
            });
        })
    };
    let short = first.serve(async {});
    assert_ne!(long.session(), short.session());
    let (long_session, short_session) = (long.session(), short.session());
    first.block(short).unwrap();
    second.block(long).unwrap();
    first.wait_on_execution_context(short_session);
    assert!(
        second
            .session_report(long_session)
            .unwrap()
            .cancelled_at_end
            .is_empty(),
        "ending the first simulation's session left the second's alone"
    );
    release.send(()).unwrap();
    let outcomes = second.wait_on_execution_context(long_session);
    assert_eq!(outcomes.len(), 1);
    assert!(second.validate_session_cleanup(long_session).is_ok());
}

/// Misuse: an empty block tick range, a malformed seed and driving a TestScheduler from
/// another thread are clear panics.
#[test]
fn test_scheduler_misuse_is_a_clear_panic() {
    let test = TestScheduler::with_seed(9);
    let empty = catch_unwind(AssertUnwindSafe(|| {
        test.set_block_tick_range(std::ops::RangeInclusive::new(5, 4))
    }));
    assert!(panic_text(&*empty.unwrap_err()).contains("block_tick_range must not be empty"));
    let other = test.clone();
    let wrong_thread = std::thread::spawn(move || {
        catch_unwind(AssertUnwindSafe(|| {
            other.tick();
        }))
    })
    .join()
    .unwrap();
    let message = panic_text(&*wrong_thread.unwrap_err());
    assert!(
        message.contains("tick: a TestScheduler is driven from the thread that created it"),
        "{message}"
    );
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod linux {
    use super::*;
    use scheduler::platform::LinuxScheduler;

    /// Defect 1 (LinuxScheduler): `spawn_foreground` on a pool thread used to be accepted and
    /// aborted the process when the main loop polled the task.
    #[test]
    fn spawn_foreground_off_the_main_thread_panics_at_the_call() {
        let Some(outcome) = child::run(
            "linux::spawn_foreground_off_the_main_thread_panics_at_the_call",
            LIMIT,
            || {
                let linux = LinuxScheduler::new().unwrap();
                let scheduler: Arc<dyn Scheduler> = linux.clone();
                let spawner = scheduler.clone();
                let refused = scheduler.spawn(async move {
                    catch_unwind(AssertUnwindSafe(|| {
                        spawner.spawn_foreground(async {}).detach()
                    }))
                    .map_err(|payload| panic_text(&*payload))
                });
                let message = scheduler.block(refused).expect_err("refused at the spawn");
                assert!(message.contains("off the main thread"), "{message}");
                assert!(message.contains(file!()), "{message}");
                linux.run_foreground_tasks(usize::MAX); // used to abort here
            },
        ) else {
            return;
        };
        outcome.assert_succeeded();
    }

    /// Defect 2: `run_until` (then `run`) never returned when its future panicked: the task was
    /// detached and its output never arrived. Now the panic reaches the caller.
    #[test]
    fn run_until_re_raises_the_panic_of_its_future() {
        let Some(outcome) = child::run(
            "linux::run_until_re_raises_the_panic_of_its_future",
            LIMIT,
            || {
                let linux = LinuxScheduler::new().unwrap();
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    linux.run_until(async { panic!("main future boom") })
                }));
                let message = panic_text(&*outcome.expect_err("re-raised"));
                assert!(message.contains("main future boom"), "{message}");
                // The loop still works afterwards.
                assert_eq!(linux.run_until(async { 5 }).unwrap(), 5);
            },
        ) else {
            return;
        };
        outcome.assert_succeeded();
    }

    /// Defect 3: a pool task blocked (outside the scheduler) on a scheduler `Timer` used to stay
    /// blocked for ever once the scheduler was dropped, and the drop joined that worker for
    /// ever. Now the timer reports that its scheduler is gone and the drop returns.
    #[test]
    fn dropping_the_scheduler_releases_a_thread_blocked_on_its_timer() {
        let Some(outcome) = child::run(
            "linux::dropping_the_scheduler_releases_a_thread_blocked_on_its_timer",
            LIMIT,
            || {
                let linux = LinuxScheduler::new().unwrap();
                let scheduler: Arc<dyn Scheduler> = linux.clone();
                drop(linux);
                let timer = scheduler.timer(Duration::from_secs(3600));
                let (started, wait_started) = std::sync::mpsc::channel();
                let (report, reported) = std::sync::mpsc::channel();
                scheduler
                    .spawn(async move {
                        started.send(()).unwrap();
                        let blocked =
                            catch_unwind(AssertUnwindSafe(|| futures::executor::block_on(timer)));
                        report
                            .send(blocked.map_err(|payload| panic_text(&*payload)))
                            .unwrap();
                    })
                    .detach();
                wait_started.recv().unwrap();
                drop(scheduler); // used to hang here
                let message = reported.recv().unwrap().expect_err("the timer cannot fire");
                assert!(message.contains("can never fire"), "{message}");
            },
        ) else {
            return;
        };
        outcome.assert_succeeded();
    }

    /// Defect 4: `block_with_timeout` on the main thread used to loop without checking its
    /// deadline while foreground work kept arriving.
    #[test]
    fn block_with_timeout_on_the_main_thread_honours_its_deadline_under_foreground_work() {
        let Some(outcome) = child::run(
            "linux::block_with_timeout_on_the_main_thread_honours_its_deadline_under_foreground_work",
            LIMIT,
            || {
                let linux = LinuxScheduler::new().unwrap();
                let scheduler: Arc<dyn Scheduler> = linux.clone();
                let busy = scheduler.spawn_foreground(async {
                    loop {
                        yield_now().await;
                    }
                });
                let started = std::time::Instant::now();
                let result = scheduler
                    .block_with_timeout(Duration::from_millis(50), std::future::pending::<()>());
                assert!(result.is_err(), "timed out");
                assert!(started.elapsed() >= Duration::from_millis(50));
                drop(busy);
            },
        ) else {
            return;
        };
        outcome.assert_succeeded();
    }

    /// Defect 7 (LinuxScheduler): `timer(Duration::MAX)` and `block_with_timeout(Duration::MAX)`
    /// on and off the main thread used to panic with an overflow.
    #[test]
    fn duration_max_never_overflows() {
        let linux = LinuxScheduler::new().unwrap();
        let scheduler: Arc<dyn Scheduler> = linux.clone();
        let forever = scheduler.timer(Duration::MAX);
        assert_eq!(linux.pending_timers(), 1);
        assert_eq!(
            scheduler
                .block_with_timeout(Duration::MAX, async { 1 })
                .ok(),
            Some(1)
        );
        let off_main = scheduler.spawn({
            let scheduler = scheduler.clone();
            async move {
                scheduler
                    .block_with_timeout(Duration::MAX, async { 2 })
                    .ok()
            }
        });
        assert_eq!(scheduler.block(off_main), Some(2));
        drop(forever);
        assert_eq!(linux.pending_timers(), 0);
    }
}
