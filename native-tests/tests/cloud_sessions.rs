//! Sessions of the SimulatedExecutionContext: attribution of every task to its request, panics
//! confined to their own session, the frozen clock.

use scheduler::cloud::{
    ExecutionContext, PlatformRuntime, SimulatedExecutionContext, WaitUntilOutcome,
};
use scheduler::{
    BackgroundExecutor, ForegroundExecutor, SessionId, TestScheduler, run_seeds, session,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// (the request's session, the session current inside a task, the session in its metadata)
type Sighting = (SessionId, Option<SessionId>, Option<SessionId>);

#[test]
fn hundred_concurrent_requests_never_mix_their_sessions_tasks() {
    const REQUESTS: u64 = 100;
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        let background = BackgroundExecutor::new(test.clone());
        let sightings: Arc<Mutex<Vec<Sighting>>> = Arc::default();
        let see = {
            let sightings = sightings.clone();
            move |me: SessionId, metadata: Option<SessionId>| {
                sightings
                    .lock()
                    .unwrap()
                    .push((me, session::current(), metadata));
            }
        };
        let requests: Vec<_> = (0..REQUESTS)
            .map(|i| {
                let (ctx2, background, see) = (ctx.clone(), background.clone(), see.clone());
                let runtime = ctx.runtime();
                ctx.serve(async move {
                    let me = ctx2
                        .current_session()
                        .expect("a handler runs in its session");
                    see(me, Some(me));
                    // A local subtask that spawns its own child after a timer.
                    let local = runtime.spawn({
                        let (runtime, see) = (runtime.clone(), see.clone());
                        async move {
                            runtime.delay(Duration::from_millis(i % 7)).await;
                            let child = runtime.spawn({
                                let see = see.clone();
                                async move { see(me, None) }
                            });
                            see(me, child.metadata().unwrap().session());
                            child.await;
                        }
                    });
                    see(me, local.metadata().unwrap().session());
                    // A Send task through the background executor.
                    let remote = background.spawn({
                        let (timer, see) =
                            (background.timer(Duration::from_millis(i % 5)), see.clone());
                        async move {
                            timer.await;
                            see(me, None);
                        }
                    });
                    see(me, remote.metadata().unwrap().session());
                    // A foreground executor created inside the request.
                    let foreground = ForegroundExecutor::new(ctx2.scheduler().clone());
                    let main = foreground.spawn({
                        let see = see.clone();
                        async move { see(me, None) }
                    });
                    see(me, main.metadata().unwrap().session());
                    // Background work after the response, spawning more work.
                    ctx2.wait_until({
                        let (runtime, background, see) =
                            (runtime.clone(), background.clone(), see.clone());
                        async move {
                            runtime.delay(Duration::from_millis(10 + i % 3)).await;
                            let nested = background.spawn({
                                let see = see.clone();
                                async move { see(me, None) }
                            });
                            see(me, nested.metadata().unwrap().session());
                            nested.await;
                        }
                    });
                    futures::join!(local, remote, main);
                    me
                })
            })
            .collect();
        let sessions: Vec<SessionId> = requests.iter().map(|request| request.session()).collect();
        let mut distinct = sessions.clone();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            REQUESTS as usize,
            "every request has its own session"
        );
        for request in requests {
            let session = request.session();
            assert_eq!(ctx.block(request).unwrap(), session);
        }
        for &session in &sessions {
            let outcomes = ctx.wait_on_execution_context(session);
            assert_eq!(outcomes.len(), 1);
            assert_eq!(outcomes[0].outcome, WaitUntilOutcome::Completed);
            assert_eq!(outcomes[0].task.session(), Some(session));
            ctx.validate_session_cleanup(session)
                .unwrap_or_else(|error| panic!("{error}"));
        }
        let sightings = sightings.lock().unwrap();
        // Per request: the handler, 4 spawned handles, 4 task bodies, 1 child handle.
        assert_eq!(sightings.len(), REQUESTS as usize * 10);
        for &(me, current, metadata) in sightings.iter() {
            assert_eq!(current, Some(me), "a task of {me} ran as {current:?}");
            if let Some(metadata) = metadata {
                assert_eq!(metadata, me, "a task of {me} was attributed to {metadata}");
            }
        }
        assert!(test.live_tasks().is_empty(), "{:?}", test.live_tasks());
    });
}

#[test]
fn a_panicking_handler_fails_only_its_own_session() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        let finished: Arc<Mutex<Vec<u32>>> = Arc::default();
        let requests: Vec<_> = (0..6u32)
            .map(|i| {
                let (ctx2, finished) = (ctx.clone(), finished.clone());
                let runtime = ctx.runtime();
                ctx.serve(async move {
                    ctx2.wait_until({
                        let runtime = runtime.clone();
                        async move {
                            runtime.delay(Duration::from_secs(1)).await;
                            if i == 4 {
                                panic!("wait_until job of request {i} failed");
                            }
                            finished.lock().unwrap().push(i);
                        }
                    });
                    runtime
                        .delay(Duration::from_millis(100 * u64::from(i)))
                        .await;
                    match i {
                        2 => panic!("handler of request {i} failed"),
                        3 => {
                            ctx2.pass_through_on_exception();
                            panic!("handler of request {i} failed")
                        }
                        _ => i * 10,
                    }
                })
            })
            .collect();
        let sessions: Vec<SessionId> = requests.iter().map(|request| request.session()).collect();
        let results: Vec<_> = requests.into_iter().map(|r| ctx.block(r)).collect();
        for (i, result) in results.iter().enumerate() {
            match (i, result) {
                (2, Err(failed)) => {
                    assert_eq!(failed.session, sessions[2]);
                    assert_eq!(failed.message, "handler of request 2 failed");
                    assert!(!failed.passed_through);
                }
                (3, Err(failed)) => {
                    assert_eq!(failed.message, "handler of request 3 failed");
                    assert!(failed.passed_through, "{failed}");
                    assert!(ctx.passes_through_on_exception(sessions[3]));
                }
                (i, Ok(value)) if i != 2 && i != 3 => assert_eq!(*value, i as u32 * 10),
                (i, other) => panic!("request {i}: unexpected {other:?}"),
            }
        }
        for (i, &session) in sessions.iter().enumerate() {
            let outcomes = ctx.wait_on_execution_context(session);
            let expected = if i == 4 {
                WaitUntilOutcome::Panicked("wait_until job of request 4 failed".into())
            } else {
                WaitUntilOutcome::Completed
            };
            assert_eq!(outcomes[0].outcome, expected, "request {i}");
            ctx.validate_session_cleanup(session)
                .unwrap_or_else(|error| panic!("{error}"));
            let report = ctx.session_report(session).unwrap();
            assert_eq!(
                report.handler_panic.is_some(),
                i == 2 || i == 3,
                "{report:?}"
            );
        }
        // Even a failed request's wait_until work ran: the runtime had already accepted it.
        let mut finished = finished.lock().unwrap().clone();
        finished.sort();
        assert_eq!(finished, [0, 1, 2, 3, 5]);
    });
}

#[test]
fn the_virtual_clock_never_moves_while_code_runs() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        let requests: Vec<_> = (0..4u64)
            .map(|i| {
                let (ctx2, test2) = (ctx.clone(), test.clone());
                let runtime = ctx.runtime();
                ctx.serve(async move {
                    let start = ctx2.elapsed();
                    let mut work = 0u64;
                    for n in 0..100_000u64 {
                        work = work.wrapping_mul(31).wrapping_add(n);
                    }
                    test2.simulate_random_delay().await;
                    assert_eq!(ctx2.elapsed(), start, "time moved during computation");
                    runtime.delay(Duration::from_secs(i + 1)).await;
                    let waited = ctx2.elapsed() - start;
                    (waited, work)
                })
            })
            .collect();
        for (i, request) in requests.into_iter().enumerate() {
            let (waited, _) = ctx.block(request).unwrap();
            assert_eq!(waited, Duration::from_secs(i as u64 + 1));
        }
    });
}

#[test]
fn wait_until_and_pass_through_need_a_current_session() {
    let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(0));
    let error = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ctx.wait_until(async {});
    }))
    .unwrap_err();
    let message = error.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("wait_until was called outside any session"),
        "{message}"
    );
    let error = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ctx.pass_through_on_exception();
    }))
    .unwrap_err();
    let message = error.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("pass_through_on_exception was called outside"),
        "{message}"
    );
}

#[test]
fn a_request_dropped_mid_flight_still_responds_and_ends_its_session() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        let reached_end = Arc::new(Mutex::new(false));
        let request = {
            let (ctx2, runtime, reached_end) = (ctx.clone(), ctx.runtime(), reached_end.clone());
            ctx.serve(async move {
                ctx2.wait_until({
                    let runtime = runtime.clone();
                    async move { runtime.delay(Duration::from_secs(3)).await }
                });
                runtime.delay(Duration::from_secs(10)).await;
                *reached_end.lock().unwrap() = true;
            })
        };
        let session = request.session();
        let handler = request.task_id();
        test.advance_clock(Duration::from_secs(1));
        drop(request); // the client went away: the handler is cancelled
        let outcomes = ctx.wait_on_execution_context(session);
        assert_eq!(outcomes[0].outcome, WaitUntilOutcome::Completed);
        let report = ctx.session_report(session).unwrap();
        assert_eq!(report.responded_at, Some(Duration::from_secs(1)));
        assert_eq!(report.ended_at, Some(Duration::from_secs(3)));
        assert!(!test.is_task_running(handler));
        test.advance_clock(Duration::from_secs(20));
        assert!(!*reached_end.lock().unwrap());
        ctx.validate_session_cleanup(session)
            .unwrap_or_else(|error| panic!("{error}"));
    });
}

/// Issue 20: a `SimulatedExecutionContext` kept every session forever. With `keep_reports(n)`
/// the oldest ended sessions are let go once nothing holds them: at most `n` ended ones stay,
/// the sessions in flight are all kept, and a session whose task cancelled at its end still
/// waits for a wake (its destructor may ask `in_reset_isolate`) is kept until that task ends.
#[test]
fn keep_reports_bounds_the_sessions_kept() {
    let test = TestScheduler::with_seed(2);
    let ctx = SimulatedExecutionContext::new(test.clone());
    ctx.keep_reports(16);
    let (release, parked) = futures::channel::oneshot::channel::<()>();
    // A leftover task cancelled at its session's end that waits for a wake until `release`.
    let held = {
        let runtime = ctx.runtime();
        let request = ctx.serve(async move {
            runtime
                .spawn(async move {
                    let _ = parked.await;
                })
                .detach();
        });
        let session = request.session();
        ctx.block(request).unwrap();
        ctx.wait_on_execution_context(session);
        session
    };
    let in_flight = {
        let runtime = ctx.runtime();
        ctx.serve(async move { runtime.delay(std::time::Duration::from_secs(3600)).await })
    };
    let mut sessions = Vec::new();
    for i in 0..500u32 {
        let request = ctx.serve(async move { i });
        let session = request.session();
        assert_eq!(ctx.block(request).unwrap(), i);
        ctx.wait_on_execution_context(session);
        sessions.push(session);
    }
    let kept = sessions
        .iter()
        .filter(|&&session| ctx.session_report(session).is_some())
        .count();
    assert!(kept <= 16, "{kept} ended sessions kept");
    assert!(ctx.session_report(*sessions.last().unwrap()).is_some());
    assert!(ctx.session_report(sessions[0]).is_none());
    assert!(
        ctx.session_report(in_flight.session()).is_some(),
        "in flight"
    );
    assert!(
        ctx.session_report(held).is_some(),
        "its cancelled task still waits"
    );
    drop(release);
    test.run_until_parked();
    let request = ctx.serve(async {});
    let session = request.session();
    ctx.block(request).unwrap();
    ctx.wait_on_execution_context(session);
    assert!(
        ctx.session_report(held).is_none(),
        "let go once its task ended"
    );
    drop(in_flight);
}
