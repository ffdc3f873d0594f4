//! Seeded faults of the simulated Worker (`SimulationFaults`), one kind at a time: off by
//! default (nothing drawn, the trace unchanged), each fault doing what it says, `buggify` at its
//! rate, and one seed replaying the same faults.

use scheduler::cloud::{
    ExecutionContext, FaultAction, FaultKind, FaultPoint, FaultPoints, PlatformRuntime,
    RequestFailure, SimulatedExecutionContext, SimulationFaults, WaitUntilOutcome,
};
use scheduler::{TestScheduler, TestSchedulerConfig, TraceEvent, run_seeds};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Sets `flag` when dropped: tells whether a future was dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A small workload of three requests that go through every fault point (a store call, a
/// subrequest, `buggify`) when `ask` is set. Returns the trace, the next seeded draw, the
/// fault counts and the faults listed in the session reports.
fn workload(
    seed: u64,
    faults: Option<SimulationFaults>,
    ask: bool,
) -> (Vec<TraceEvent>, u64, u64, Vec<String>) {
    let test = TestScheduler::new(TestSchedulerConfig {
        trace: true,
        ..TestSchedulerConfig::with_seed(seed)
    });
    let ctx = SimulatedExecutionContext::new(test.clone());
    if let Some(faults) = faults {
        ctx.set_faults(faults);
    }
    let requests: Vec<_> = (0..3u64)
        .map(|i| {
            let (ctx2, runtime, points) = (ctx.clone(), ctx.runtime(), ctx.fault_points());
            ctx.serve(async move {
                let call = runtime.delay(millis(10 + i));
                let failed = if ask {
                    let store = points.decide(FaultPoint::Store {
                        operation: "put",
                        key: "k",
                    });
                    runtime.subrequest("svc", call).await;
                    store == FaultAction::Fail || runtime.buggify()
                } else {
                    call.await;
                    false
                };
                ctx2.wait_until({
                    let runtime = runtime.clone();
                    async move { runtime.delay(millis(5 * i)).await }
                });
                failed
            })
        })
        .collect();
    let sessions: Vec<_> = requests.iter().map(|request| request.session()).collect();
    for request in requests {
        let _ = ctx.block(request);
    }
    let mut listed = Vec::new();
    for session in sessions {
        ctx.wait_on_execution_context(session);
        let report = ctx.session_report(session).unwrap();
        listed.extend(report.faults.iter().map(ToString::to_string));
    }
    let next_draw = test.random_range(0..u64::MAX);
    (
        test.take_trace(),
        next_draw,
        ctx.fault_counts().total(),
        listed,
    )
}

#[test]
fn faults_are_off_by_default_and_draw_nothing() {
    assert!(!SimulationFaults::default().is_active());
    for seed in 0..20 {
        let plain = workload(seed, None, false);
        // Every fault point asked, with faults off (never set, or set to the default): the
        // same trace and the same next draw, so nothing was drawn.
        assert_eq!(workload(seed, None, true), plain, "seed {seed}");
        let off = workload(seed, Some(SimulationFaults::default()), true);
        assert_eq!(off, plain, "seed {seed}");
        assert_eq!((off.2, off.3.len()), (0, 0));
    }
    // The same workload with faults on does draw (the check above can fail).
    let on = workload(0, Some(SimulationFaults::all(0.5)), true);
    assert_ne!(on.1, workload(0, None, true).1);
}

#[test]
fn a_client_disconnect_drops_the_handler_and_its_wait_until_work_finishes() {
    let polled = Cell::new(0);
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        ctx.set_faults(SimulationFaults {
            client_disconnect: 1.0,
            disconnect_within: millis(100),
            ..SimulationFaults::default()
        });
        let (dropped, finished) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
        let started = Rc::new(Cell::new(false));
        let request = {
            let (ctx2, runtime) = (ctx.clone(), ctx.runtime());
            let (guard, finished, started2) =
                (DropFlag(dropped.clone()), finished.clone(), started.clone());
            ctx.serve(async move {
                let _guard = guard;
                started2.set(true);
                ctx2.wait_until({
                    let runtime = runtime.clone();
                    async move {
                        runtime.delay(Duration::from_secs(2)).await;
                        finished.set(true);
                    }
                });
                // Longer than the client waits.
                runtime.delay(Duration::from_secs(1)).await;
                "never sent"
            })
        };
        let session = request.session();
        let failed = ctx.block(request).unwrap_err();
        assert_eq!(failed.cause, RequestFailure::ClientDisconnected, "{failed}");
        assert!(dropped.get(), "the handler's future was dropped");
        assert!(ctx.elapsed() <= millis(100));
        let jobs = ctx.wait_on_execution_context(session);
        // A client gone before the handler's first poll (a disconnect drawn at 0 ms): the
        // handler never ran, so it registered nothing.
        if started.get() {
            assert_eq!(jobs[0].outcome, WaitUntilOutcome::Completed);
            assert!(finished.get(), "wait_until work kept going");
            polled.set(polled.get() + 1);
        } else {
            assert!(jobs.is_empty());
        }
        let report = ctx.session_report(session).unwrap();
        assert_eq!(report.faults[0].kind, FaultKind::ClientDisconnect);
        assert!(!report.killed_by_isolate_reset);
        assert_eq!(ctx.fault_counts().client_disconnects, 1);
        ctx.validate_session_cleanup(session).unwrap();
    });
    assert!(polled.get() > 0, "no handler ran before its client left");
}

#[test]
fn an_isolate_reset_loses_isolate_state_and_fails_every_request_in_flight() {
    let killed_jobs = Cell::new(0);
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        let hits = ctx.isolate_state(|_isolate| Rc::new(Cell::new(0u32)));
        // The first request draws a reset within 1 s; the second is in flight then too.
        ctx.set_faults(SimulationFaults {
            isolate_reset: 1.0,
            reset_within: Duration::from_secs(1),
            ..SimulationFaults::default()
        });
        let serve = |ctx: &SimulatedExecutionContext| {
            let (ctx2, runtime, hits) = (ctx.clone(), ctx.runtime(), hits.clone());
            ctx.serve(async move {
                hits.get().set(hits.get().get() + 1);
                ctx2.wait_until({
                    let runtime = runtime.clone();
                    async move { runtime.delay(Duration::from_secs(20)).await }
                });
                runtime.delay(Duration::from_secs(2)).await;
                "never sent"
            })
        };
        let first = serve(&ctx);
        ctx.set_faults(SimulationFaults::default());
        let second = serve(&ctx);
        let sessions = [first.session(), second.session()];
        for request in [first, second] {
            let failed = ctx.block(request).unwrap_err();
            assert_eq!(failed.cause, RequestFailure::IsolateReset, "{failed}");
        }
        assert!(ctx.elapsed() <= Duration::from_secs(1));
        assert_eq!(ctx.isolate(), 1);
        for session in sessions {
            let jobs = ctx.wait_on_execution_context(session);
            // Empty if the reset came before the handler's first poll.
            killed_jobs.set(killed_jobs.get() + jobs.len());
            assert!(
                jobs.iter()
                    .all(|job| job.outcome == WaitUntilOutcome::IsolateReset),
                "{jobs:?}"
            );
            let report = ctx.session_report(session).unwrap();
            assert!(report.killed_by_isolate_reset);
            assert_eq!(report.responded_at, None);
        }
        assert_eq!(ctx.fault_counts().isolate_resets, 1);
        // The in-memory state is gone: a new request sees the new isolate's, built afresh.
        assert_eq!(hits.get().get(), 0);
        let third = serve(&ctx);
        assert_eq!(ctx.block(third).unwrap(), "never sent");
        assert_eq!(hits.get().get(), 1);
    });
    assert!(
        killed_jobs.get() > 0,
        "no wait_until job was in flight at a reset"
    );
}

/// Issue 20, defect 9: a handler that resets the isolate itself, synchronously inside its
/// poll, then returns: its request was answered `Ok` while its report said it was killed. It
/// fails with `IsolateReset`, as `reset_isolate` documents, whether the handler then returned,
/// waited, or panicked; other requests in flight die with it.
#[test]
fn a_reset_inside_a_handler_fails_its_own_request() {
    let test = TestScheduler::with_seed(3);
    let ctx = SimulatedExecutionContext::new(test.clone());
    let bystander = {
        let runtime = ctx.runtime();
        ctx.serve(async move {
            runtime.delay(Duration::from_secs(5)).await;
            "bystander"
        })
    };
    test.run_until_parked();
    for ending in ["returns", "waits", "panics"] {
        let request = {
            let (ctx2, runtime) = (ctx.clone(), ctx.runtime());
            ctx.serve(async move {
                ctx2.reset_isolate();
                match ending {
                    "waits" => runtime.delay(Duration::from_secs(1)).await,
                    "panics" => panic!("after the reset"),
                    _ => {}
                }
                "sent after the reset"
            })
        };
        let session = request.session();
        let failed = ctx.block(request).expect_err(ending);
        assert_eq!(
            failed.cause,
            RequestFailure::IsolateReset,
            "{ending}: {failed}"
        );
        let report = ctx.session_report(session).unwrap();
        assert!(report.killed_by_isolate_reset, "{ending}");
        assert_eq!(report.handler_panic, None, "{ending}");
    }
    let failed = ctx.block(bystander).unwrap_err();
    assert_eq!(failed.cause, RequestFailure::IsolateReset);
    assert_eq!(ctx.isolate(), 3);
}

/// What the app's store wrapper does with the answer at a store call (as the Worker's
/// `InjectingStore`), bounded by a 5 s store timeout: `Some(reached)` if the call answered in
/// time, and whether it reached the store at all.
async fn store_call(runtime: &impl PlatformRuntime, action: FaultAction) -> (Option<()>, bool) {
    use futures::future::{Either, select};
    let reached = Rc::new(Cell::new(false));
    let call = {
        let reached = reached.clone();
        async move {
            match action {
                FaultAction::Proceed => reached.set(true),
                FaultAction::Fail => return Err(()),
                FaultAction::Stall(stall) => {
                    runtime.delay(stall).await;
                    reached.set(true);
                }
                FaultAction::StallAnswer(stall) => {
                    reached.set(true);
                    runtime.delay(stall).await;
                }
            }
            Ok(())
        }
    };
    let timeout = runtime.delay(Duration::from_secs(5));
    let answered = match select(std::pin::pin!(call), std::pin::pin!(timeout)).await {
        Either::Left((result, _)) => result.ok(),
        Either::Right(_) => None,
    };
    (answered, reached.get())
}

#[test]
fn store_faults_fail_or_stall_past_the_deadline() {
    let test = TestScheduler::with_seed(1);
    let ctx = SimulatedExecutionContext::new(test.clone());
    let (runtime, points) = (ctx.runtime(), ctx.fault_points());
    let put = FaultPoint::Store {
        operation: "put",
        key: "count:click",
    };
    let stall = Duration::from_secs(8)..=Duration::from_secs(8);
    let cases = [
        (
            SimulationFaults {
                store_failure: 1.0,
                ..SimulationFaults::default()
            },
            FaultAction::Fail,
            (None, false),
        ),
        (
            SimulationFaults {
                store_stall: 1.0,
                store_stall_time: stall.clone(),
                ..SimulationFaults::default()
            },
            FaultAction::Stall(Duration::from_secs(8)),
            (None, false),
        ),
        (
            SimulationFaults {
                store_stall: 1.0,
                lost_answer: 1.0,
                store_stall_time: stall,
                ..SimulationFaults::default()
            },
            FaultAction::StallAnswer(Duration::from_secs(8)),
            (None, true),
        ),
        (
            SimulationFaults::default(),
            FaultAction::Proceed,
            (Some(()), true),
        ),
    ];
    for (faults, action, outcome) in cases {
        ctx.set_faults(faults);
        assert_eq!(points.decide(put), action);
        let start = ctx.elapsed();
        assert_eq!(
            ctx.block(store_call(&runtime, action)),
            outcome,
            "{action:?}"
        );
        // A stall runs past the 5 s deadline: the caller gave up at 5 s.
        let waited = ctx.elapsed() - start;
        let expected = if action.is_fault() && action != FaultAction::Fail {
            Duration::from_secs(5)
        } else {
            Duration::ZERO
        };
        assert_eq!(waited, expected, "{action:?}");
    }
    let counts = ctx.fault_counts();
    assert_eq!((counts.store_failures, counts.store_stalls), (1, 2));
}

#[test]
fn a_slow_subrequest_is_delayed_by_the_drawn_time() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        ctx.set_faults(SimulationFaults {
            slow_subrequest: 1.0,
            subrequest_delay: Duration::from_secs(1)..=Duration::from_secs(3),
            ..SimulationFaults::default()
        });
        let runtime = ctx.runtime();
        let call = runtime.delay(millis(100));
        ctx.block(runtime.subrequest("https://api.example/", call));
        let took = ctx.elapsed();
        assert!((millis(1_100)..=millis(3_100)).contains(&took), "{took:?}");
        assert_eq!(ctx.fault_counts().slow_subrequests, 1);
        // Off: the call as is.
        ctx.set_faults(SimulationFaults::default());
        let call = runtime.delay(millis(100));
        ctx.block(runtime.subrequest("https://api.example/", call));
        assert_eq!(ctx.elapsed() - took, millis(100));
    });
}

#[test]
fn buggify_fires_at_its_rate_and_is_marked_on_the_timeline() {
    let test = TestScheduler::new(TestSchedulerConfig {
        timeline: true,
        ..TestSchedulerConfig::with_seed(4)
    });
    let ctx = SimulatedExecutionContext::new(test.clone());
    let runtime = ctx.runtime();
    assert_eq!((0..1_000).filter(|_| runtime.buggify()).count(), 0, "off");
    ctx.set_faults(SimulationFaults {
        buggify: 0.25,
        ..SimulationFaults::default()
    });
    let fired = (0..4_000).filter(|_| runtime.buggify()).count();
    assert!((900..1_100).contains(&fired), "{fired} of 4000 at 0.25");
    assert_eq!(ctx.fault_counts().buggify, fired as u64);
    assert_eq!(ctx.fault_counts().total(), fired as u64);
    // Each firing is a fault mark naming the call's location (this file).
    let json = test.timeline_json();
    let marks = json.matches("buggify: ").count();
    assert_eq!(marks, fired, "one mark per firing");
    assert!(json.contains("cloud_faults.rs"));
    ctx.set_faults(SimulationFaults {
        buggify: 1.0,
        ..SimulationFaults::default()
    });
    assert!(runtime.buggify());
}

#[test]
fn one_seed_run_twice_gives_the_same_trace_and_the_same_faults() {
    let faults = || Some(SimulationFaults::all(0.3));
    let mut kinds = 0;
    for seed in 0..20 {
        let first = workload(seed, faults(), true);
        assert_eq!(workload(seed, faults(), true), first, "seed {seed}");
        kinds += first.2;
    }
    assert!(kinds > 0, "faults were injected");
    // Another seed, other faults: the comparison can fail.
    let records: Vec<_> = (0..20)
        .map(|seed| workload(seed, faults(), true).3)
        .collect();
    assert!(records.windows(2).any(|pair| pair[0] != pair[1]));
}
