//! The counting rule under store faults (issue 10, defect 6): an event answered 202 ends up
//! counted exactly once, or named in `failures()` — never silently lost, never counted twice —
//! whatever the store does: stall past the 30 s `wait_until` limit, land a write whose answer
//! never comes, never answer, or fail.

mod support;

use scheduler::cloud::{
    ExecutionContext, SchedulerRuntime, SimulatedExecutionContext, WaitUntilOutcome,
};
use scheduler::{Scheduler, SessionId, TestScheduler, run_seeds};
use scheduler_worker::ingest::{IngestService, SequentialIds, count_key};
use std::sync::Arc;
use std::time::Duration;
use support::{AbandoningContext, Fault, FaultyStore, event_body};

const LONGER_THAN_THE_LIMIT: Duration = Duration::from_secs(40);

struct Sim {
    test: Arc<TestScheduler>,
    ctx: SimulatedExecutionContext,
    store: FaultyStore,
    service: IngestService<SchedulerRuntime, FaultyStore>,
}

fn simulation(seed: u64, faults: impl FnOnce(FaultyStore) -> FaultyStore) -> Sim {
    Sim::with_scheduler(TestScheduler::with_seed(seed), faults)
}

impl Sim {
    fn with_scheduler(
        test: Arc<TestScheduler>,
        faults: impl FnOnce(FaultyStore) -> FaultyStore,
    ) -> Self {
        let ctx = SimulatedExecutionContext::new(test.clone());
        let store = faults(FaultyStore::new(test.clone()));
        let service = IngestService::new(ctx.runtime(), store.clone(), SequentialIds::new("evt"));
        Sim {
            test,
            ctx,
            store,
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

    fn count(&self, kind: &str) -> Option<String> {
        self.store.value(&count_key(kind))
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

    /// The rule: every accepted event is counted exactly once or named in exactly one failure,
    /// and nothing is left pending. Returns how many were named.
    fn assert_every_event_accounted_for(&self, kind: &str, ids: &[String]) -> usize {
        let mut failed = 0;
        for id in ids {
            let failures = self.failures_of(id);
            assert!(failures.len() <= 1, "{id} failed twice: {failures:?}");
            failed += failures.len();
        }
        let count: usize = self.count(kind).map_or(0, |count| count.parse().unwrap());
        assert_eq!(
            count + failed,
            ids.len(),
            "count:{kind} = {count}, {failed} events named in failures, {} accepted: {:?}",
            ids.len(),
            self.service.failures()
        );
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

/// The repro of the defect: the first counter write takes 40 s. Before the fix, the flush was
/// cut off at 30 s, its increments went back to `pending` with nobody to write them, and
/// nothing was recorded.
#[test]
fn a_counter_write_stalled_past_the_wait_until_limit_still_counts_every_event() {
    run_seeds(|seed| {
        let sim = simulation(seed, |store| {
            store.count_puts([Fault::StallThenLand(LONGER_THAN_THE_LIMIT)])
        });
        let posted = sim.post(&sim.ctx, "click", &["ada", "bob", "cy"]);
        let outcomes = sim.settle(&posted);
        assert_eq!(sim.count("click").as_deref(), Some("3"));
        assert_eq!(sim.service.failures(), Vec::<String>::new());
        assert_eq!(
            sim.assert_every_event_accounted_for("click", &ids(&posted)),
            0
        );
        assert_all_completed(&outcomes);
    });
}

/// A write that landed although its answer never came: restoring its increments made the next
/// flush count them twice.
#[test]
fn a_counter_write_that_landed_before_its_cut_off_is_counted_once() {
    run_seeds(|seed| {
        let sim = simulation(seed, |store| {
            store.count_puts([Fault::LandThenStall(LONGER_THAN_THE_LIMIT)])
        });
        let mut posted = sim.post(&sim.ctx, "click", &["ada", "bob", "cy"]);
        let mut outcomes = sim.settle(&posted);
        sim.wait(Duration::from_secs(10));
        let later = sim.post(&sim.ctx, "click", &["dee"]);
        outcomes.extend(sim.settle(&later));
        posted.extend(later);
        assert_eq!(sim.count("click").as_deref(), Some("4"));
        assert_eq!(sim.service.failures(), Vec::<String>::new());
        assert_eq!(
            sim.assert_every_event_accounted_for("click", &ids(&posted)),
            0
        );
        assert_all_completed(&outcomes);
    });
}

/// A store that never answers counter writes: every event is named in the failures, and no job
/// runs into the 30 s limit.
#[test]
fn a_counter_write_that_never_settles_names_every_event_in_the_failures() {
    run_seeds(|seed| {
        let sim = simulation(seed, |store| store.count_default(Fault::Hang));
        let posted = sim.post(&sim.ctx, "click", &["ada", "bob", "cy"]);
        let outcomes = sim.settle(&posted);
        assert_eq!(sim.count("click"), None);
        let failed = sim.assert_every_event_accounted_for("click", &ids(&posted));
        assert_eq!(failed, 3, "{:?}", sim.service.failures());
        assert_all_completed(&outcomes);
    });
}

/// workerd abandons cut-off work without dropping it: a flush stuck on a write that never
/// settles used to hold the counters for the isolate's lifetime, so later events were never
/// counted either.
#[test]
fn a_flush_abandoned_with_its_request_does_not_stop_later_counts() {
    run_seeds(|seed| {
        let sim = simulation(seed, |store| store.count_puts([Fault::Hang]));
        let workerd = AbandoningContext::new(sim.ctx.clone());
        let mut posted = sim.post(&workerd, "click", &["ada"]);
        sim.settle(&posted);
        sim.wait(Duration::from_secs(5));
        let later = sim.post(&workerd, "click", &["bob", "cy"]);
        sim.settle(&later);
        posted.extend(later);
        assert_eq!(sim.count("click").as_deref(), Some("3"));
        assert_eq!(
            sim.assert_every_event_accounted_for("click", &ids(&posted)),
            0
        );
        assert_eq!(workerd.abandoned(), 0, "a job ran into the 30 s limit");
    });
}

/// A failed counter write fails every event whose increment it carried, each named once; an
/// increment is never both counted and reported as failed.
#[test]
fn every_event_carried_by_a_failed_counter_write_is_named_in_the_failures() {
    run_seeds(|seed| {
        let sim = simulation(seed, |store| store.count_default(Fault::Fail));
        let posted = sim.post(&sim.ctx, "click", &["ada", "bob", "cy"]);
        let outcomes = sim.settle(&posted);
        assert_eq!(
            sim.assert_every_event_accounted_for("click", &ids(&posted)),
            3
        );
        assert_all_completed(&outcomes);

        let sim = simulation(seed, |store| store.count_puts([Fault::Fail]));
        let posted = sim.post(&sim.ctx, "click", &["ada", "bob", "cy"]);
        let outcomes = sim.settle(&posted);
        let failed = sim.assert_every_event_accounted_for("click", &ids(&posted));
        assert!(failed >= 1, "{:?}", sim.service.failures());
        assert_all_completed(&outcomes);
    });
}

/// A summary write that stalls past the limit: the event is named in the failures (it used to
/// vanish: cut off, not counted, nothing recorded).
#[test]
fn an_event_whose_summary_write_stalls_past_the_limit_is_named_in_the_failures() {
    run_seeds(|seed| {
        let sim = simulation(seed, |store| {
            store.event_puts([Fault::StallThenLand(LONGER_THAN_THE_LIMIT)])
        });
        let posted = sim.post(&sim.ctx, "click", &["ada"]);
        let outcomes = sim.settle(&posted);
        assert_eq!(sim.count("click"), None);
        assert_eq!(
            sim.assert_every_event_accounted_for("click", &ids(&posted)),
            1
        );
        assert_eq!(sim.failures_of(&posted[0].1).len(), 1);
        assert_all_completed(&outcomes);
    });
}

/// Random faults on every seed: whatever the store does, each accepted event is counted or
/// named in the failures. Only an event named as "may not be counted" (a write that was never
/// confirmed and could not be checked) may be either.
#[test]
fn random_store_faults_never_lose_or_double_count_an_event() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let pick = |n: u64| test.random_range(0..n);
        let stall = |max_secs: u64| Duration::from_millis(1 + pick(max_secs * 1000));
        let fault = |max_secs: u64| match pick(6) {
            0 => Fault::Fail,
            1 => Fault::StallThenLand(stall(max_secs)),
            2 => Fault::LandThenStall(stall(max_secs)),
            3 => Fault::Hang,
            _ => Fault::None,
        };
        let count_faults: Vec<Fault> = (0..8).map(|_| fault(45)).collect();
        let event_faults: Vec<Fault> = (0..4).map(|_| fault(10)).collect();
        let sim = Sim::with_scheduler(test.clone(), |store| {
            store.count_puts(count_faults).event_puts(event_faults)
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
            let (mut sure, mut maybe) = (0, 0);
            for (_, (_, id)) in posted.iter().filter(|(k, _)| *k == kind) {
                match sim.failures_of(id).as_slice() {
                    [] => sure += 1,
                    [failure] if failure.contains("may not be counted") => maybe += 1,
                    [_] => {}
                    more => panic!("{id} failed more than once: {more:?}"),
                }
            }
            let count: u64 = sim.count(kind).map_or(0, |count| count.parse().unwrap());
            assert!(
                (sure..=sure + maybe).contains(&count),
                "count:{kind} = {count}: {sure} events counted for sure, {maybe} maybe; {:?}",
                sim.service.failures()
            );
        }
        assert_eq!(sim.service.pending_count_increments(), 0);
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
    let store = FaultyStore::new(test.clone()).count_puts([Fault::Fail]);
    let put = scheduler_worker::ingest::EventStore::put(&store, "count:click", "1".into());
    assert!(test.block(put).is_err());
    let timeline = test.timeline_json();
    assert!(
        timeline.contains(r#""name":"fault: KV put count:click: Fail""#),
        "{timeline}"
    );
}
