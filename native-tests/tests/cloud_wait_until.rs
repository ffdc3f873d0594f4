//! The Workers rules after the response: the 30-second wait_until window, the
//! waitOnExecutionContext-style helper, and leak reports of tasks left behind.

use scheduler::cloud::{
    DanglingState, ExecutionContext, PlatformRuntime, SessionCleanupError,
    SimulatedExecutionContext, WAIT_UNTIL_LIMIT, WaitUntilOutcome,
};
use scheduler::{
    BackgroundExecutor, Instant, Runnable, Scheduler, TestScheduler, Unparker, run_seeds,
};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn wait_until_work_longer_than_30_virtual_seconds_is_cut_off_and_reported() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        let runtime = ctx.runtime();
        let finished: Rc<Cell<[bool; 4]>> = Rc::default();
        let mark = {
            let finished = finished.clone();
            move |job: usize| {
                let mut done = finished.get();
                done[job] = true;
                finished.set(done);
            }
        };
        let request = {
            let (ctx2, runtime, mark) = (ctx.clone(), runtime.clone(), mark.clone());
            ctx.serve(async move {
                let job = |delay: u64, index: usize| {
                    let (runtime, mark) = (runtime.clone(), mark.clone());
                    async move {
                        runtime.delay(secs(delay)).await;
                        mark(index);
                    }
                };
                // Registered at 0 s, 33 s long: the window counts from the response (5 s).
                ctx2.wait_until(job(33, 0));
                runtime.delay(secs(5)).await;
                ctx2.wait_until(job(29, 1)); // ends at 34 s: inside the window
                ctx2.wait_until(job(45, 2)); // would end at 50 s: cut off at 35 s
                ctx2.wait_until({
                    // Registers more work from inside wait_until work, at 15 s, 25 s long.
                    let (ctx3, runtime, job) = (ctx2.clone(), runtime.clone(), job(25, 3));
                    async move {
                        runtime.delay(secs(10)).await;
                        ctx3.wait_until(job);
                    }
                });
                "responded"
            })
        };
        let session = request.session();
        assert_eq!(ctx.block(request).unwrap(), "responded");
        let responded_at = secs(5);
        let outcomes = ctx.wait_on_execution_context(session);
        let summary: Vec<_> = outcomes
            .iter()
            .map(|report| (report.outcome.clone(), report.settled_at))
            .collect();
        let cut_off_at = responded_at + WAIT_UNTIL_LIMIT;
        assert_eq!(
            summary,
            [
                (WaitUntilOutcome::Completed, secs(33)),
                (WaitUntilOutcome::Completed, secs(34)),
                (WaitUntilOutcome::CutOff, cut_off_at),
                (WaitUntilOutcome::Completed, secs(15)),
                (WaitUntilOutcome::CutOff, cut_off_at),
            ]
        );
        for report in &outcomes {
            // A job's task is attributed to the wait_until call in the handler.
            assert_eq!(report.task.location().file(), file!(), "{report}");
            assert_eq!(report.task.session(), Some(session));
        }
        let report = ctx.session_report(session).unwrap();
        assert_eq!(report.responded_at, Some(responded_at));
        assert_eq!(report.ended_at, Some(cut_off_at));
        assert_eq!(ctx.elapsed(), cut_off_at);
        // Cut off means cancelled: even much later, the work never finishes.
        test.advance_clock(secs(120));
        assert_eq!(finished.get(), [true, true, false, false]);
        for report in &outcomes {
            assert!(!test.is_task_running(report.task.id()), "{report}");
        }
        assert!(
            report_text(&outcomes[2]).contains("cut off: still running 30 s after the response")
        );
        // Cut-off jobs were registered with wait_until: they are not leaks.
        ctx.validate_session_cleanup(session)
            .unwrap_or_else(|error| panic!("{error}"));
    });
}

fn report_text(report: &scheduler::cloud::WaitUntilReport) -> String {
    report.to_string()
}

#[test]
fn wait_on_execution_context_returns_when_and_only_when_all_wait_until_work_settled() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        let runtime = ctx.runtime();
        let done = Rc::new(Cell::new(0u32));
        let request = {
            let (ctx2, runtime, done) = (ctx.clone(), runtime.clone(), done.clone());
            ctx.serve(async move {
                let job = |delay: u64| {
                    let (runtime, done) = (runtime.clone(), done.clone());
                    async move {
                        runtime.delay(secs(delay)).await;
                        done.set(done.get() + 1);
                    }
                };
                ctx2.wait_until(job(3));
                ctx2.wait_until(job(7));
                ctx2.wait_until({
                    let (ctx3, runtime, done, last) =
                        (ctx2.clone(), runtime.clone(), done.clone(), job(4));
                    async move {
                        runtime.delay(secs(5)).await;
                        ctx3.wait_until(last); // settles at 9 s
                        done.set(done.get() + 1);
                    }
                });
            })
        };
        let session = request.session();
        ctx.block(request).unwrap();
        assert_eq!(ctx.elapsed(), Duration::ZERO);
        // Not settled before 9 s: blocking on it with a shorter timeout gives up…
        let early = ctx
            .scheduler()
            .block_with_timeout(Duration::from_millis(8_999), ctx.settled(session));
        assert!(early.is_err(), "settled before the last job finished");
        // …with the last job still pending.
        assert!(ctx.elapsed() < secs(9));
        assert!(done.get() < 4);
        let outcomes = ctx.wait_on_execution_context(session);
        // Returns exactly when the last job settled: not earlier, not at the 30 s limit.
        assert_eq!(ctx.elapsed(), secs(9));
        assert_eq!(done.get(), 4);
        let settled: Vec<_> = outcomes
            .iter()
            .map(|report| (report.outcome.clone(), report.settled_at))
            .collect();
        assert_eq!(
            settled,
            [
                (WaitUntilOutcome::Completed, secs(3)),
                (WaitUntilOutcome::Completed, secs(7)),
                (WaitUntilOutcome::Completed, secs(5)),
                (WaitUntilOutcome::Completed, secs(9)),
            ]
        );
        for report in &outcomes {
            assert!(!test.is_task_running(report.task.id()));
        }
        assert_eq!(
            test.pending_timer_count(),
            0,
            "the cut-off timer was released"
        );
        // A session without wait_until work is settled as soon as it responded.
        let quick = ctx.serve(async {});
        let quick_session = quick.session();
        ctx.block(quick).unwrap();
        assert!(ctx.wait_on_execution_context(quick_session).is_empty());
        assert_eq!(ctx.elapsed(), secs(9));
    });
}

#[test]
fn a_leaky_handler_is_reported_with_its_spawn_location() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        let background = BackgroundExecutor::new(test.clone());
        let leaked_write = Rc::new(Cell::new(false));
        let leak_lines = Rc::new(Cell::new((0, 0)));
        let leaky = {
            let (ctx2, runtime, leaked_write, leak_lines) = (
                ctx.clone(),
                ctx.runtime(),
                leaked_write.clone(),
                leak_lines.clone(),
            );
            ctx.serve(async move {
                let slow_write = {
                    let runtime = runtime.clone();
                    async move {
                        runtime.delay(secs(60)).await;
                        leaked_write.set(true);
                    }
                };
                let first = line!() + 1;
                runtime.spawn(slow_write).detach();
                let timer = background.timer(secs(3_600));
                let second = line!() + 1;
                background.spawn(timer).detach();
                leak_lines.set((first, second));
                ctx2.wait_until(async {});
                202
            })
        };
        // A tidy request alongside the leaky one.
        let tidy = {
            let (ctx2, runtime) = (ctx.clone(), ctx.runtime());
            ctx.serve(async move {
                let sub = runtime.spawn({
                    let runtime = runtime.clone();
                    async move { runtime.delay(secs(1)).await }
                });
                sub.await;
                ctx2.wait_until({
                    let runtime = runtime.clone();
                    async move { runtime.delay(secs(2)).await }
                });
                202
            })
        };
        let (leaky_session, tidy_session) = (leaky.session(), tidy.session());
        assert_eq!(ctx.block(leaky).unwrap(), 202);
        assert_eq!(ctx.block(tidy).unwrap(), 202);
        ctx.wait_on_execution_context(leaky_session);
        ctx.wait_on_execution_context(tidy_session);
        ctx.validate_session_cleanup(tidy_session)
            .unwrap_or_else(|error| panic!("{error}"));

        let error = ctx.validate_session_cleanup(leaky_session).unwrap_err();
        let tasks = error.dangling_tasks();
        assert_eq!(tasks.len(), 2, "{error}");
        let (first, second) = leak_lines.get();
        for (task, line) in tasks.iter().zip([first, second]) {
            assert_eq!(task.task.location().file(), file!());
            assert_eq!(task.task.location().line(), line, "{error}");
            assert_eq!(task.task.session(), Some(leaky_session));
            assert_eq!(task.state, DanglingState::CancelledAtSessionEnd);
        }
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("{leaky_session} leaked 2 tasks")),
            "{text}"
        );
        for line in [first, second] {
            assert!(
                text.contains(&format!("spawned at {}:{line}:", file!())),
                "{text}"
            );
        }
        // Cancelled at the session's end: the leaked write never happens.
        test.advance_clock(secs(7_200));
        assert!(!leaked_write.get());
        for task in tasks {
            assert!(!test.is_task_running(task.task.id()));
        }
        let report = ctx.session_report(leaky_session).unwrap();
        assert_eq!(report.cancelled_at_end.len(), 2);
    });
}

#[test]
fn a_session_driven_by_hand_reports_running_tasks_before_its_end() {
    let test = TestScheduler::with_seed(1);
    let ctx = SimulatedExecutionContext::new(test.clone());
    let runtime = ctx.runtime();
    let session = ctx.create_session();
    let line = line!() + 1;
    let task = ctx.with_session(session, || runtime.spawn(runtime.delay(secs(10))));
    assert_eq!(task.metadata().unwrap().session(), Some(session));
    test.run_until_parked();
    let error = ctx.validate_session_cleanup(session).unwrap_err();
    let [dangling] = error.dangling_tasks() else {
        panic!("{error}");
    };
    assert_eq!(dangling.state, DanglingState::Running);
    assert_eq!(dangling.task.location().line(), line);
    assert!(error.to_string().contains("(still running)"), "{error}");
    // Awaiting it before the end makes the session clean.
    ctx.block(task);
    assert!(ctx.wait_on_execution_context(session).is_empty());
    ctx.validate_session_cleanup(session).unwrap();
    // Errors for sessions this context never made.
    let unknown = scheduler::SessionId::from_raw(99);
    assert!(matches!(
        ctx.validate_session_cleanup(unknown),
        Err(SessionCleanupError::UnknownSession(id)) if id == unknown
    ));
}

#[test]
fn wait_until_after_the_session_ended_is_refused_loudly() {
    let test = TestScheduler::with_seed(2);
    let ctx = SimulatedExecutionContext::new(test.clone());
    let request = ctx.serve(async {});
    let session = request.session();
    ctx.block(request).unwrap();
    ctx.wait_on_execution_context(session);
    let error = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ctx.with_session(session, || ctx.wait_until(async {}));
    }))
    .unwrap_err();
    let message = error.downcast_ref::<String>().unwrap();
    assert!(message.contains("after it ended"), "{message}");
}

/// A scheduler that is not a TestScheduler (it forwards to one), to check the documented
/// degradation.
struct Forwarding(Arc<TestScheduler>);

impl Scheduler for Forwarding {
    fn schedule(&self, runnable: Runnable) {
        self.0.schedule(runnable);
    }
    fn schedule_foreground(&self, runnable: Runnable) {
        self.0.schedule_foreground(runnable);
    }
    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        self.0.schedule_after(delay, runnable);
    }
    fn park(&self, timeout: Option<Duration>) -> bool {
        self.0.park(timeout)
    }
    fn unparker(&self) -> Unparker {
        self.0.unparker()
    }
    fn is_main_thread(&self) -> bool {
        self.0.is_main_thread()
    }
    fn now(&self) -> Instant {
        self.0.now()
    }
}

#[test]
fn without_a_test_scheduler_the_window_holds_but_cleanup_is_untracked() {
    let test = TestScheduler::with_seed(3);
    let ctx = SimulatedExecutionContext::new(Arc::new(Forwarding(test.clone())));
    let request = {
        let (ctx2, runtime) = (ctx.clone(), ctx.runtime());
        ctx.serve(async move {
            ctx2.wait_until(async move { runtime.delay(secs(40)).await });
        })
    };
    let session = request.session();
    ctx.block(request).unwrap();
    let outcomes = ctx.wait_on_execution_context(session);
    assert_eq!(outcomes[0].outcome, WaitUntilOutcome::CutOff);
    assert_eq!(ctx.elapsed(), WAIT_UNTIL_LIMIT);
    let error = ctx.validate_session_cleanup(session).unwrap_err();
    assert!(matches!(error, SessionCleanupError::Untracked(id) if id == session));
    assert!(
        error.to_string().contains("needs a TestScheduler"),
        "{error}"
    );
}
