//! [`IngestService`]: the event-ingest handler, generic over the platform. Validate, answer
//! "accepted" at once, then under `wait_until` fan out to three timed stages, aggregate, and
//! store the summary and the per-type counter.

use super::counter::{CounterReply, CounterRequest, Counters};
use super::outbox::Outbox;
use super::{
    Event, EventIds, EventStore, FailureLog, IngestResponse, PROCESSING_BUDGET, STORE_TIMEOUT,
    validate_id, validate_type,
};
use scheduler::cloud::{ExecutionContext, PlatformRuntime};
use serde_json::json;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// How many times `GET /counts/{type}` asks the counter object before it answers 500 (a read
/// changes nothing, so it is retried freely).
const READ_ATTEMPTS: u32 = 3;

/// The pause before the second read attempt (doubled before each next one).
const READ_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// The store key of an event's summary.
pub fn event_key(id: &str) -> String {
    format!("event:{id}")
}

/// What the events' increments went through on their way to the counter objects (served on
/// `/stats` as `counter`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterStats {
    /// Increment attempts sent (each event's first, and its retries).
    pub attempts: u64,
    /// Attempts that got no answer: failed, or not answered in time (each may have taken
    /// effect, so the event's next attempt is sent as is).
    pub attempts_failed: u64,
    /// Events counted by a retry that found them counted already: an earlier attempt had taken
    /// effect although it failed.
    pub found_counted_on_retry: u64,
    /// Events counted (first time, or found counted).
    pub counted: u64,
    /// Events given up on at their deadline ("may not be counted").
    pub given_up: u64,
}

/// The event-ingest handler. Clones share the runtime, store, id source and counters: use
/// one service (cloned) for every request of an isolate or a simulation.
///
/// Nothing here is `Send`; it runs unchanged in a Worker and in a simulation.
///
/// Every accepted event (202) ends up counted exactly once, or named in
/// [`failures`](Self::failures) — never silently lost, never counted twice — whatever the store
/// does: its background work finishes within [`PROCESSING_BUDGET`], every store call in it is
/// given up after [`STORE_TIMEOUT`](super::STORE_TIMEOUT), and a counter write that was never
/// confirmed is checked before it is redone. Counter updates of concurrent requests are
/// combined (one read and one write per type per round; see `counters/mod.rs`). Across Worker
/// isolates sharing an eventually consistent store (Workers KV) counts stay best-effort; exact
/// global counts need a single writer (a Durable Object).
pub struct IngestService<R, S> {
    pub(super) inner: Rc<Inner<R, S>>,
}

pub(super) struct Inner<R, S> {
    pub(super) runtime: Rc<R>,
    pub(super) store: S,
    /// The per-type counter objects.
    pub(super) counters: Counters,
    /// Increments sent to a counter object and not answered yet (retries included).
    pub(super) counting: Cell<u64>,
    /// Combines the increments of concurrent events of a type into one request.
    pub(super) outbox: Outbox,
    /// What the increments went through so far.
    pub(super) counter_stats: Cell<CounterStats>,
    ids: Box<dyn EventIds>,
    pub(super) failures: FailureLog,
}

impl<R, S> Clone for IngestService<R, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<R: PlatformRuntime + 'static, S: EventStore + 'static> IngestService<R, S> {
    /// A service over `runtime` and `store`, naming events with `ids`; its failures are kept
    /// in memory only (see [`with_failure_log`](Self::with_failure_log)).
    pub fn new(runtime: R, store: S, counters: Counters, ids: impl EventIds + 'static) -> Self {
        Self::with_failure_log(runtime, store, counters, ids, FailureLog::new())
    }

    /// A service that records its failures in `failures`: in a Worker, a log that forwards
    /// each line out of the isolate ([`FailureLog::forwarding`]), so that an isolate reset
    /// cannot lose them.
    pub fn with_failure_log(
        runtime: R,
        store: S,
        counters: Counters,
        ids: impl EventIds + 'static,
        failures: FailureLog,
    ) -> Self {
        let runtime = Rc::new(runtime);
        Self {
            inner: Rc::new(Inner {
                runtime,
                store,
                counters,
                counting: Cell::new(0),
                outbox: Outbox::default(),
                counter_stats: Cell::default(),
                ids: Box::new(ids),
                failures,
            }),
        }
    }

    /// Counter increments of accepted events not settled yet: sent to their counter object (or
    /// waiting to ride a request to it) and not answered. 0 once every event's background work
    /// has ended.
    pub fn pending_count_increments(&self) -> u64 {
        self.inner.counting.get()
    }

    /// What the increments sent to the counter objects went through so far.
    pub fn counter_stats(&self) -> CounterStats {
        self.inner.counter_stats.get()
    }

    /// The counter objects (the dev routes audit and reset them).
    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// Failures of background processing so far, one line per event that was accepted but not
    /// (or maybe not) stored and counted: `"evt-000003: store error: …"`, `"evt-000004: not
    /// counted: …"`, `"evt-000005: may not be counted: …"`. The response was already sent, so
    /// they are kept here for logs, `/stats` and tests — in this isolate's memory: a log that
    /// forwards them ([`with_failure_log`](Self::with_failure_log)) keeps them past a reset.
    pub fn failures(&self) -> Vec<String> {
        self.inner.failures.lines()
    }

    /// `POST /events`: validates `body`; answers 400 naming the bad field (storing nothing), or
    /// 202 with the event's id at once, and registers the processing with `ctx.wait_until`.
    pub fn ingest<C: ExecutionContext>(&self, ctx: &C, body: &str) -> IngestResponse {
        let event = match Event::parse(body) {
            Ok(event) => event,
            Err(error) => return IngestResponse::rejected(&error),
        };
        let id = self.inner.ids.next_id();
        let deadline = self.inner.runtime.now() + PROCESSING_BUDGET;
        let service = self.clone();
        let job_id = id.clone();
        ctx.wait_until(async move { service.process(&job_id, event, deadline).await });
        IngestResponse::accepted(&id)
    }

    /// `GET /events/{id}`: 200 with the stored summary, 404 while it is not (yet) stored, or
    /// 400 for a malformed or oversized `id` ([`validate_id`]; the store is not asked).
    pub async fn event(&self, id: &str) -> IngestResponse {
        if let Err(error) = validate_id(id) {
            return IngestResponse::invalid_parameter(&error);
        }
        match self.inner.store.get(&event_key(id)).await {
            Ok(Some(text)) => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(summary) => IngestResponse::ok(summary),
                Err(error) => IngestResponse::internal_error(&format!(
                    "stored summary of {id} is not JSON: {error}"
                )),
            },
            Ok(None) => IngestResponse::not_found(&format!("no event {id}")),
            Err(error) => IngestResponse::internal_error(&error.to_string()),
        }
    }

    /// `GET /counts/{type}`: 200 `{"type":…,"count":n}` (0 for a type never seen), or 400 for
    /// a malformed or oversized type ([`validate_type`]; the store is not asked).
    pub async fn count(&self, kind: &str) -> IngestResponse {
        if let Err(error) = validate_type(kind) {
            return IngestResponse::invalid_parameter(&error);
        }
        let mut pause = READ_RETRY_PAUSE;
        let mut attempt = 1;
        loop {
            let read = self.inner.counters.send(kind, CounterRequest::Read);
            let why = match self.within(read).await {
                Some(Ok(CounterReply::Count { count })) => {
                    return IngestResponse::ok(json!({ "type": kind, "count": count }));
                }
                Some(Ok(CounterReply::Failed { error })) => error,
                Some(Ok(other)) => format!("the counter object answered {other:?} to a read"),
                Some(Err(failure)) => failure.to_string(),
                None => format!("the counter object did not answer within {STORE_TIMEOUT:?}"),
            };
            if attempt == READ_ATTEMPTS {
                return IngestResponse::internal_error(&format!(
                    "count of {kind}: {READ_ATTEMPTS} reads failed, the last: {why}"
                ));
            }
            attempt += 1;
            self.inner.runtime.delay(pause).await;
            pause *= 2;
        }
    }

    /// Dispatches a request by method and path to [`ingest`](Self::ingest),
    /// [`event`](Self::event) or [`count`](Self::count); 405 or 404 otherwise. The Worker
    /// routes with `worker::Router` (`src/lib.rs`) to the same three methods; this is that
    /// table for the simulation tests.
    pub async fn route<C: ExecutionContext>(
        &self,
        ctx: &C,
        method: &str,
        path: &str,
        body: &str,
    ) -> IngestResponse {
        let path = path.trim_end_matches('/');
        match (method, path) {
            ("POST", "/events") => self.ingest(ctx, body),
            (_, "/events") => IngestResponse::method_not_allowed(method, path),
            ("GET", _) => {
                if let Some(id) = path.strip_prefix("/events/") {
                    self.event(id).await
                } else if let Some(kind) = path.strip_prefix("/counts/") {
                    self.count(kind).await
                } else {
                    IngestResponse::not_found(&format!("no route for GET {path}"))
                }
            }
            _ => IngestResponse::not_found(&format!("no route for {method} {path}")),
        }
    }
}
