//! The ingest handler in simulation: seeded determinism, concurrent events counted exactly by
//! the counter objects, and rejection of bad events.

mod support;

use scheduler::cloud::{
    SchedulerRuntime, SimulatedExecutionContext, SimulationFaults, WaitUntilOutcome,
};
use scheduler::{TestScheduler, run_seeds};
use scheduler_worker::ingest::{
    EventStore, EventSummary, IngestResponse, IngestService, MAX_ID_LEN, MAX_TYPE_LEN, MemoryStore,
    SequentialIds, event_key,
};
use std::collections::BTreeMap;
use support::{SimulatedCounters, assert_counter_consistent, counter_storage, counters};

type Service = IngestService<SchedulerRuntime, MemoryStore>;

/// A simulation: one scheduler, one context, one service over a store with seeded latency and
/// the counter objects.
fn simulation(seed: u64) -> (SimulatedExecutionContext, Service, SimulatedCounters) {
    let test = TestScheduler::with_seed(seed);
    let ctx = SimulatedExecutionContext::new(test.clone());
    let store = MemoryStore::with_simulated_latency(test.clone());
    let (objects, counters) = counters(&ctx);
    let service = IngestService::new(ctx.runtime(), store, counters, SequentialIds::new("evt"));
    (ctx, service, objects)
}

/// The confirmed count of `kind`'s counter object, checked against its own books (one counted
/// event per count).
fn count_of(objects: &SimulatedCounters, kind: &str) -> u64 {
    assert_counter_consistent(objects, kind);
    counter_storage(objects, kind).0
}

/// Serves every body concurrently, waits for all background work, checks cleanup, and returns
/// the responses (in request order) and the final store.
fn serve_all(
    ctx: &SimulatedExecutionContext,
    service: &Service,
    bodies: &[String],
) -> (Vec<IngestResponse>, BTreeMap<String, String>) {
    let requests: Vec<_> = bodies
        .iter()
        .map(|body| {
            let (ctx_for_handler, service, body) = (ctx.clone(), service.clone(), body.clone());
            ctx.serve(async move { service.ingest(&ctx_for_handler, &body) })
        })
        .collect();
    let sessions: Vec<_> = requests.iter().map(|request| request.session()).collect();
    let responses: Vec<IngestResponse> = requests
        .into_iter()
        .map(|request| ctx.block(request).expect("the handler does not panic"))
        .collect();
    for (session, response) in sessions.iter().zip(&responses) {
        let outcomes = ctx.wait_on_execution_context(*session);
        let expected_jobs = usize::from(response.status == 202);
        assert_eq!(outcomes.len(), expected_jobs, "{session}: {outcomes:?}");
        for outcome in outcomes {
            assert_eq!(outcome.outcome, WaitUntilOutcome::Completed, "{outcome}");
        }
        ctx.validate_session_cleanup(*session)
            .unwrap_or_else(|error| panic!("{error}"));
    }
    assert!(service.failures().is_empty(), "{:?}", service.failures());
    (responses, service.store().snapshot())
}

fn event_body(kind: &str, user: &str, values: &[f64]) -> String {
    serde_json::json!({ "type": kind, "user": user, "values": values }).to_string()
}

fn workload() -> Vec<String> {
    // Events of one type with as many values finish processing at the same virtual time, so
    // their counter updates race.
    (0..12)
        .map(|i| {
            let kind = ["click", "view"][i % 2];
            let values: Vec<f64> = (0..=i % 3)
                .map(|v| ((v + i) * 37 % 131) as f64 - 3.0)
                .collect();
            event_body(kind, &format!("user-{i}"), &values)
        })
        .collect()
}

#[test]
fn a_seed_gives_identical_responses_and_final_store() {
    let bodies = workload();
    let mut distinct_id_orders = std::collections::BTreeSet::new();
    run_seeds(|seed| {
        let run = || {
            let (ctx, service, objects) = simulation(seed);
            let result = serve_all(&ctx, &service, &bodies);
            let counts = (count_of(&objects, "click"), count_of(&objects, "view"));
            (result, counts, ctx.elapsed())
        };
        let first = run();
        let second = run();
        assert_eq!(first, second, "seed {seed} is not reproducible");
        let ((responses, _), _, _) = first;
        let ids: Vec<String> = responses
            .iter()
            .map(|response| response.accepted_id().expect("accepted").to_string())
            .collect();
        distinct_id_orders.insert(ids);
    });
    // Requests race for ids: different seeds must explore different interleavings.
    let iterations: u64 = std::env::var("ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    if std::env::var("SEED").is_err() && iterations >= 10 {
        assert!(
            distinct_id_orders.len() > 1,
            "every seed interleaved the requests the same way"
        );
    }
}

#[test]
fn concurrent_events_are_summarized_and_counted_exactly() {
    let bodies = workload();
    run_seeds(|seed| {
        let (ctx, service, objects) = simulation(seed);
        let (responses, store) = serve_all(&ctx, &service, &bodies);
        let mut expected_counts = BTreeMap::new();
        for (body, response) in bodies.iter().zip(&responses) {
            assert_eq!(response.status, 202, "{response:?}");
            let id = response.accepted_id().unwrap();
            let event: serde_json::Value = serde_json::from_str(body).unwrap();
            let values: Vec<f64> = serde_json::from_value(event["values"].clone()).unwrap();
            let summary: EventSummary = serde_json::from_str(&store[&event_key(id)]).unwrap();
            assert_eq!(summary.id, id);
            assert_eq!(summary.kind, event["type"]);
            assert_eq!(summary.user, event["user"]);
            assert_eq!(summary.count, values.len());
            assert_eq!(summary.sum, values.iter().sum::<f64>());
            assert_eq!(summary.min, values.iter().copied().fold(f64::MAX, f64::min));
            assert_eq!(summary.max, values.iter().copied().fold(f64::MIN, f64::max));
            assert_eq!(summary.histogram.iter().sum::<u32>() as usize, values.len());
            *expected_counts
                .entry(event["type"].as_str().unwrap().to_string())
                .or_insert(0u64) += 1;
        }
        // Every increment survives the races between requests (the object's input gate).
        for (kind, count) in &expected_counts {
            assert_eq!(count_of(&objects, kind), *count, "count of {kind}");
        }
        assert_eq!(
            store.len(),
            bodies.len(),
            "only the summaries are in the store"
        );
    });
}

#[test]
fn bad_events_are_rejected_naming_the_field_and_nothing_is_stored() {
    let cases: &[(&str, &str, &str)] = &[
        ("{", "body", "is not valid JSON"),
        ("[1, 2]", "body", "must be a JSON object, found an array"),
        (r#"{"user":"ada","values":[1]}"#, "type", "is missing"),
        (
            r#"{"type":7,"user":"ada","values":[1]}"#,
            "type",
            "must be a string, found a number",
        ),
        (
            r#"{"type":"Click!","user":"ada","values":[1]}"#,
            "type",
            "must be 1 to 32 characters",
        ),
        (r#"{"type":"click","values":[1]}"#, "user", "is missing"),
        (
            r#"{"type":"click","user":"","values":[1]}"#,
            "user",
            "must be 1 to 64 characters long, found 0",
        ),
        (r#"{"type":"click","user":"ada"}"#, "values", "is missing"),
        (
            r#"{"type":"click","user":"ada","values":{}}"#,
            "values",
            "must be an array of numbers, found an object",
        ),
        (
            r#"{"type":"click","user":"ada","values":[]}"#,
            "values",
            "must hold 1 to 32 numbers, found 0",
        ),
        (
            r#"{"type":"click","user":"ada","values":[1,"2",3]}"#,
            "values[1]",
            "must be a number, found a string",
        ),
        (
            r#"{"type":"click","user":"ada","values":[1,2,null]}"#,
            "values[2]",
            "must be a number, found null",
        ),
        (
            r#"{"type":"click","user":"ada","values":[1],"colour":"red"}"#,
            "colour",
            "is not a known field",
        ),
    ];
    run_seeds(|seed| {
        let (ctx, service, objects) = simulation(seed);
        let bodies: Vec<String> = cases.iter().map(|(body, _, _)| body.to_string()).collect();
        let (responses, store) = serve_all(&ctx, &service, &bodies);
        for ((body, field, problem), response) in cases.iter().zip(&responses) {
            assert_eq!(response.status, 400, "{body} -> {response:?}");
            assert_eq!(response.body["status"], "rejected");
            assert_eq!(response.body["field"], *field, "{body}");
            let error = response.body["error"].as_str().unwrap();
            assert!(
                error.contains(&format!("field `{field}` {problem}")),
                "{body}: {error}"
            );
        }
        assert!(store.is_empty(), "rejected events stored {store:?}");
        assert!(
            objects.events().is_empty(),
            "a rejected event reached a counter"
        );
    });
}

#[test]
fn a_rejected_event_among_accepted_ones_stores_only_the_accepted() {
    run_seeds(|seed| {
        let (ctx, service, objects) = simulation(seed);
        let bodies = vec![
            event_body("click", "ada", &[1.0]),
            r#"{"type":"click","user":"bob","values":[1,"x"]}"#.to_string(),
            event_body("click", "cy", &[2.0, 3.0]),
        ];
        let (responses, store) = serve_all(&ctx, &service, &bodies);
        let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [202, 400, 202]);
        assert_eq!(count_of(&objects, "click"), 2);
        assert_eq!(store.len(), 2, "{store:?}");
    });
}

#[test]
fn routes_read_back_what_processing_stored() {
    run_seeds(|seed| {
        let (ctx, service, objects) = simulation(seed);
        let request = {
            let (ctx2, service) = (ctx.clone(), service.clone());
            let body = event_body("view", "ada", &[5.0, 15.0]);
            ctx.serve(async move { service.route(&ctx2, "POST", "/events", &body).await })
        };
        let session = request.session();
        let accepted = ctx.block(request).unwrap();
        let id = accepted.accepted_id().unwrap().to_string();
        // Answered at once: nothing is stored yet.
        let before = ctx.block(service.event(&id));
        assert_eq!(before.status, 404);
        ctx.wait_on_execution_context(session);
        let after = ctx.block(service.event(&id));
        assert_eq!(after.status, 200);
        assert_eq!(after.body["sum"], 20.0);
        assert_eq!(after.body["histogram"], serde_json::json!([0, 1, 1, 0]));
        let count = ctx.block(service.count("view"));
        assert_eq!(
            count.body,
            serde_json::json!({ "type": "view", "count": 1 })
        );
        let lookup = ctx.block(async {
            let (ctx2, service) = (ctx.clone(), service.clone());
            (
                service.route(&ctx2, "GET", "/counts/view", "").await,
                service.route(&ctx2, "DELETE", "/events", "").await,
                service.route(&ctx2, "GET", "/nowhere", "").await,
            )
        });
        assert_eq!(lookup.0.body["count"], 1);
        assert_eq!(lookup.1.status, 405);
        assert_eq!(lookup.2.status, 404);
        assert_eq!(count_of(&objects, "view"), 1);
    });
}

/// A store whose writes to some keys fail.
#[derive(Clone)]
struct FailingStore {
    inner: MemoryStore,
    broken_key_prefix: &'static str,
}

impl EventStore for FailingStore {
    async fn get(&self, key: &str) -> Result<Option<String>, scheduler_worker::ingest::StoreError> {
        self.inner.get(key).await
    }

    async fn put(
        &self,
        key: &str,
        value: String,
    ) -> Result<(), scheduler_worker::ingest::StoreError> {
        if key.starts_with(self.broken_key_prefix) {
            return Err(scheduler_worker::ingest::StoreError(format!(
                "{key} is read-only"
            )));
        }
        self.inner.put(key, value).await
    }
}

#[test]
fn a_store_failure_after_the_response_is_recorded_not_lost() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let ctx = SimulatedExecutionContext::new(test.clone());
        let store = FailingStore {
            inner: MemoryStore::with_simulated_latency(test.clone()),
            broken_key_prefix: "event:",
        };
        let (objects, counters) = counters(&ctx);
        let service = IngestService::new(
            ctx.runtime(),
            store.clone(),
            counters,
            SequentialIds::new("evt"),
        );
        let request = {
            let (ctx2, service) = (ctx.clone(), service.clone());
            let body = event_body("click", "ada", &[1.0]);
            ctx.serve(async move { service.ingest(&ctx2, &body) })
        };
        let session = request.session();
        let response = ctx.block(request).unwrap();
        assert_eq!(response.status, 202, "answered before the failure");
        let outcomes = ctx.wait_on_execution_context(session);
        assert_eq!(outcomes[0].outcome, WaitUntilOutcome::Completed);
        assert_eq!(
            service.failures(),
            ["evt-000001: store error: event:evt-000001 is read-only"]
        );
        // Not stored, so not counted either.
        assert!(store.inner.is_empty());
        assert!(objects.events().is_empty(), "{:?}", objects.events());
    });
}

/// A store every call of which fails: whatever reaches it is answered 500.
struct UnreachableStore;

impl EventStore for UnreachableStore {
    async fn get(&self, key: &str) -> Result<Option<String>, scheduler_worker::ingest::StoreError> {
        Err(scheduler_worker::ingest::StoreError(format!(
            "get {key}: the store is down"
        )))
    }

    async fn put(
        &self,
        key: &str,
        _value: String,
    ) -> Result<(), scheduler_worker::ingest::StoreError> {
        Err(scheduler_worker::ingest::StoreError(format!(
            "put {key}: the store is down"
        )))
    }
}

#[test]
fn malformed_or_oversized_path_parameters_get_a_400_before_the_store_is_asked() {
    let test = TestScheduler::with_seed(0);
    let ctx = SimulatedExecutionContext::new(test.clone());
    let (_objects, counters) = counters(&ctx);
    let service = IngestService::new(
        ctx.runtime(),
        UnreachableStore,
        counters,
        SequentialIds::new("evt"),
    );
    let long_id = format!("/events/{}", "e".repeat(MAX_ID_LEN + 1));
    let long_type = format!("/counts/{}", "a".repeat(MAX_TYPE_LEN + 1));
    let cases = [
        ("/events/evt%20one", "id"),
        ("/events/evt.1", "id"),
        (long_id.as_str(), "id"),
        ("/counts/Click", "type"),
        ("/counts/a%2Fb", "type"),
        (long_type.as_str(), "type"),
    ];
    for (path, field) in cases {
        let response = ctx.block({
            let (ctx, service) = (ctx.clone(), &service);
            async move { service.route(&ctx, "GET", path, "").await }
        });
        assert_eq!(response.status, 400, "{path}: {response:?}");
        assert_eq!(response.body["status"], "rejected", "{path}");
        assert_eq!(response.body["field"], field, "{path}");
        let error = response.body["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("invalid parameter `{field}`: must be 1 to ")),
            "{path}: {error}"
        );
        // An oversized value is never echoed back, only its length.
        assert!(error.len() < 120, "{path}: {error}");
    }
    // Well-formed parameters do reach the store (which is down: 500) and the counter object
    // (whose storage fails every read: 500 once the read was tried three times).
    assert_eq!(ctx.block(service.event("evt-0a1b2c3d-000001")).status, 500);
    ctx.set_faults(SimulationFaults {
        object_storage_failure: 1.0,
        ..SimulationFaults::default()
    });
    let count = ctx.block(service.count("click"));
    assert_eq!(count.status, 500, "{count:?}");
    let error = count.body["error"].as_str().unwrap();
    assert!(
        error.starts_with("count of click: 3 reads failed, the last: the Durable Object was reset"),
        "{error}"
    );
    assert_eq!(
        ctx.block(service.count(&"a".repeat(MAX_TYPE_LEN))).status,
        500
    );
}
