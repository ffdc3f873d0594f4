//! The ingest promise under every fault of the simulated Worker and of its counter objects, over
//! many seeds (issues 14 and 19): an event answered 202 is stored and counted exactly once, or
//! its failure is recorded — whatever the store does (fails, stalls past the deadline, loses an
//! answer), however slow a subrequest is, whichever client disconnects mid-request, when the
//! isolate is reset under it, and whatever happens to the counter objects (a storage read or
//! write fails and resets the object, the object is reset at a random moment, evicted).
//!
//! Per seed: four simulated Workers, each serving six waves of twelve concurrent requests
//! (events of types unique to one event, whose counter must end at exactly 0 or 1, and of two
//! shared types; counter reads; and a burst of four alike events of one type, sent at once,
//! whose increments ride one request to their object: each request takes 1 to 30 ms to reach
//! it), with every fault of `SimulationFaults` on at a meaningful
//! rate, through a workerd-like context (`AbandoningContext`: work cut off at 30 s is abandoned,
//! never dropped). The service lives in `IsolateState`: a reset loses it (increments in flight,
//! in-memory failures) and the next request builds a new one. The store (`MemoryStore`, KV),
//! the counter objects' confirmed storage and the failure log the service writes through (the
//! platform's log) outlive isolates; the objects themselves live in the isolate and are reset
//! with it.
//!
//! The check is against each counter object's own record: it stores, with its count, every
//! event it counted (`applied:{id}`, the count that event made), so the test knows exactly which
//! events were counted, not only how many. An event is lost if it was accepted, not named in a
//! failure, and not in that record; counted twice if the count is not one per recorded event.
//!
//! `cargo test -p scheduler-worker --test fault_seeds -- --nocapture` prints the totals;
//! `ITERATIONS=2000 cargo test --release ...` runs more seeds.

mod support;

use scheduler::cloud::{
    DurableObjectFailure, DurableObjectNamespace, LocalBoxFuture, RequestFailure, SchedulerRuntime,
    SimulatedExecutionContext, SimulationFaults, WaitUntilOutcome,
};
use scheduler::{Scheduler, SessionId, TestScheduler, run_seeds};
use scheduler_worker::faults::InjectingStore;
use scheduler_worker::ingest::{
    CounterReply, CounterRequest, Counters, EventStore, EventSummary, FailureLog, IngestResponse,
    IngestService, MemoryStore, SequentialIds, StoreError, event_key,
};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use support::{
    AbandoningContext, SimulatedCounters, assert_counter_consistent, counter_storage, counters,
};

/// Every fault on, at rates that hit most seeds several times.
fn faults() -> SimulationFaults {
    SimulationFaults {
        store_failure: 0.05,
        store_stall: 0.3,
        lost_answer: 0.5,
        slow_subrequest: 0.04,
        client_disconnect: 0.15,
        disconnect_within: Duration::from_millis(150),
        isolate_reset: 0.02,
        reset_within: Duration::from_secs(30),
        buggify: 0.5,
        store_stall_time: Duration::from_secs(3)..=Duration::from_secs(6),
        object_storage_failure: 0.03,
        object_reset: 0.05,
        object_reset_within: Duration::from_secs(2),
        object_eviction: 0.1,
        // The counter sets no alarm, so this one is never drawn; on for completeness.
        alarm_failure: 0.2,
        ..SimulationFaults::default()
    }
}

const WAVES: usize = 6;
/// Simulated Workers per seed of the harness (each a `TestScheduler` of its own, seeded
/// `seed * WORLDS_PER_SEED + world`): the default 100 seeds cover 400 of them.
const WORLDS_PER_SEED: u64 = 4;
const REQUESTS_PER_WAVE: usize = 12;
/// The last requests of a wave are a burst: events of one shared type, alike and sent at once,
/// whose increments meet at the counter object and ride one request (`outbox.rs`).
const BURST_FROM: usize = 8;

/// The store the Worker's KV stands for, counting the puts that landed on each key.
#[derive(Clone)]
struct Ledger {
    store: MemoryStore,
    landed: Rc<RefCell<BTreeMap<String, u32>>>,
}

impl EventStore for Ledger {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.store.get(key).await
    }

    async fn put(&self, key: &str, value: String) -> Result<(), StoreError> {
        self.store.put(key, value).await?;
        *self.landed.borrow_mut().entry(key.to_string()).or_default() += 1;
        Ok(())
    }
}

type Service = IngestService<SchedulerRuntime, InjectingStore<Ledger>>;

/// The counter objects as the Worker reaches them, tallying what its increments went through
/// (the tally outlives isolates, as the objects' storage does), and losing the answer of one
/// increment in [`LOST_ANSWER_ONE_IN`] on its way back (drawn from the seed): the object counted
/// the event, the Worker sees a failure, as when workerd's `stub.fetch` throws after the object
/// applied the request (the simulated namespace loses an answer only when its object is reset in
/// the one tick between the confirmation and the delivery).
struct WatchedCounters {
    inner: Counters,
    test: Arc<TestScheduler>,
    tally: Rc<Cell<IncrementTally>>,
}

/// One increment answer in this many is lost on its way back to the Worker.
const LOST_ANSWER_ONE_IN: u64 = 16;

/// The longest a request takes to reach its object (drawn per request, from 1 ms): a round
/// trip takes time, so the increments of events that meet there ride one request.
const TO_OBJECT_MAX_MS: u64 = 30;

/// What the increments sent to the counter objects went through.
#[derive(Clone, Copy, Default)]
struct IncrementTally {
    sent: u64,
    events_sent: u64,
    failed: u64,
    answers_lost: u64,
    found_counted: u64,
}

impl DurableObjectNamespace for WatchedCounters {
    type Request = CounterRequest;
    type Response = CounterReply;

    fn send(
        &self,
        name: &str,
        request: CounterRequest,
    ) -> LocalBoxFuture<Result<CounterReply, DurableObjectFailure>> {
        let events = match &request {
            CounterRequest::Increment { events } => events.len() as u64,
            _ => 0,
        };
        let increment = events > 0;
        let lose_answer = increment && self.test.random_range(0..LOST_ANSWER_ONE_IN) == 0;
        let on_the_way = Duration::from_millis(self.test.random_range(1..TO_OBJECT_MAX_MS + 1));
        let scheduler: Arc<dyn Scheduler> = self.test.clone();
        let arrived = scheduler.timer(on_the_way);
        let (inner, name) = (self.inner.clone(), name.to_string());
        let sent = async move {
            arrived.await;
            inner.send(&name, request).await
        };
        let tally = self.tally.clone();
        let update = move |change: &dyn Fn(&mut IncrementTally)| {
            let mut now = tally.get();
            change(&mut now);
            tally.set(now);
        };
        if increment {
            update(&|tally| {
                tally.sent += 1;
                tally.events_sent += events;
            });
        }
        Box::pin(async move {
            let mut reply = sent.await;
            if lose_answer && reply.is_ok() {
                update(&|tally| tally.answers_lost += 1);
                let lost = "injected: the answer was lost on its way back".to_string();
                reply = Err(DurableObjectFailure::Unanswered(lost));
            }
            if increment {
                match &reply {
                    Ok(CounterReply::Counted { already, .. }) => {
                        let found = already.len() as u64;
                        update(&|tally| tally.found_counted += found);
                    }
                    Ok(_) => {}
                    Err(_) => update(&|tally| tally.failed += 1),
                }
            }
            reply
        })
    }
}

/// What one request was, and how it ended.
struct Request {
    session: SessionId,
    /// The event type posted, or `None` for a counter read.
    kind: Option<String>,
    answer: Result<IngestResponse, RequestFailure>,
}

/// The numbers of one seed (summed over seeds for the closing note).
#[derive(Clone, Copy, Default)]
struct Totals {
    seeds: u64,
    requests: u64,
    accepted: u64,
    stored_exactly_once: u64,
    counted_exactly_once: u64,
    /// Counted by the objects, per their record (every accepted event whose fate allows it).
    counted_by_objects: u64,
    /// Named "may not be counted" (or killed by a reset) and found counted nonetheless.
    counted_though_in_doubt: u64,
    doubled: u64,
    failures_recorded: u64,
    may_not_be_counted: u64,
    killed_by_reset: u64,
    disconnected: u64,
    failed_by_reset: u64,
    faults: scheduler::cloud::FaultCounts,
    object_events: u64,
    object_faults: u64,
    object_resets: u64,
    increments: IncrementTally,
}

struct Sim {
    test: Arc<TestScheduler>,
    ctx: SimulatedExecutionContext,
    ledger: Ledger,
    /// The counter objects (their storage outlives isolates; their instances do not).
    objects: SimulatedCounters,
    increments: Rc<Cell<IncrementTally>>,
    /// The platform's log (Workers Logs): what the isolates' failure logs forward to.
    log: Rc<RefCell<Vec<String>>>,
    service: scheduler::cloud::IsolateState<Service>,
}

impl Sim {
    fn new(seed: u64) -> Self {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        ctx.set_faults(faults());
        let ledger = Ledger {
            store: MemoryStore::with_simulated_latency(test.clone()),
            landed: Rc::default(),
        };
        let log: Rc<RefCell<Vec<String>>> = Rc::default();
        let (objects, inner) = counters(&ctx);
        let increments: Rc<Cell<IncrementTally>> = Rc::default();
        let counters: Counters = Rc::new(WatchedCounters {
            inner,
            test: test.clone(),
            tally: increments.clone(),
        });
        let service = ctx.isolate_state({
            let (ctx, ledger, test, log) = (ctx.clone(), ledger.clone(), test.clone(), log.clone());
            move |isolate| {
                let points = ctx.fault_points();
                let store = InjectingStore::with_fault_points(ledger.clone(), points, test.clone());
                // Ids unique across isolates, as the Worker's (its isolate's random prefix).
                let ids = SequentialIds::new(format!("evt-i{isolate}"));
                let failures = FailureLog::forwarding({
                    let (ctx, log) = (ctx.clone(), log.clone());
                    move |line| {
                        // A dead isolate's destructors log nothing: workerd never runs them.
                        if !ctx.in_reset_isolate() {
                            log.borrow_mut().push(line.to_string());
                        }
                    }
                });
                IngestService::with_failure_log(
                    ctx.runtime(),
                    store,
                    counters.clone(),
                    ids,
                    failures,
                )
            }
        });
        Self {
            test,
            ctx,
            ledger,
            objects,
            increments,
            log,
            service,
        }
    }

    /// Serves one wave of requests, concurrently; returns them once each has its answer.
    fn wave(&self, wave: usize, workerd: &AbandoningContext) -> Vec<Request> {
        let served: Vec<_> = (0..REQUESTS_PER_WAVE)
            .map(|index| {
                let kind = match index % 4 {
                    _ if index >= BURST_FROM => Some("burst".to_string()),
                    3 => None,
                    0 | 1 => Some(format!("solo-{wave}-{index}")),
                    _ => Some(["click", "view"][self.test.random_range(0..2) as usize].to_string()),
                };
                let (method, path, body) = match &kind {
                    Some(kind) if index >= BURST_FROM => {
                        ("POST", "/events".to_string(), event_body(kind, BURST_FROM))
                    }
                    Some(kind) => ("POST", "/events".to_string(), event_body(kind, index)),
                    None => ("GET", "/counts/click".to_string(), String::new()),
                };
                // The request body arrives over this long (a client may hang up meanwhile).
                let upload = if index >= BURST_FROM {
                    Duration::ZERO
                } else {
                    Duration::from_millis(self.test.random_range(0..100))
                };
                let (runtime, service, workerd) =
                    (self.ctx.runtime(), self.service.clone(), workerd.clone());
                let request = self.ctx.serve(async move {
                    scheduler::cloud::PlatformRuntime::delay(&runtime, upload).await;
                    let service = service.get();
                    service.route(&workerd, method, &path, &body).await
                });
                (kind, request)
            })
            .collect();
        served
            .into_iter()
            .map(|(kind, request)| {
                let session = request.session();
                let answer = self.ctx.block(request).map_err(|failed| {
                    assert_ne!(failed.cause, RequestFailure::Panicked, "{failed}");
                    failed.cause
                });
                Request {
                    session,
                    kind,
                    answer,
                }
            })
            .collect()
    }

    fn wait(&self, duration: Duration) {
        let scheduler: Arc<dyn Scheduler> = self.test.clone();
        self.ctx.block(scheduler.timer(duration));
    }

    /// The failures recorded so far: what reached the platform's log.
    fn failures(&self) -> Vec<String> {
        self.log.borrow().clone()
    }
}

fn event_body(kind: &str, index: usize) -> String {
    let values: Vec<f64> = (0..=index % 3).map(|v| (v * 7 + index) as f64).collect();
    serde_json::json!({ "type": kind, "user": format!("user-{index}"), "values": values })
        .to_string()
}

/// One seed: the waves, then every session to its end, then the promise, checked. Returns the
/// seed's numbers.
fn run_seed(seed: u64) -> Totals {
    let sim = Sim::new(seed);
    let workerd = AbandoningContext::new(sim.ctx.clone());
    let mut requests = Vec::new();
    for wave in 0..WAVES {
        requests.extend(sim.wave(wave, &workerd));
        sim.wait(Duration::from_millis(sim.test.random_range(0..15_000)));
    }
    for request in &requests {
        sim.ctx.wait_on_execution_context(request.session);
    }
    check_the_promise(&sim, &requests, &workerd)
}

/// How an accepted event ended, by the failure log and the platform's record.
enum Fate {
    /// Counted exactly once, summary stored: no failure named it.
    Counted,
    /// Named as not counted (its summary may be stored).
    NotCounted,
    /// Named as "may not be counted": its write was never confirmed.
    MaybeCounted,
    /// Its `wait_until` work was killed by an isolate reset (the platform reports it); its write
    /// may have landed.
    Killed,
}

fn check_the_promise(sim: &Sim, requests: &[Request], workerd: &AbandoningContext) -> Totals {
    let failures = sim.failures();
    let store = sim.ledger.store.snapshot();
    let landed = sim.ledger.landed.borrow().clone();
    let counts = sim.objects.counts();
    let mut totals = Totals {
        seeds: 1, // one simulated Worker
        requests: requests.len() as u64,
        faults: sim.ctx.fault_counts(),
        object_events: sim.objects.events().len() as u64,
        object_faults: sim.objects.faults().len() as u64,
        object_resets: counts.resets,
        increments: sim.increments.get(),
        ..Totals::default()
    };
    assert_eq!(
        workerd.abandoned(),
        0,
        "a wait_until job ran into the 30 s limit"
    );
    // Per type: the ids accepted, and what the counter object recorded.
    let mut accepted_by_kind: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut fates: Vec<(String, String, Fate)> = Vec::new();
    let mut accepted_ids = Vec::new();
    for request in requests {
        let report = sim.ctx.session_report(request.session).unwrap();
        assert!(report.ended_at.is_some(), "{report:?}");
        let response = match &request.answer {
            Ok(response) => response,
            Err(RequestFailure::ClientDisconnected) => {
                totals.disconnected += 1;
                continue;
            }
            Err(_) => {
                assert!(report.killed_by_isolate_reset);
                totals.failed_by_reset += 1;
                continue;
            }
        };
        let Some(kind) = &request.kind else {
            assert!(
                [200, 500].contains(&response.status),
                "a counter read: {response:?}"
            );
            continue;
        };
        assert_eq!(response.status, 202, "{response:?}");
        let id = response.accepted_id().unwrap().to_string();
        accepted_ids.push(id.clone());
        accepted_by_kind
            .entry(kind.clone())
            .or_default()
            .push(id.clone());
        totals.accepted += 1;
        let [(_, outcome)] = report.wait_until.as_slice() else {
            panic!("{id}: one wait_until job expected: {report:?}");
        };
        let named: Vec<&String> = failures
            .iter()
            .filter(|line| line.starts_with(&format!("{id}: ")))
            .collect();
        assert!(named.len() <= 1, "{id} named twice: {named:?}");
        let killed = match outcome {
            Some(WaitUntilOutcome::Completed) => false,
            Some(WaitUntilOutcome::IsolateReset) => true,
            other => panic!("{id}: its wait_until job ended {other:?}: {report:?}"),
        };
        let fate = match (named.first(), killed) {
            (Some(line), _) if line.contains("may not be counted") => Fate::MaybeCounted,
            (Some(_), _) => Fate::NotCounted,
            (None, true) => Fate::Killed,
            (None, false) => Fate::Counted,
        };
        let key = event_key(&id);
        assert!(
            landed.get(&key).copied().unwrap_or(0) <= 1,
            "{id}: summary stored twice"
        );
        if let Fate::Counted = fate {
            let summary: EventSummary = serde_json::from_str(
                store
                    .get(&key)
                    .unwrap_or_else(|| panic!("{id}: counted, no summary stored")),
            )
            .unwrap();
            assert_eq!(
                (summary.id.as_str(), summary.kind.as_str()),
                (id.as_str(), kind.as_str())
            );
            assert_eq!(landed.get(&key), Some(&1), "{id}: stored once");
            totals.stored_exactly_once += 1;
        }
        fates.push((kind.clone(), id, fate));
    }
    // What each counter object recorded: its count is one per recorded event (every count
    // 1..=n made by exactly one event), else something was counted twice.
    let mut recorded: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for kind in accepted_by_kind.keys() {
        let (count, events) = counter_storage(&sim.objects, kind);
        totals.doubled += count.saturating_sub(events.len() as u64);
        let applied = assert_counter_consistent(&sim.objects, kind);
        for id in applied.keys() {
            assert!(
                accepted_by_kind[kind].contains(id),
                "counter {kind} counted {id}, never accepted as a {kind}"
            );
        }
        recorded.insert(kind.clone(), applied);
    }
    for (kind, id, fate) in &fates {
        let counted = recorded[kind].contains_key(id);
        totals.counted_by_objects += u64::from(counted);
        match fate {
            Fate::Counted => {
                assert!(
                    counted,
                    "{id}: lost (accepted, named in no failure, not counted); failures: \
                     {failures:?}"
                );
                totals.counted_exactly_once += 1;
            }
            Fate::NotCounted => {
                assert!(!counted, "{id}: counted, yet named as not counted");
                totals.failures_recorded += 1;
            }
            Fate::MaybeCounted => {
                totals.failures_recorded += 1;
                totals.may_not_be_counted += 1;
                totals.counted_though_in_doubt += u64::from(counted);
            }
            Fate::Killed => {
                totals.killed_by_reset += 1;
                totals.counted_though_in_doubt += u64::from(counted);
            }
        }
    }
    // Nothing but accepted events is stored, or named.
    for key in store.keys() {
        let id = key
            .strip_prefix("event:")
            .unwrap_or_else(|| panic!("the store holds {key}: only summaries belong there"));
        assert!(accepted_ids.iter().any(|known| known == id), "stored {key}");
    }
    for line in &failures {
        assert!(
            accepted_ids
                .iter()
                .any(|id| line.starts_with(&format!("{id}: "))),
            "a failure of no accepted event: {line}"
        );
    }
    assert_eq!(sim.service.get().pending_count_increments(), 0);
    totals
}

#[test]
fn every_accepted_event_is_counted_once_or_its_failure_recorded_under_every_fault() {
    let mut all = Totals::default();
    let mut seeds = 0;
    run_seeds(|seed| {
        seeds += 1;
        for world in 0..WORLDS_PER_SEED {
            let one = run_seed(seed * WORLDS_PER_SEED + world);
            all.seeds += one.seeds;
            all.requests += one.requests;
            all.accepted += one.accepted;
            all.stored_exactly_once += one.stored_exactly_once;
            all.counted_exactly_once += one.counted_exactly_once;
            all.counted_by_objects += one.counted_by_objects;
            all.counted_though_in_doubt += one.counted_though_in_doubt;
            all.doubled += one.doubled;
            all.failures_recorded += one.failures_recorded;
            all.may_not_be_counted += one.may_not_be_counted;
            all.killed_by_reset += one.killed_by_reset;
            all.disconnected += one.disconnected;
            all.failed_by_reset += one.failed_by_reset;
            all.faults += one.faults;
            all.object_events += one.object_events;
            all.object_faults += one.object_faults;
            all.object_resets += one.object_resets;
            all.increments.sent += one.increments.sent;
            all.increments.events_sent += one.increments.events_sent;
            all.increments.failed += one.increments.failed;
            all.increments.answers_lost += one.increments.answers_lost;
            all.increments.found_counted += one.increments.found_counted;
        }
    });
    // Every accepted event has exactly one fate: nothing is lost.
    let unaccounted =
        all.accepted - all.counted_exactly_once - all.failures_recorded - all.killed_by_reset;
    println!(
        "{seeds} seeds ({} simulated Workers), {} requests\n\
         faults injected in the Workers: {}\n\
         counter objects: {} events, {} faults injected, {} resets\n\
         increment requests sent: {} (carrying {} events), failed: {} (answers lost on the way \
         back: {}), events found counted already by their retry: {}\n\
         events accepted (202): {}\n\
         counted exactly once, named in no failure: {} (summaries stored exactly once: {})\n\
         failures recorded by the handler: {} (of them \"may not be counted\": {})\n\
         failures recorded by the platform (wait_until killed by an isolate reset): {}\n\
         of those in doubt, counted after all: {}\n\
         counted by the objects in total: {}\n\
         lost: {unaccounted}, counted twice: {}\n\
         requests without an answer: {} client disconnects, {} isolate resets",
        all.seeds,
        all.requests,
        all.faults,
        all.object_events,
        all.object_faults,
        all.object_resets,
        all.increments.sent,
        all.increments.events_sent,
        all.increments.failed,
        all.increments.answers_lost,
        all.increments.found_counted,
        all.accepted,
        all.counted_exactly_once,
        all.stored_exactly_once,
        all.failures_recorded,
        all.may_not_be_counted,
        all.killed_by_reset,
        all.counted_though_in_doubt,
        all.counted_by_objects,
        all.doubled,
        all.disconnected,
        all.failed_by_reset,
    );
    assert_eq!((unaccounted, all.doubled), (0, 0), "lost, counted twice");
    assert_eq!(all.stored_exactly_once, all.counted_exactly_once);
    assert!(all.faults.total() > 0 || all.seeds < 10);
    assert!(
        all.object_faults > 0 || all.seeds < 10,
        "no object fault was drawn"
    );
    assert!(
        all.increments.found_counted > 0 || all.seeds < 10,
        "no retry found its event counted: the idempotency key was never exercised"
    );
    assert!(
        all.increments.events_sent > all.increments.sent || all.seeds < 10,
        "no increment request carried several events: combining them was never exercised"
    );
}
