//! Simulated Durable Objects (`SimulatedDurableObjectNamespace`): each gate rule, storage and
//! transactions with rollback, alarms at least once with retries and backoff on virtual time,
//! eviction and reset, each seeded fault, determinism per seed (whole traces), faults off
//! drawing nothing, the per-event leak report and track, and a counter object that stays exact
//! over many seeds with every fault on.

use scheduler::cloud::{
    AlarmInfo, DurableObjectEventKind, DurableObjectFailure, DurableObjectFaultKind,
    DurableObjectHandler, DurableObjectNamespace, DurableObjectState, ListOptions, LocalBoxFuture,
    PlatformRuntime, SchedulerRuntime, SimulatedDurableObjectNamespace,
    SimulatedDurableObjectState, SimulatedExecutionContext, SimulationFaults, StorageError,
    WaitUntilOutcome,
};
use scheduler::{TestScheduler, TestSchedulerConfig, TraceEvent, run_seeds};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What happened, in order, across instances (it outlives resets, like the outside world).
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn push(&self, line: impl Into<String>) {
        self.0.borrow_mut().push(line.into());
    }

    fn lines(&self) -> Vec<String> {
        self.0.borrow().clone()
    }

    fn position(&self, line: &str) -> Option<usize> {
        self.0.borrow().iter().position(|known| known == line)
    }
}

/// A scriptable object: each fetch carries the code it runs against the instance.
struct Probe {
    state: SimulatedDurableObjectState,
    runtime: SchedulerRuntime,
    /// In-memory state: lost with the instance.
    memory: Rc<Cell<u64>>,
    log: Log,
    alarm: AlarmScript,
}

type Script = Box<dyn FnOnce(Rc<Probe>) -> LocalBoxFuture<String>>;

struct ProbeHandle(Rc<Probe>);

impl DurableObjectHandler for ProbeHandle {
    type Request = Script;
    type Response = String;

    async fn fetch(&self, script: Script) -> String {
        script(self.0.clone()).await
    }

    async fn alarm(&self, info: AlarmInfo) -> Result<(), String> {
        let alarm = self.0.alarm.clone();
        alarm(self.0.clone(), info).await
    }
}

fn script<F>(body: impl FnOnce(Rc<Probe>) -> F + 'static) -> Script
where
    F: std::future::Future<Output = String> + 'static,
{
    Box::new(move |probe| Box::pin(body(probe)))
}

/// A simulated Worker with one `Probe` namespace.
struct World {
    test: Arc<TestScheduler>,
    ctx: SimulatedExecutionContext,
    probes: SimulatedDurableObjectNamespace<ProbeHandle>,
    log: Log,
}

type AlarmScript = Rc<dyn Fn(Rc<Probe>, AlarmInfo) -> LocalBoxFuture<Result<(), String>>>;

fn world(seed: u64) -> World {
    world_with(seed, Rc::new(|_, _| Box::pin(async { Ok(()) })), |_| {})
}

fn world_with(seed: u64, alarm: AlarmScript, constructor: impl Fn(&Probe) + 'static) -> World {
    let test = TestScheduler::new(TestSchedulerConfig {
        trace: true,
        timeline: true,
        ..TestSchedulerConfig::with_seed(seed)
    });
    let ctx = SimulatedExecutionContext::new(test.clone());
    let log = Log::default();
    let probes = {
        let (runtime, log) = (ctx.runtime(), log.clone());
        SimulatedDurableObjectNamespace::new(&ctx, "Probe", move |state| {
            let probe = Probe {
                state,
                runtime: runtime.clone(),
                memory: Rc::default(),
                log: log.clone(),
                alarm: alarm.clone(),
            };
            constructor(&probe);
            ProbeHandle(Rc::new(probe))
        })
    };
    World {
        test,
        ctx,
        probes,
        log,
    }
}

/// A future pending once (a point where other tasks may run) that is not storage.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            std::task::Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

// ---- The input gate ----

/// Sends A (which awaits something, then logs "A resumed") and B (which logs "B start") to
/// one object at once, over many seeds, and returns how often B started while A was waiting.
fn b_started_while_a_waited(a_awaits_storage: bool) -> u64 {
    let interleaved = Cell::new(0);
    run_seeds(|seed| {
        let w = world(seed);
        let stub = w.probes.get_by_name("gate");
        let a = stub.fetch(script(move |probe| async move {
            probe.log.push("A start");
            if a_awaits_storage {
                probe.state.storage().get::<u64>("k").await.unwrap();
            } else {
                yield_now().await;
            }
            probe.log.push("A resumed");
            String::new()
        }));
        let b = stub.fetch(script(|probe| async move {
            probe.log.push("B start");
            String::new()
        }));
        w.ctx.block(a).unwrap();
        w.ctx.block(b).unwrap();
        let (a_start, a_resumed, b_start) = (
            w.log.position("A start").unwrap(),
            w.log.position("A resumed").unwrap(),
            w.log.position("B start").unwrap(),
        );
        if a_start < b_start && b_start < a_resumed {
            interleaved.set(interleaved.get() + 1);
        }
    });
    interleaved.get()
}

#[test]
fn input_gate_no_event_is_delivered_while_the_object_awaits_its_storage() {
    assert_eq!(
        b_started_while_a_waited(true),
        0,
        "an event was delivered while another awaited its storage"
    );
    // Awaiting anything else opens the gate: the same schedule interleaves (the check can
    // fail).
    assert!(b_started_while_a_waited(false) > 0);
}

#[test]
fn input_gate_no_other_event_resumes_while_one_awaits_storage() {
    // A yields (not storage) between two log lines; B reads storage. A may be delivered
    // first and wait; while B's read is in flight, A must not resume.
    let seen = |b_awaits_storage: bool| {
        let resumed_inside = Cell::new(0);
        run_seeds(|seed| {
            let w = world(seed);
            let stub = w.probes.get_by_name("gate");
            let a = stub.fetch(script(|probe| async move {
                yield_now().await;
                yield_now().await;
                probe.log.push("A resumed");
                String::new()
            }));
            let b = stub.fetch(script(move |probe| async move {
                probe.log.push("B read start");
                if b_awaits_storage {
                    probe.state.storage().get::<u64>("k").await.unwrap();
                } else {
                    yield_now().await;
                }
                probe.log.push("B read end");
                String::new()
            }));
            w.ctx.block(a).unwrap();
            w.ctx.block(b).unwrap();
            let lines = w.log.lines();
            let at = |line: &str| lines.iter().position(|known| known == line).unwrap();
            if at("B read start") < at("A resumed") && at("A resumed") < at("B read end") {
                resumed_inside.set(resumed_inside.get() + 1);
            }
        });
        resumed_inside.get()
    };
    assert_eq!(
        seen(true),
        0,
        "an event resumed during another's storage read"
    );
    assert!(seen(false) > 0);
}

#[test]
fn block_concurrency_while_in_the_constructor_holds_back_the_first_event() {
    run_seeds(|seed| {
        let w = world_with(
            seed,
            Rc::new(|_, _| Box::pin(async { Ok(()) })),
            |probe: &Probe| {
                let (runtime, state) = (probe.runtime.clone(), probe.state.clone());
                let memory = probe.memory.clone();
                // Not awaited: the gate closes at the call.
                let _init = probe.state.block_concurrency_while(async move {
                    runtime.delay(secs(1)).await;
                    let stored = state.storage().get::<u64>("init").await?;
                    memory.set(stored.unwrap_or(41));
                    Ok::<(), StorageError>(())
                });
            },
        );
        let stub = w.probes.get_by_name("init");
        let test = w.test.clone();
        let first = stub.fetch(script(move |probe| async move {
            format!("{} {:?}", probe.memory.get(), test.elapsed())
        }));
        let second = stub.fetch(script(
            |probe| async move { probe.memory.get().to_string() },
        ));
        assert_eq!(w.ctx.block(first).unwrap(), "41 1s");
        assert_eq!(w.ctx.block(second).unwrap(), "41");
    });
}

#[test]
fn a_failing_or_late_block_concurrency_while_resets_the_object() {
    let w = world(0);
    let stub = w.probes.get_by_name("bcw");
    let failed = stub.fetch(script(|probe| async move {
        probe.memory.set(9);
        let result = probe
            .state
            .block_concurrency_while(async { Err::<(), _>("no config") })
            .await;
        format!("{result:?}")
    }));
    let failure = w.ctx.block(failed).unwrap_err();
    assert!(
        matches!(&failure, DurableObjectFailure::Reset(reason) if reason.contains("no config")),
        "{failure}"
    );
    let id = w.probes.id_from_name("bcw");
    assert_eq!(w.probes.incarnation(&id), 1);
    let memory = stub.fetch(script(
        |probe| async move { probe.memory.get().to_string() },
    ));
    assert_eq!(w.ctx.block(memory).unwrap(), "0", "in-memory state lost");

    let late = stub.fetch(script(|probe| async move {
        let runtime = probe.runtime.clone();
        let _ = probe
            .state
            .block_concurrency_while(async move {
                runtime.delay(secs(40)).await;
                Ok::<(), String>(())
            })
            .await;
        "not answered".to_string()
    }));
    let failure = w.ctx.block(late).unwrap_err();
    assert!(format!("{failure}").contains("ran past 30s"), "{failure}");
    assert_eq!(w.ctx.elapsed(), secs(30));
    assert_eq!(w.probes.incarnation(&id), 2);
}

// ---- The output gate ----

#[test]
fn output_gate_a_response_waits_until_the_writes_before_it_are_confirmed() {
    run_seeds(|seed| {
        let w = world(seed);
        let id = w.probes.id_from_name("out");
        let stub = w.probes.get(&id);
        let put = stub.fetch(script(|probe| async move {
            probe.state.storage().put("k", &7u64).await.unwrap();
            "written".to_string()
        }));
        // Checked the moment the response is seen, by the awaiting task.
        let probes = w.probes.clone();
        let seen = w.ctx.block(async move {
            let answer = put.await.unwrap();
            (answer, probes.stored::<u64>(&id, "k").unwrap())
        });
        assert_eq!(seen, ("written".to_string(), Some(7)));
    });
}

#[test]
fn a_failed_write_resets_the_object_and_its_response_becomes_an_error() {
    run_seeds(|seed| {
        let w = world(seed);
        w.ctx.set_faults(SimulationFaults {
            object_storage_failure: 1.0,
            ..SimulationFaults::default()
        });
        let id = w.probes.id_from_name("out");
        let stub = w.probes.get(&id);
        let put = stub.fetch(script(|probe| async move {
            probe.memory.set(5);
            let storage = probe.state.storage();
            // Two writes without an await between: confirmed (here: failed) together.
            storage.put("a", &1u64).await.unwrap();
            storage.put("b", &1u64).await.unwrap();
            "written".to_string()
        }));
        let failure = w.ctx.block(put).unwrap_err();
        assert!(
            matches!(failure, DurableObjectFailure::Reset(_)),
            "{failure}"
        );
        assert!(w.probes.stored_entries(&id).is_empty(), "nothing confirmed");
        w.ctx.set_faults(SimulationFaults::default());
        let after = stub.fetch(script(|probe| async move {
            let storage = probe.state.storage();
            let a = storage.get::<u64>("a").await.unwrap();
            format!("{a:?} {}", probe.memory.get())
        }));
        assert_eq!(w.ctx.block(after).unwrap(), "None 0");
        let faults = w.probes.faults();
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert_eq!(faults[0].kind, DurableObjectFaultKind::StorageFailure);
    });
}

#[test]
fn writes_made_without_an_await_between_are_confirmed_together() {
    let (mut both, mut neither) = (0, 0);
    for seed in 0..200 {
        let w = world(seed);
        w.ctx.set_faults(SimulationFaults {
            object_storage_failure: 0.5,
            ..SimulationFaults::default()
        });
        let id = w.probes.id_from_name("atomic");
        let put = w.probes.get(&id).fetch(script(|probe| async move {
            let storage = probe.state.storage();
            let (a, b) = (storage.put("a", &1u64), storage.put("b", &2u64));
            a.await.unwrap();
            b.await.unwrap();
            String::new()
        }));
        let _ = w.ctx.block(put);
        let stored = w.probes.stored_entries(&id);
        match stored.len() {
            2 => both += 1,
            0 => neither += 1,
            _ => panic!("seed {seed}: half of a coalesced write landed: {stored:?}"),
        }
    }
    assert!(both > 0 && neither > 0, "both {both}, neither {neither}");
}

#[test]
fn a_failed_read_resets_the_object_failing_delivered_events_not_waiting_ones() {
    let w = world(0);
    let id = w.probes.id_from_name("reader");
    let stub = w.probes.get(&id);
    // B is delivered first and waits (not on storage).
    let b = stub.fetch(script(|probe| async move {
        probe.memory.set(3);
        probe.runtime.delay(secs(5)).await;
        "B done".to_string()
    }));
    w.test.run_until_parked();
    w.ctx.set_faults(SimulationFaults {
        object_storage_failure: 1.0,
        ..SimulationFaults::default()
    });
    let a = stub.fetch(script(|probe| async move {
        probe.log.push("A reading");
        let read = probe.state.storage().get::<u64>("k").await;
        format!("A went on after {read:?}")
    }));
    while w.log.position("A reading").is_none() {
        assert!(w.test.tick());
    }
    // C is sent while A's read holds the gate: not delivered before the reset.
    let c = stub.fetch(script(|probe| async move {
        format!("C sees memory {}", probe.memory.get())
    }));
    assert!(matches!(
        w.ctx.block(a).unwrap_err(),
        DurableObjectFailure::Reset(_)
    ));
    assert!(matches!(
        w.ctx.block(b).unwrap_err(),
        DurableObjectFailure::Reset(_)
    ));
    assert_eq!(w.ctx.block(c).unwrap(), "C sees memory 0");
    assert_eq!(w.probes.incarnation(&id), 1);
    assert_eq!(w.probes.counts().resets, 1);
}

// ---- Storage and transactions ----

#[test]
fn storage_get_put_delete_list_and_bad_keys() {
    let w = world(0);
    let stub = w.probes.get_by_name("kv");
    let run = stub.fetch(script(|probe| async move {
        let storage = probe.state.storage();
        for (key, value) in [("b", 2u64), ("a", 1), ("c", 3), ("x:1", 10), ("x:2", 20)] {
            storage.put(key, &value).await.unwrap();
        }
        let mut out = Vec::new();
        out.push(format!("{:?}", storage.get::<u64>("b").await));
        out.push(format!("{:?}", storage.get::<u64>("zz").await));
        out.push(format!("{:?}", storage.get::<String>("a").await));
        out.push(format!("{:?}", storage.delete("c").await));
        out.push(format!("{:?}", storage.delete("c").await));
        let all = storage.list::<u64>(ListOptions::new()).await.unwrap();
        out.push(format!("{all:?}"));
        let some = ListOptions::new()
            .start("a")
            .end("x:2")
            .reverse(true)
            .limit(2);
        out.push(format!("{:?}", storage.list::<u64>(some).await.unwrap()));
        let prefixed = ListOptions::new().prefix("x:");
        out.push(format!(
            "{:?}",
            storage.list::<u64>(prefixed).await.unwrap()
        ));
        let long = "k".repeat(2049);
        out.push(format!("{:?}", storage.put(&long, &1u64).await));
        out.push(format!("{:?}", storage.get::<bool>("a").await));
        out.join("\n")
    }));
    let answer = w.ctx.block(run).unwrap();
    let lines: Vec<&str> = answer.lines().collect();
    assert_eq!(lines[0], "Ok(Some(2))");
    assert_eq!(lines[1], "Ok(None)");
    assert_eq!(
        lines[2], "Ok(Some(\"1\"))",
        "integers are stored as decimal text"
    );
    assert_eq!(lines[3..5], ["Ok(true)", "Ok(false)"]);
    assert_eq!(
        lines[5],
        r#"[("a", 1), ("b", 2), ("x:1", 10), ("x:2", 20)]"#
    );
    assert_eq!(lines[6], r#"[("x:1", 10), ("b", 2)]"#);
    assert_eq!(lines[7], r#"[("x:1", 10), ("x:2", 20)]"#);
    assert!(lines[8].starts_with("Err(Invalid("), "{}", lines[8]);
    assert!(lines[9].starts_with("Err(Decode"), "{}", lines[9]);
}

#[test]
fn a_transaction_commits_together_or_rolls_back() {
    let w = world(0);
    let id = w.probes.id_from_name("txn");
    let stub = w.probes.get(&id);
    let committed = stub.fetch(script(|probe| async move {
        let storage = probe.state.storage();
        storage.put("a", &1u64).await.unwrap();
        let seen = storage
            .transaction(|txn| async move {
                txn.put("a", &2u64).await?;
                txn.put("b", &2u64).await?;
                txn.delete("gone").await?;
                let a = txn.get::<u64>("a").await?;
                let listed = txn.list::<u64>(ListOptions::new()).await?;
                Ok(format!("{a:?} {listed:?}"))
            })
            .await;
        format!("{seen:?}")
    }));
    assert_eq!(
        w.ctx.block(committed).unwrap(),
        r#"Ok("Some(2) [(\"a\", 2), (\"b\", 2)]")"#
    );
    assert_eq!(w.probes.stored::<u64>(&id, "a"), Ok(Some(2)));
    assert_eq!(w.probes.stored::<u64>(&id, "b"), Ok(Some(2)));

    let failed = stub.fetch(script(|probe| async move {
        let result = probe
            .state
            .storage()
            .transaction(|txn| async move {
                txn.put("a", &3u64).await?;
                txn.put("c", &3u64).await?;
                Err::<(), _>(StorageError::Invalid("changed my mind".into()))
            })
            .await;
        format!("{result:?}")
    }));
    assert!(w.ctx.block(failed).unwrap().contains("changed my mind"));

    let rolled_back = stub.fetch(script(|probe| async move {
        let result = probe
            .state
            .storage()
            .transaction(|txn| async move {
                txn.put("a", &4u64).await?;
                txn.rollback()?;
                let after = txn.get::<u64>("a").await;
                Ok(format!("{after:?}"))
            })
            .await;
        format!("{result:?}")
    }));
    let answer = w.ctx.block(rolled_back).unwrap();
    assert!(answer.starts_with("Ok(\"Err(Invalid("), "{answer}");
    assert_eq!(
        w.probes.stored::<u64>(&id, "a"),
        Ok(Some(2)),
        "nothing committed"
    );
    assert_eq!(w.probes.stored::<u64>(&id, "c"), Ok(None));
}

#[test]
fn a_transaction_holds_the_input_gate_for_its_whole_run() {
    run_seeds(|seed| {
        let w = world(seed);
        let stub = w.probes.get_by_name("txn");
        let a = stub.fetch(script(|probe| async move {
            let runtime = probe.runtime.clone();
            let log = probe.log.clone();
            probe
                .state
                .storage()
                .transaction(move |txn| async move {
                    log.push("txn start");
                    txn.put("x", &1u64).await?;
                    runtime.delay(secs(1)).await; // not storage, yet the gate stays closed
                    log.push("txn end");
                    Ok(())
                })
                .await
                .unwrap();
            String::new()
        }));
        let b = stub.fetch(script(|probe| async move {
            probe.log.push("B");
            String::new()
        }));
        w.ctx.block(a).unwrap();
        w.ctx.block(b).unwrap();
        let lines = w.log.lines();
        assert!(
            lines == ["txn start", "txn end", "B"] || lines == ["B", "txn start", "txn end"],
            "{lines:?}"
        );
    });
}

// ---- Alarms ----

/// The times (since the context started) and retry counts of the alarm runs, with outcomes.
fn alarm_runs(w: &World) -> Vec<(Duration, u32, bool)> {
    w.probes
        .events()
        .into_iter()
        .filter_map(|event| match event.kind {
            DurableObjectEventKind::Alarm { retry_count } => Some((
                event.sent_at,
                retry_count,
                event.outcome.as_ref().is_some_and(|o| o.is_completed()),
            )),
            DurableObjectEventKind::Fetch => None,
        })
        .collect()
}

fn set_alarm_in(w: &World, delay: Duration) {
    let set = w
        .probes
        .get_by_name("alarm")
        .fetch(script(move |probe| async move {
            probe.state.storage().set_alarm_in(delay).await.unwrap();
            let at = probe.state.storage().get_alarm().await.unwrap();
            format!("{}", at.is_some())
        }));
    assert_eq!(w.ctx.block(set).unwrap(), "true");
}

#[test]
fn an_alarm_fires_on_virtual_time_and_a_failing_one_is_retried_with_backoff() {
    let runs = Rc::new(Cell::new(0u32));
    let counted = runs.clone();
    let w = world_with(
        0,
        Rc::new(move |probe, info| {
            let counted = counted.clone();
            Box::pin(async move {
                counted.set(counted.get() + 1);
                let during = probe.state.storage().get_alarm().await.unwrap();
                assert_eq!(during, None, "no alarm is set during its own run");
                assert_eq!(info.is_retry(), info.retry_count != Some(0));
                if info.retry_count < Some(3) {
                    Err(format!("run {} fails", counted.get()))
                } else {
                    Ok(())
                }
            })
        }),
        |_| {},
    );
    set_alarm_in(&w, secs(10));
    let id = w.probes.id_from_name("alarm");
    assert!(w.probes.alarm(&id).is_some());
    w.test.advance_clock(secs(100));
    assert_eq!(
        alarm_runs(&w),
        [
            (secs(10), 0, false),
            (secs(12), 1, false),
            (secs(16), 2, false),
            (secs(24), 3, true),
        ]
    );
    assert_eq!(runs.get(), 4);
    assert_eq!(w.probes.alarm(&id), None, "done: no alarm left");
    assert_eq!(w.probes.counts().alarm_retries, 3);
}

#[test]
fn an_alarm_that_always_fails_is_retried_six_times_then_given_up() {
    let w = world_with(
        0,
        Rc::new(|_, _| Box::pin(async { Err("always".to_string()) })),
        |_| {},
    );
    set_alarm_in(&w, secs(10));
    w.test.advance_clock(secs(1000));
    let times: Vec<_> = alarm_runs(&w)
        .into_iter()
        .map(|(at, n, _)| (at, n))
        .collect();
    assert_eq!(
        times,
        [
            (secs(10), 0),
            (secs(12), 1),
            (secs(16), 2),
            (secs(24), 3),
            (secs(40), 4),
            (secs(72), 5),
            (secs(136), 6),
        ]
    );
    assert_eq!(w.probes.counts().alarms_given_up, 1);
    assert_eq!(w.probes.alarm(&w.probes.id_from_name("alarm")), None);
}

#[test]
fn alarms_run_at_least_once_an_injected_failure_runs_the_handler_again() {
    let w = world_with(
        0,
        Rc::new(|probe, _| {
            Box::pin(async move {
                let storage = probe.state.storage();
                let runs = storage
                    .get::<u64>("runs")
                    .await
                    .map_err(|e| e.to_string())?;
                storage
                    .put("runs", &(runs.unwrap_or(0) + 1))
                    .await
                    .map_err(|e| e.to_string())
            })
        }),
        |_| {},
    );
    set_alarm_in(&w, secs(1));
    w.ctx.set_faults(SimulationFaults {
        alarm_failure: 1.0,
        ..SimulationFaults::default()
    });
    w.test.advance_clock(secs(1000));
    let id = w.probes.id_from_name("alarm");
    // Every run's write stood; every run counted as failed: 1 run + 6 retries.
    assert_eq!(w.probes.stored::<u64>(&id, "runs"), Ok(Some(7)));
    assert_eq!(w.probes.counts().alarm_failures_injected, 7);
    assert_eq!(w.probes.counts().alarms_given_up, 1);
}

#[test]
fn an_alarm_handler_that_deletes_its_alarm_is_not_retried_one_that_sets_a_new_one_runs_it() {
    let w = world_with(
        0,
        Rc::new(|probe, info| {
            Box::pin(async move {
                let storage = probe.state.storage();
                if info.retry_count == Some(0) && probe.memory.get() == 0 {
                    probe.memory.set(1);
                    storage.set_alarm_in(secs(50)).await.unwrap();
                    return Err("failed after setting a new alarm".into());
                }
                storage.delete_alarm().await.unwrap();
                Err("failed after deleting the alarm".into())
            })
        }),
        |_| {},
    );
    set_alarm_in(&w, secs(10));
    w.test.advance_clock(secs(1000));
    let runs: Vec<_> = alarm_runs(&w)
        .into_iter()
        .map(|(at, n, _)| (at, n))
        .collect();
    assert_eq!(runs, [(secs(10), 0), (secs(60), 0)]);
    assert_eq!(w.probes.counts().alarm_retries, 0);
}

// ---- Eviction, reset ----

#[test]
fn eviction_loses_in_memory_state_and_keeps_storage() {
    let w = world(0);
    let id = w.probes.id_from_name("evict");
    let stub = w.probes.get(&id);
    let write = stub.fetch(script(|probe| async move {
        probe.memory.set(5);
        probe.state.storage().put("k", &5u64).await.unwrap();
        String::new()
    }));
    w.ctx.block(write).unwrap();
    assert!(w.probes.evict(&id));
    assert!(!w.probes.evict(&id), "nothing in memory to evict");
    let read = stub.fetch(script(|probe| async move {
        let stored = probe.state.storage().get::<u64>("k").await.unwrap();
        format!(
            "{} {stored:?} {}",
            probe.memory.get(),
            probe.state.incarnation()
        )
    }));
    assert_eq!(w.ctx.block(read).unwrap(), "0 Some(5) 1");
    assert_eq!(w.probes.counts().evictions, 1);
}

#[test]
fn an_object_with_an_event_in_flight_is_not_evicted_but_can_be_reset() {
    let w = world(0);
    let id = w.probes.id_from_name("busy");
    let stub = w.probes.get(&id);
    let busy = stub.fetch(script(|probe| async move {
        probe.runtime.delay(secs(1)).await;
        String::new()
    }));
    w.test.run_until_parked();
    assert!(!w.probes.evict(&id));
    w.probes.reset(&id, "asked by the test");
    let failure = w.ctx.block(busy).unwrap_err();
    assert_eq!(
        failure,
        DurableObjectFailure::Reset("asked by the test".into())
    );
    // Answered, but its wait_until work is pending: not idle either.
    let answered = stub.fetch(script(|probe| async move {
        let runtime = probe.runtime.clone();
        probe
            .state
            .wait_until(async move { runtime.delay(secs(1)).await });
        String::new()
    }));
    let session = answered.session();
    w.ctx.block(answered).unwrap();
    assert!(!w.probes.evict(&id));
    w.ctx.wait_on_execution_context(session);
    assert!(w.probes.evict(&id));
}

#[test]
fn injected_eviction_and_reset_faults() {
    // Eviction: before each event of an idle object.
    let w = world(0);
    w.ctx.set_faults(SimulationFaults {
        object_eviction: 1.0,
        ..SimulationFaults::default()
    });
    let stub = w.probes.get_by_name("f");
    for expected in ["0 0", "0 1", "0 2"] {
        let event = stub.fetch(script(|probe| async move {
            let before = probe.memory.get();
            probe.memory.set(before + 1);
            format!("{before} {}", probe.state.incarnation())
        }));
        assert_eq!(w.ctx.block(event).unwrap(), expected);
    }
    // The first event finds nothing in memory: two evictions.
    assert_eq!(w.probes.counts().evictions_injected, 2);

    // Reset: at a drawn moment within 10 ms of the event, here while it waits 1 s.
    let w = world(0);
    w.ctx.set_faults(SimulationFaults {
        object_reset: 1.0,
        object_reset_within: millis(10),
        ..SimulationFaults::default()
    });
    let slow = w.probes.get_by_name("f").fetch(script(|probe| async move {
        probe.runtime.delay(secs(1)).await;
        String::new()
    }));
    assert!(matches!(
        w.ctx.block(slow).unwrap_err(),
        DurableObjectFailure::Reset(reason) if reason.starts_with("injected")
    ));
    assert!(w.ctx.elapsed() <= millis(10));
    let kinds: Vec<_> = w.probes.faults().into_iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [DurableObjectFaultKind::Reset]);
}

#[test]
fn a_panicking_handler_fails_only_its_event() {
    let w = world(0);
    let id = w.probes.id_from_name("panic");
    let stub = w.probes.get(&id);
    let set = stub.fetch(script(|probe| async move {
        probe.memory.set(8);
        String::new()
    }));
    w.ctx.block(set).unwrap();
    let panics = stub.fetch(script(|_| async move { panic!("bad input") }));
    assert_eq!(
        w.ctx.block(panics).unwrap_err(),
        DurableObjectFailure::Panicked("bad input".into())
    );
    let after = stub.fetch(script(
        |probe| async move { probe.memory.get().to_string() },
    ));
    assert_eq!(w.ctx.block(after).unwrap(), "8", "not reset");
    assert_eq!(w.probes.incarnation(&id), 0);
}

#[test]
fn an_isolate_reset_fails_the_objects_events_in_flight_and_resets_them() {
    let w = world(0);
    let id = w.probes.id_from_name("iso");
    let stub = w.probes.get(&id);
    let busy = stub.fetch(script(|probe| async move {
        probe.memory.set(2);
        probe.state.storage().put("k", &2u64).await.unwrap();
        probe.runtime.delay(secs(1)).await;
        String::new()
    }));
    w.test.run_until_parked();
    w.ctx.reset_isolate();
    assert!(matches!(
        w.ctx.block(busy).unwrap_err(),
        DurableObjectFailure::Reset(_)
    ));
    let after = stub.fetch(script(
        |probe| async move { probe.memory.get().to_string() },
    ));
    assert_eq!(w.ctx.block(after).unwrap(), "0");
    assert_eq!(w.probes.incarnation(&id), 1);
}

// ---- Sessions: wait_until, the leak report, the timeline track ----

#[test]
fn each_event_is_a_session_with_wait_until_and_the_same_leak_report_as_a_request() {
    let w = world(0);
    let id = w.probes.id_from_name("sessions");
    let stub = w.probes.get(&id);
    let answered = stub.fetch(script(|probe| async move {
        let (storage, runtime) = (probe.state.storage(), probe.runtime.clone());
        probe.state.wait_until(async move {
            runtime.delay(secs(1)).await;
            storage.put("later", &1u64).await.unwrap();
        });
        "answered".to_string()
    }));
    let session = answered.session();
    assert_eq!(w.ctx.block(answered).unwrap(), "answered");
    let jobs = w.ctx.wait_on_execution_context(session);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].outcome, WaitUntilOutcome::Completed);
    assert_eq!(jobs[0].task.session(), Some(session));
    w.test.run_until_parked();
    assert_eq!(w.probes.stored::<u64>(&id, "later"), Ok(Some(1)));
    w.ctx.validate_session_cleanup(session).unwrap();
    assert_eq!(w.probes.object_of_session(session), Some(id.clone()));

    let leaky = stub.fetch(script(|probe| async move {
        let runtime = probe.runtime.clone();
        probe
            .runtime
            .spawn(async move { runtime.delay(secs(100)).await })
            .detach();
        String::new()
    }));
    let session = leaky.session();
    w.ctx.block(leaky).unwrap();
    w.ctx.wait_on_execution_context(session);
    let leak = w.ctx.validate_session_cleanup(session).unwrap_err();
    assert_eq!(leak.dangling_tasks().len(), 1, "{leak}");
    assert_eq!(
        w.ctx
            .session_report(session)
            .unwrap()
            .cancelled_at_end
            .len(),
        1
    );
}

#[test]
fn each_object_has_its_own_track_on_the_timeline() {
    let w = world(0);
    for name in ["a", "b", "a"] {
        let event = w.probes.get_by_name(name).fetch(script(|probe| async move {
            probe.state.storage().put("k", &1u64).await.unwrap();
            String::new()
        }));
        w.ctx.block(event).unwrap();
    }
    let json = w.test.timeline_json();
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    let tracks: BTreeSet<String> = document["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["name"] == "thread_name")
        .map(|event| event["args"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(tracks.contains("durable object Probe:a"), "{tracks:?}");
    assert!(tracks.contains("durable object Probe:b"), "{tracks:?}");
    assert!(
        !tracks.iter().any(|track| track.starts_with("session#")),
        "every event session is drawn on its object's track: {tracks:?}"
    );
    // The event polls are on the object's track.
    assert!(json.contains("durable object Probe:a"));
}

// ---- Determinism ----

/// A counter object written against the shared API. `fetch(request)` waits `pause` (other
/// work of the object), reads the count, and issues in one step (confirmed together) the new
/// count, the record `applied:<request>` of which count this request got, and an alarm whose
/// run copies the count to `snapshot`.
struct Counter<S: DurableObjectState, R: PlatformRuntime> {
    state: S,
    runtime: R,
    pause: Option<Duration>,
}

impl<S: DurableObjectState + 'static, R: PlatformRuntime + 'static> DurableObjectHandler
    for Counter<S, R>
{
    type Request = u64;
    type Response = Result<u64, String>;

    async fn fetch(&self, request: u64) -> Result<u64, String> {
        if let Some(pause) = self.pause {
            self.runtime.delay(pause).await;
        }
        let storage = self.state.storage();
        let count = storage
            .get::<u64>("count")
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or(0)
            + 1;
        let writes = [
            storage.put("count", &count),
            storage.put(&format!("applied:{request:05}"), &count),
            storage.set_alarm_in(secs(5)),
        ];
        for write in writes {
            write.await.map_err(|e| e.to_string())?;
        }
        Ok(count)
    }

    async fn alarm(&self, _: AlarmInfo) -> Result<(), String> {
        let storage = self.state.storage();
        let count = storage
            .get::<u64>("count")
            .await
            .map_err(|e| e.to_string())?;
        storage
            .put("snapshot", &count.unwrap_or(0))
            .await
            .map_err(|e| e.to_string())
    }
}

/// The accounting of one counter after a run: every request answered OK was applied exactly
/// once, with the count it was answered; the counts applied are exactly `1..=count` (none
/// given twice, none skipped); the alarm (at least once) caught up. A request that failed was
/// applied once or not at all. Returns (answered OK, applied).
fn check_counter<H: DurableObjectHandler>(
    counters: &SimulatedDurableObjectNamespace<H>,
    name: &str,
    answered: &[(u64, u64)],
    context: &str,
) -> (u64, u64) {
    let id = counters.id_from_name(name);
    let entries = counters.stored_entries(&id);
    let count = counters.stored::<u64>(&id, "count").unwrap().unwrap_or(0);
    let applied: std::collections::BTreeMap<u64, u64> = entries
        .iter()
        .filter_map(|(key, value)| {
            let request = key.strip_prefix("applied:")?.parse().unwrap();
            Some((
                request,
                String::from_utf8(value.clone()).unwrap().parse().unwrap(),
            ))
        })
        .collect();
    let mut counts: Vec<u64> = applied.values().copied().collect();
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=count).collect::<Vec<_>>(),
        "{context}: {name}'s applied counts must be 1..={count}, each once"
    );
    for &(request, answer) in answered {
        assert_eq!(
            applied.get(&request),
            Some(&answer),
            "{context}: {name}: request {request} was answered {answer} but applied as {:?}",
            applied.get(&request)
        );
    }
    let snapshot = counters
        .stored::<u64>(&id, "snapshot")
        .unwrap()
        .unwrap_or(0);
    assert_eq!(snapshot, count, "{context}: {name}'s alarm never caught up");
    (answered.len() as u64, count)
}

/// What one run of the counter workload produced.
#[derive(Debug, PartialEq)]
struct CounterRun {
    trace: Vec<TraceEvent>,
    events: Vec<String>,
    faults: Vec<String>,
    next_draw: u64,
    /// Per Worker request: the count its object answered, or why it failed.
    answers: Vec<Result<u64, String>>,
    /// Per counter: (answered OK, applied).
    accounting: Vec<(u64, u64)>,
}

const COUNTERS: [&str; 3] = ["click", "view", "buy"];

/// 24 Worker requests (`ctx.serve`), each sending one increment to one of three counters;
/// `faults` on the context; the clock then runs far enough for every alarm to settle. Checks
/// each counter's accounting.
fn counter_run(seed: u64, faults: Option<SimulationFaults>) -> CounterRun {
    let test = TestScheduler::new(TestSchedulerConfig {
        trace: true,
        ..TestSchedulerConfig::with_seed(seed)
    });
    let ctx = SimulatedExecutionContext::new(test.clone());
    if let Some(faults) = faults {
        ctx.set_faults(faults);
    }
    let runtime = ctx.runtime();
    let counters = SimulatedDurableObjectNamespace::new(&ctx, "Counter", move |state| Counter {
        state,
        runtime: runtime.clone(),
        pause: Some(millis(2)),
    });
    let answered = Rc::new(RefCell::new(Vec::new()));
    let requests: Vec<_> = (0..24u64)
        .map(|request| {
            let (counters, runtime, answered) = (counters.clone(), ctx.runtime(), answered.clone());
            ctx.serve(async move {
                runtime.delay(millis(3 * request)).await;
                let name = COUNTERS[(request % 3) as usize];
                match counters.get_by_name(name).fetch(request).await {
                    Ok(Ok(count)) => {
                        answered.borrow_mut().push((name, request, count));
                        Ok(count)
                    }
                    Ok(Err(error)) => Err(error),
                    Err(failure) => Err(failure.to_string()),
                }
            })
        })
        .collect();
    let answers: Vec<_> = requests
        .into_iter()
        .map(|request| match ctx.block(request) {
            Ok(answer) => answer,
            Err(failed) => Err(failed.to_string()),
        })
        .collect();
    test.advance_clock(secs(2000));
    let accounting = COUNTERS
        .iter()
        .map(|name| {
            let mine: Vec<(u64, u64)> = answered
                .borrow()
                .iter()
                .filter(|(object, _, _)| object == name)
                .map(|&(_, request, count)| (request, count))
                .collect();
            check_counter(&counters, name, &mine, &format!("seed {seed}"))
        })
        .collect();
    CounterRun {
        trace: test.take_trace(),
        events: counters.events().iter().map(ToString::to_string).collect(),
        faults: counters.faults().iter().map(ToString::to_string).collect(),
        next_draw: test.random_range(0..u64::MAX),
        answers,
        accounting,
    }
}

/// Every fault on: the object faults at `rate`, the Worker's at a fraction of it (an isolate
/// reset fails every request in flight, and all 24 are in flight at once).
fn every_fault(rate: f64) -> SimulationFaults {
    SimulationFaults {
        object_reset_within: millis(20),
        client_disconnect: rate / 2.0,
        disconnect_within: millis(40),
        isolate_reset: rate / 16.0,
        reset_within: millis(100),
        ..SimulationFaults::all(rate)
    }
}

#[test]
fn one_seed_twice_gives_the_same_whole_trace() {
    for seed in 0..10 {
        let faults = || Some(every_fault(0.1));
        let first = counter_run(seed, faults());
        assert!(!first.trace.is_empty());
        assert_eq!(first, counter_run(seed, faults()), "seed {seed}");
    }
    // Different seeds differ (the check can fail).
    assert_ne!(
        counter_run(1, Some(every_fault(0.1))).trace,
        counter_run(2, Some(every_fault(0.1))).trace
    );
}

#[test]
fn faults_off_draw_nothing() {
    for seed in 0..10 {
        let never_set = counter_run(seed, None);
        let default = counter_run(seed, Some(SimulationFaults::default()));
        assert_eq!(never_set, default, "seed {seed}");
        assert!(never_set.faults.is_empty());
        assert!(never_set.answers.iter().all(Result::is_ok));
    }
    // With faults on, draws happen (the check above can fail).
    assert_ne!(
        counter_run(0, None).next_draw,
        counter_run(0, Some(every_fault(0.3))).next_draw
    );
}

#[test]
fn the_counter_is_exact_over_seeds_with_every_fault_on() {
    let totals = RefCell::new((0u64, 0u64, 0u64, 0u64)); // requests, answered OK, applied, faults
    run_seeds(|seed| {
        // counter_run checks each counter's accounting (see check_counter).
        let run = counter_run(seed, Some(every_fault(0.08)));
        let mut totals = totals.borrow_mut();
        totals.0 += run.answers.len() as u64;
        for (answered, applied) in &run.accounting {
            totals.1 += answered;
            totals.2 += applied;
        }
        totals.3 += run.faults.len() as u64;
    });
    let (requests, ok, applied, faults) = *totals.borrow();
    println!(
        "counter: {requests} increments sent, {ok} answered OK (each applied exactly once), \
         {} more applied although their request was reported failed, {faults} object faults",
        applied - ok
    );
    assert!(ok < requests && faults > 0, "the faults hit nothing");
    assert!(
        ok > requests / 2,
        "too few requests got through to mean anything"
    );
}

#[test]
fn a_burst_of_increments_to_one_object_is_exact_over_seeds_with_object_faults() {
    // Sixteen increments sent at once, straight to one object: the densest interleaving of
    // its gates with resets, evictions and failed reads and writes.
    let failed = Cell::new(0u64);
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        ctx.set_faults(SimulationFaults {
            object_storage_failure: 0.1,
            object_reset: 0.1,
            object_reset_within: millis(5),
            object_eviction: 0.1,
            ..SimulationFaults::default()
        });
        let runtime = ctx.runtime();
        let counters =
            SimulatedDurableObjectNamespace::new(&ctx, "Counter", move |state| Counter {
                state,
                runtime: runtime.clone(),
                pause: None,
            });
        let stub = counters.get_by_name("click");
        let requests: Vec<_> = (0..16)
            .map(|request| (request, stub.fetch(request)))
            .collect();
        let answered: Vec<(u64, u64)> = requests
            .into_iter()
            .filter_map(|(request, sent)| match ctx.block(sent) {
                Ok(Ok(count)) => Some((request, count)),
                _ => None,
            })
            .collect();
        test.advance_clock(secs(100));
        let (ok, _) = check_counter(&counters, "click", &answered, &format!("seed {seed}"));
        failed.set(failed.get() + 16 - ok);
    });
    assert!(failed.get() > 0, "the faults hit nothing");
}

#[test]
fn a_worker_handler_reaches_an_object_through_its_stub() {
    // The Worker's side (a request of the context) and the object's (its own session).
    let w = world(0);
    let probes = w.probes.clone();
    let request = w.ctx.serve(async move {
        let stub = probes.get_by_name("from-worker");
        let answer = stub.fetch(script(|_| async { "pong".to_string() }));
        answer.await.unwrap()
    });
    let worker_session = request.session();
    assert_eq!(w.ctx.block(request).unwrap(), "pong");
    let event = &w.probes.events()[0];
    assert_ne!(event.session, worker_session);
    assert!(event.outcome.as_ref().unwrap().is_completed());
}

/// Worker code written against the namespace trait (what the Worker's code takes, so it runs
/// over the real binding on workerd too).
async fn ask(
    probes: &dyn DurableObjectNamespace<Request = Script, Response = String>,
    name: &str,
    line: &'static str,
) -> Result<String, DurableObjectFailure> {
    probes
        .send(
            name,
            script(move |probe| async move {
                probe.log.push(line);
                probe.state.id().short()
            }),
        )
        .await
}

#[test]
fn the_namespace_trait_sends_to_the_object_named_at_the_call_and_reports_its_failures() {
    run_seeds(|seed| {
        let w = world(seed);
        let probes: Rc<dyn DurableObjectNamespace<Request = Script, Response = String>> =
            Rc::new(w.probes.clone());
        // Each name is its own object: the answer is the object's own id.
        assert_eq!(w.ctx.block(ask(&*probes, "a", "to a")).unwrap(), "a");
        assert_eq!(w.ctx.block(ask(&*probes, "b", "to b")).unwrap(), "b");
        let objects: Vec<_> = w.probes.events().iter().map(|e| e.object.clone()).collect();
        assert_eq!(
            objects,
            [w.probes.id_from_name("a"), w.probes.id_from_name("b")]
        );
        // Sent by the call: a request whose future is dropped unpolled still runs.
        drop(probes.send(
            "a",
            script(|probe| async move {
                probe.log.push("dropped, still delivered");
                String::new()
            }),
        ));
        let scheduler: Arc<dyn scheduler::Scheduler> = w.test.clone();
        w.ctx.block(scheduler.timer(secs(1)));
        assert!(w.log.position("dropped, still delivered").is_some());
        // A reset replaces the response with the failure, as the stub's fetch would.
        w.ctx.set_faults(SimulationFaults {
            object_storage_failure: 1.0,
            ..SimulationFaults::default()
        });
        let failed = w.ctx.block(probes.send(
            "a",
            script(|probe| async move {
                let _ = probe.state.storage().get::<u64>("k").await;
                "unreachable".to_string()
            }),
        ));
        assert!(
            matches!(failed, Err(DurableObjectFailure::Reset(_))),
            "{failed:?}"
        );
    });
}

/// What a `Mixed` object is asked: add one to both `a` and `b`, in one of four ways.
#[derive(Clone, Copy, Debug)]
enum Increment {
    /// In a transaction.
    Transaction,
    /// Two reads, then two writes with no await between (coalesced).
    Coalesced,
    /// The same after a pause (a timer: the gate opens before the reads).
    Paused,
    /// Inside `block_concurrency_while`, with a pause between the reads.
    Blocking,
}

/// An object whose keys `a` and `b` must always be equal, however they are incremented.
struct Mixed {
    state: SimulatedDurableObjectState,
    runtime: SchedulerRuntime,
}

fn text(error: impl std::fmt::Display) -> String {
    error.to_string()
}

impl DurableObjectHandler for Mixed {
    type Request = Increment;
    type Response = Result<u64, String>;

    async fn fetch(&self, increment: Increment) -> Result<u64, String> {
        let storage = self.state.storage();
        match increment {
            Increment::Transaction => storage
                .transaction(|txn| async move {
                    let a = txn.get::<u64>("a").await?.unwrap_or(0) + 1;
                    let b = txn.get::<u64>("b").await?.unwrap_or(0) + 1;
                    txn.put("a", &a).await?;
                    txn.put("b", &b).await?;
                    Ok(a)
                })
                .await
                .map_err(text),
            Increment::Coalesced | Increment::Paused => {
                if let Increment::Paused = increment {
                    self.runtime.delay(millis(1)).await;
                }
                let a = storage.get::<u64>("a").await.map_err(text)?.unwrap_or(0) + 1;
                let b = storage.get::<u64>("b").await.map_err(text)?.unwrap_or(0) + 1;
                let (put_a, put_b) = (storage.put("a", &a), storage.put("b", &b));
                put_a.await.map_err(text)?;
                put_b.await.map_err(text)?;
                Ok(a)
            }
            Increment::Blocking => {
                let (storage, runtime) = (storage.clone(), self.runtime.clone());
                self.state
                    .block_concurrency_while(async move {
                        let a = storage.get::<u64>("a").await?.unwrap_or(0) + 1;
                        runtime.delay(millis(1)).await; // the gate stays closed
                        let b = storage.get::<u64>("b").await?.unwrap_or(0) + 1;
                        let (put_a, put_b) = (storage.put("a", &a), storage.put("b", &b));
                        put_a.await?;
                        put_b.await?;
                        Ok::<u64, StorageError>(a)
                    })
                    .await
                    .map_err(text)
            }
        }
    }
}

/// Worker requests sending 24 increments (of the first `kinds` ways, drawn) to two objects,
/// with every fault on; checks each object's `a == b`, that no answer was given twice, and
/// returns (answers, stored increments beyond the completed events).
fn mixed_run(seed: u64, kinds: u64) -> (u64, u64) {
    let test = TestScheduler::with_seed(seed);
    let ctx = SimulatedExecutionContext::new(test.clone());
    ctx.set_faults(SimulationFaults {
        object_storage_failure: 0.05,
        object_reset: 0.05,
        object_reset_within: millis(3),
        object_eviction: 0.1,
        isolate_reset: 0.01,
        reset_within: millis(5),
        client_disconnect: 0.02,
        disconnect_within: millis(5),
        ..SimulationFaults::default()
    });
    let runtime = ctx.runtime();
    let mixed = SimulatedDurableObjectNamespace::new(&ctx, "Mixed", move |state| Mixed {
        state,
        runtime: runtime.clone(),
    });
    let answers = Rc::new(RefCell::new(Vec::new()));
    let requests: Vec<_> = (0..24u64)
        .map(|i| {
            let kind = [
                Increment::Transaction,
                Increment::Coalesced,
                Increment::Paused,
                Increment::Blocking,
            ][test.random_range(0..kinds) as usize];
            let name = ["x", "y"][(i % 2) as usize];
            let (stub, answers, runtime) =
                (mixed.get_by_name(name), answers.clone(), ctx.runtime());
            let delay = millis(test.random_range(0..4));
            ctx.serve(async move {
                runtime.delay(delay).await;
                if let Ok(Ok(a)) = stub.fetch(kind).await {
                    answers.borrow_mut().push((name, a));
                }
            })
        })
        .collect();
    for request in requests {
        let _ = ctx.block(request);
    }
    test.advance_clock(secs(100));
    let mut extra = 0;
    for name in ["x", "y"] {
        let id = mixed.id_from_name(name);
        let a = mixed.stored::<u64>(&id, "a").unwrap().unwrap_or(0);
        let b = mixed.stored::<u64>(&id, "b").unwrap().unwrap_or(0);
        assert_eq!(a, b, "seed {seed}: {name}'s a and b differ");
        let mut mine: Vec<u64> = answers
            .borrow()
            .iter()
            .filter(|(object, _)| *object == name)
            .map(|(_, a)| *a)
            .collect();
        mine.sort_unstable();
        let given = mine.len();
        mine.dedup();
        assert_eq!(
            mine.len(),
            given,
            "seed {seed}: {name} gave an answer twice"
        );
        assert!(mine.iter().all(|&answer| answer <= a), "seed {seed}");
        let completed = mixed
            .events()
            .iter()
            .filter(|event| {
                event.object == id && event.outcome.as_ref().is_some_and(|o| o.is_completed())
            })
            .count() as u64;
        assert!(
            a >= completed,
            "seed {seed}: {name} lost a completed increment"
        );
        extra += a - completed;
    }
    let answered = answers.borrow().len() as u64;
    (answered, extra)
}

#[test]
fn mixed_increments_stay_atomic_over_seeds_with_every_fault_on() {
    let (answered, extra) = (Cell::new(0), Cell::new(0));
    run_seeds(|seed| {
        // mixed_run checks a == b and no answer given twice, for every kind of increment.
        for kinds in [3, 4] {
            let (given, beyond) = mixed_run(seed, kinds);
            answered.set(answered.get() + given);
            extra.set(extra.get() + beyond);
        }
    });
    assert!(answered.get() > 0);
    println!(
        "mixed: {} increments answered; {} stored by events reported failed (their writes \
         were confirmed before a reset replaced their response)",
        answered.get(),
        extra.get()
    );
}
