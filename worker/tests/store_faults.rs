//! The counting rule under store and counter faults: an event answered 202 ends up counted
//! exactly once, or named in `failures()` — never silently lost, never counted twice — whatever
//! the store does with its summary (stall past the 30 s `wait_until` limit, fail) and whatever
//! happens to its increment on the way to the counter object (fails before it gets there, gets
//! there and its answer is lost, stalls, never answers). Faults come from scripts
//! (`tests/support/`): each test names the one it is about. Every fault at once, seeded, is
//! `fault_seeds.rs`.

mod support;

use scheduler::cloud::{
    ExecutionContext, SchedulerRuntime, SimulatedExecutionContext, SimulationFaults,
    WaitUntilOutcome,
};
use scheduler::{Scheduler, SessionId, TestScheduler, run_seeds};
use scheduler_worker::ingest::{IngestService, SequentialIds};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use support::{
    AbandoningContext, CounterFault, Fault, FaultyStore, ScriptedCounters, SimulatedCounters,
    assert_counter_consistent, counters, event_body,
};

const LONGER_THAN_THE_LIMIT: Duration = Duration::from_secs(40);

struct Sim {
    test: Arc<TestScheduler>,
    ctx: SimulatedExecutionContext,
    objects: SimulatedCounters,
    service: IngestService<SchedulerRuntime, FaultyStore>,
}

/// A simulation whose store and counter increments follow the scripts `store` and `counter`
/// set up.
fn simulation(
    seed: u64,
    store: impl FnOnce(FaultyStore) -> FaultyStore,
    counter: impl FnOnce(ScriptedCounters) -> ScriptedCounters,
) -> Sim {
    Sim::with_scheduler(TestScheduler::with_seed(seed), store, counter)
}

impl Sim {
    fn with_scheduler(
        test: Arc<TestScheduler>,
        store: impl FnOnce(FaultyStore) -> FaultyStore,
        counter: impl FnOnce(ScriptedCounters) -> ScriptedCounters,
    ) -> Self {
        let ctx = SimulatedExecutionContext::new(test.clone());
        let store = store(FaultyStore::new(test.clone()));
        let (objects, inner) = counters(&ctx);
        let scripted = counter(ScriptedCounters::new(inner, test.clone()));
        let service = IngestService::new(
            ctx.runtime(),
            store,
            Rc::new(scripted),
            SequentialIds::new("evt"),
        );
        Sim {
            test,
            ctx,
            objects,
            service,
        }
    }

    /// Posts one `kind` event per user, concurrently, through `handler_ctx`; every one is
    /// answered 202. Returns each request's session and event id.
    fn post<C>(&self, handler_ctx: &C, kind: &str, users: &[&str]) -> Vec<(SessionId, String)>
    where
        C: ExecutionContext + Clone + 'static,
    {
        let requests: Vec<_> = users
            .iter()
            .map(|user| {
                let (handler_ctx, service) = (handler_ctx.clone(), self.service.clone());
                let body = event_body(kind, user);
                self.ctx
                    .serve(async move { service.ingest(&handler_ctx, &body) })
            })
            .collect();
        requests
            .into_iter()
            .map(|request| {
                let session = request.session();
                let response = self.ctx.block(request).expect("the handler does not panic");
                assert_eq!(response.status, 202, "{response:?}");
                (session, response.accepted_id().unwrap().to_string())
            })
            .collect()
    }

    /// Runs until every session's `wait_until` work settled; returns every job's outcome.
    fn settle(&self, posted: &[(SessionId, String)]) -> Vec<WaitUntilOutcome> {
        posted
            .iter()
            .flat_map(|(session, _)| self.ctx.wait_on_execution_context(*session))
            .map(|report| report.outcome)
            .collect()
    }

    /// Lets `duration` of virtual time pass.
    fn wait(&self, duration: Duration) {
        let scheduler: Arc<dyn Scheduler> = self.test.clone();
        self.ctx.block(scheduler.timer(duration));
    }

    /// The counter object's confirmed count of `kind`.
    fn count(&self, kind: &str) -> u64 {
        assert_counter_consistent(&self.objects, kind).len() as u64
    }

    /// The failures naming `id`.
    fn failures_of(&self, id: &str) -> Vec<String> {
        let prefix = format!("{id}: ");
        let failures = self.service.failures();
        failures
            .into_iter()
            .filter(|failure| failure.starts_with(&prefix))
            .collect()
    }

    /// The rule, checked against the counter object's own record of the events it counted:
    /// every accepted event is counted exactly once (its id recorded once, the count one per
    /// recorded event) or named in exactly one failure; an event named as "may not be counted"
    /// may be either; nothing else is counted; nothing is left pending. Returns how many were
    /// named.
    fn assert_every_event_accounted_for(&self, kind: &str, ids: &[String]) -> usize {
        let applied = assert_counter_consistent(&self.objects, kind);
        let mut failed = 0;
        for id in ids {
            let failures = self.failures_of(id);
            match failures.as_slice() {
                [] => assert!(
                    applied.contains_key(id),
                    "{id}: lost (neither counted nor named)"
                ),
                [why] if why.contains("may not be counted") => {}
                [why] => assert!(!applied.contains_key(id), "{id}: counted, yet {why}"),
                more => panic!("{id} failed more than once: {more:?}"),
            }
            failed += failures.len();
        }
        for id in applied.keys() {
            assert!(ids.contains(id), "{id} counted, never accepted");
        }
        assert_eq!(self.service.pending_count_increments(), 0);
        failed
    }
}

fn ids(posted: &[(SessionId, String)]) -> Vec<String> {
    posted.iter().map(|(_, id)| id.clone()).collect()
}

fn assert_all_completed(outcomes: &[WaitUntilOutcome]) {
    for outcome in outcomes {
        assert_eq!(*outcome, WaitUntilOutcome::Completed, "{outcomes:?}");
    }
}

/// No script: nothing named, each event counted once.
fn no_faults(store: FaultyStore) -> FaultyStore {
    store
}

/// An increment that reached the object (and was counted) but whose answer was lost is sent
/// again: the object finds its event recorded and counts it once.
#[test]
fn an_increment_whose_answer_was_lost_is_sent_again_and_counted_once() {
    run_seeds(|seed| {
        let sim = simulation(seed, no_faults, |counter| {
            counter.increments([CounterFault::AnswerLost; 4])
        });
        let posted = sim.post(&sim.ctx, "click", &["ada", "bob", "cy"]);
        let outcomes = sim.settle(&posted);
        assert_eq!(sim.count("click"), 3);
        assert_eq!(sim.service.failures(), Vec::<String>::new());
        assert_eq!(
            sim.assert_every_event_accounted_for("click", &ids(&posted)),
            0
        );
        // Every lost answer was an increment the object saw and a retry followed it.
        assert_eq!(sim.objects.events().len(), 3 + 4);
        assert_all_completed(&outcomes);
    });
}

/// Increments that fail before they reach the object are sent again until one gets there.
#[test]
fn failed_increments_are_retried_until_the_object_answers() {
    run_seeds(|seed| {
        let sim = simulation(seed, no_faults, |counter| {
            counter.increments([CounterFault::Fail; 9])
        });
        let posted = sim.post(&sim.ctx, "click", &["ada", "bob", "cy"]);
        let outcomes = sim.settle(&posted);
        assert_eq!(sim.count("click"), 3);
        assert_eq!(
            sim.assert_every_event_accounted_for("click", &ids(&posted)),
            0
        );
        assert_all_completed(&outcomes);
    });
}

/// An increment that does not answer within its attempt's time (5 s) is sent again; the late
/// one, had it been sent, would find the event recorded. With stalls past the `wait_until`
/// limit, the job still ends in time.
#[test]
fn an_increment_stalled_past_its_attempt_is_sent_again() {
    run_seeds(|seed| {
        let sim = simulation(seed, no_faults, |counter| {
            counter.increments([
                CounterFault::Stall(LONGER_THAN_THE_LIMIT),
                CounterFault::Stall(Duration::from_secs(4)),
            ])
        });
        let posted = sim.post(&sim.ctx, "click", &["ada", "bob"]);
        let outcomes = sim.settle(&posted);
        assert_eq!(sim.count("click"), 2);
        assert_eq!(
            sim.assert_every_event_accounted_for("click", &ids(&posted)),
            0
        );
        assert_all_completed(&outcomes);
    });
}

/// A counter that never answers: every event is named "may not be counted" within its
/// processing budget (no job runs into the 30 s limit), and nothing is left pending.
#[test]
fn a_counter_that_never_answers_names_every_event_within_the_budget() {
    run_seeds(|seed| {
        let sim = simulation(seed, no_faults, |counter| {
            counter.default_fault(CounterFault::Hang)
        });
        let workerd = AbandoningContext::new(sim.ctx.clone());
        let posted = sim.post(&workerd, "click", &["ada", "bob", "cy"]);
        let outcomes = sim.settle(&posted);
        assert_eq!(sim.count("click"), 0);
        let failed = sim.assert_every_event_accounted_for("click", &ids(&posted));
        assert_eq!(failed, 3, "{:?}", sim.service.failures());
        for (_, id) in &posted {
            let why = &sim.failures_of(id)[0];
            assert!(
                why.contains("may not be counted:")
                    && why.contains("increments sent to the counter object click"),
                "{why}"
            );
        }
        assert_eq!(workerd.abandoned(), 0, "a job ran into the 30 s limit");
        assert_all_completed(&outcomes);
    });
}

/// workerd abandons cut-off work without dropping it; an increment whose job was cut off is
/// named by its guard only if it is dropped. Here a hanging first attempt is given up after
/// 5 s and the job goes on: later events are counted, no job is cut off.
#[test]
fn a_hanging_increment_does_not_stop_later_counts() {
    run_seeds(|seed| {
        let sim = simulation(seed, no_faults, |counter| {
            counter.increments([CounterFault::Hang])
        });
        let workerd = AbandoningContext::new(sim.ctx.clone());
        let mut posted = sim.post(&workerd, "click", &["ada"]);
        sim.settle(&posted);
        sim.wait(Duration::from_secs(5));
        let later = sim.post(&workerd, "click", &["bob", "cy"]);
        sim.settle(&later);
        posted.extend(later);
        assert_eq!(sim.count("click"), 3);
        assert_eq!(
            sim.assert_every_event_accounted_for("click", &ids(&posted)),
            0
        );
        assert_eq!(workerd.abandoned(), 0, "a job ran into the 30 s limit");
    });
}

/// A summary write that stalls past the limit: the event is named in the failures (it used to
/// vanish: cut off, not counted, nothing recorded), and it is not counted.
#[test]
fn an_event_whose_summary_write_stalls_past_the_limit_is_named_in_the_failures() {
    run_seeds(|seed| {
        let sim = simulation(
            seed,
            |store| store.event_puts([Fault::StallThenLand(LONGER_THAN_THE_LIMIT)]),
            |counter| counter,
        );
        let posted = sim.post(&sim.ctx, "click", &["ada"]);
        let outcomes = sim.settle(&posted);
        assert_eq!(sim.count("click"), 0);
        assert_eq!(
            sim.assert_every_event_accounted_for("click", &ids(&posted)),
            1
        );
        assert_eq!(sim.failures_of(&posted[0].1).len(), 1);
        assert_all_completed(&outcomes);
    });
}

/// Random faults on every seed: whatever the store does with the summaries, whatever happens to
/// the increments on their way, and with the counter objects themselves failing reads and
/// writes and being reset, each accepted event is counted once or named in the failures.
#[test]
fn random_store_and_counter_faults_never_lose_or_double_count_an_event() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let pick = |n: u64| test.random_range(0..n);
        let stall = |max_secs: u64| Duration::from_millis(1 + pick(max_secs * 1000));
        let store_fault = || match pick(5) {
            0 => Fault::Fail,
            1 => Fault::StallThenLand(stall(10)),
            2 => Fault::LandThenStall(stall(10)),
            3 => Fault::Hang,
            _ => Fault::None,
        };
        let counter_fault = || match pick(6) {
            0 => CounterFault::Fail,
            1 => CounterFault::AnswerLost,
            2 => CounterFault::Stall(stall(12)),
            3 => CounterFault::Hang,
            _ => CounterFault::None,
        };
        let event_faults: Vec<Fault> = (0..4).map(|_| store_fault()).collect();
        let increment_faults: Vec<CounterFault> = (0..12).map(|_| counter_fault()).collect();
        let sim = Sim::with_scheduler(
            test.clone(),
            |store| store.event_puts(event_faults),
            |counter| counter.increments(increment_faults),
        );
        sim.ctx.set_faults(SimulationFaults {
            object_storage_failure: 0.05,
            object_reset: 0.1,
            object_eviction: 0.1,
            ..SimulationFaults::default()
        });
        let mut posted = Vec::new();
        for wave in 0..3 {
            for _ in 0..=pick(3) {
                let kind = ["click", "view"][pick(2) as usize];
                let user = format!("user-{wave}");
                posted.push((kind, sim.post(&sim.ctx, kind, &[&user]).remove(0)));
            }
            sim.wait(stall(40));
        }
        let sessions: Vec<_> = posted.iter().map(|(_, posted)| posted.clone()).collect();
        let outcomes = sim.settle(&sessions);
        for kind in ["click", "view"] {
            let of_kind: Vec<String> = posted
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, (_, id))| id.clone())
                .collect();
            sim.assert_every_event_accounted_for(kind, &of_kind);
        }
        assert_all_completed(&outcomes);
    });
}

/// Each injected fault is marked on the TestScheduler's timeline (and so in the timeline file a
/// failing seed writes next to its replay file).
#[test]
fn an_injected_fault_is_marked_on_the_timeline() {
    let test = TestScheduler::new(scheduler::TestSchedulerConfig {
        timeline: true,
        ..scheduler::TestSchedulerConfig::with_seed(1)
    });
    let store = FaultyStore::new(test.clone()).event_puts([Fault::Fail]);
    let put = scheduler_worker::ingest::EventStore::put(&store, "event:evt-1", "{}".into());
    assert!(test.block(put).is_err());
    let timeline = test.timeline_json();
    assert!(
        timeline.contains(r#""name":"fault: KV put event:evt-1: Fail""#),
        "{timeline}"
    );
}
