//! [`IngestService`]: the event-ingest handler, generic over the platform. Validate, answer
//! "accepted" at once, then under `wait_until` fan out to three timed stages, aggregate, and
//! store the summary and the per-type counter.

use super::counters::CounterBook;
use super::summary::{self, EventSummary, HISTOGRAM_DELAY, SPREAD_DELAY, TOTALS_DELAY_PER_VALUE};
use super::{Event, EventIds, EventStore, IngestResponse, StoreError};
use scheduler::cloud::{ExecutionContext, PlatformRuntime};
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

/// The store key of an event's summary.
pub fn event_key(id: &str) -> String {
    format!("event:{id}")
}

/// The store key of a type's counter.
pub fn count_key(kind: &str) -> String {
    format!("count:{kind}")
}

/// The event-ingest handler. Clones share the runtime, store, id source and counters: use
/// one service (cloned) for every request of an isolate or a simulation.
///
/// Nothing here is `Send`; it runs unchanged in a Worker and in a simulation.
///
/// Counter updates are combined within one service (see `counters.rs`): concurrent requests
/// never lose an increment and never wait on each other. Across Worker isolates sharing an
/// eventually consistent store (Workers KV) counts stay best-effort; exact global counts need a
/// single writer (a Durable Object).
pub struct IngestService<R, S> {
    inner: Rc<Inner<R, S>>,
}

struct Inner<R, S> {
    runtime: R,
    store: S,
    ids: Box<dyn EventIds>,
    /// Pending counter increments and who writes them.
    counters: CounterBook,
    failures: RefCell<Vec<String>>,
}

impl<R, S> Clone for IngestService<R, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<R: PlatformRuntime + 'static, S: EventStore + 'static> IngestService<R, S> {
    /// A service over `runtime` and `store`, naming events with `ids`.
    pub fn new(runtime: R, store: S, ids: impl EventIds + 'static) -> Self {
        Self {
            inner: Rc::new(Inner {
                runtime,
                store,
                ids: Box::new(ids),
                counters: CounterBook::default(),
                failures: RefCell::default(),
            }),
        }
    }

    /// Counter increments recorded but not yet written to the store (a flush is writing them,
    /// or the last one failed or was cancelled and the next request's flush will).
    pub fn pending_count_increments(&self) -> u64 {
        self.inner.counters.pending()
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// Store failures of background processing so far (`"evt-000003: store error: …"`): the
    /// response was already sent, so they are kept here for logs and tests.
    pub fn failures(&self) -> Vec<String> {
        self.inner.failures.borrow().clone()
    }

    /// `POST /events`: validates `body`; answers 400 naming the bad field (storing nothing), or
    /// 202 with the event's id at once, and registers the processing with `ctx.wait_until`.
    pub fn ingest<C: ExecutionContext>(&self, ctx: &C, body: &str) -> IngestResponse {
        let event = match Event::parse(body) {
            Ok(event) => event,
            Err(error) => return IngestResponse::rejected(&error),
        };
        let id = self.inner.ids.next_id();
        let service = self.clone();
        let job_id = id.clone();
        ctx.wait_until(async move {
            if let Err(error) = service.process(&job_id, event).await {
                service
                    .inner
                    .failures
                    .borrow_mut()
                    .push(format!("{job_id}: {error}"));
            }
        });
        IngestResponse::accepted(&id)
    }

    /// `GET /events/{id}`: 200 with the stored summary, or 404 while it is not (yet) stored.
    pub async fn event(&self, id: &str) -> IngestResponse {
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

    /// `GET /counts/{type}`: 200 `{"type":…,"count":n}` (0 for a type never seen).
    pub async fn count(&self, kind: &str) -> IngestResponse {
        match self.read_count(kind).await {
            Ok(count) => IngestResponse::ok(json!({ "type": kind, "count": count })),
            Err(error) => IngestResponse::internal_error(&error.to_string()),
        }
    }

    /// Dispatches a request by method and path to [`ingest`](Self::ingest),
    /// [`event`](Self::event) or [`count`](Self::count); 405 or 404 otherwise.
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

    /// The background part: three stages in parallel, each after its own delay; then the
    /// summary, then the counter.
    async fn process(&self, id: &str, event: Event) -> Result<EventSummary, StoreError> {
        let runtime = &self.inner.runtime;
        let values: Rc<[f64]> = event.values.into();
        let totals = runtime.spawn({
            let (service, values) = (self.clone(), values.clone());
            async move {
                let delay = TOTALS_DELAY_PER_VALUE * values.len() as u32;
                service.inner.runtime.delay(delay).await;
                summary::totals(&values)
            }
        });
        let histogram = runtime.spawn({
            let (service, values) = (self.clone(), values.clone());
            async move {
                service.inner.runtime.delay(HISTOGRAM_DELAY).await;
                summary::histogram(&values)
            }
        });
        let spread = runtime.spawn({
            let (service, values) = (self.clone(), values.clone());
            async move {
                service.inner.runtime.delay(SPREAD_DELAY).await;
                summary::spread(&values)
            }
        });
        let ((sum, min, max), histogram, (mean, stddev)) =
            futures::future::join3(totals, histogram, spread).await;
        let summary = EventSummary {
            id: id.to_string(),
            kind: event.kind,
            user: event.user,
            count: values.len(),
            sum,
            min,
            max,
            mean,
            stddev,
            histogram,
        };
        let text = serde_json::to_string(&summary).expect("a summary always serializes");
        self.inner.store.put(&event_key(id), text).await?;
        self.increment_count(&summary.kind).await?;
        Ok(summary)
    }

    /// Adds one to `kind`'s counter: writes every pending increment if no other request is
    /// writing them already, else leaves this one to that request's flush.
    async fn increment_count(&self, kind: &str) -> Result<(), StoreError> {
        let Some(mut flush) = self.inner.counters.add(kind) else {
            return Ok(());
        };
        while let Some((kind, increment)) = flush.next() {
            let count = self.read_count(&kind).await?;
            let next = (count + increment).to_string();
            self.inner.store.put(&count_key(&kind), next).await?;
            flush.written(&kind);
        }
        Ok(())
    }

    async fn read_count(&self, kind: &str) -> Result<u64, StoreError> {
        match self.inner.store.get(&count_key(kind)).await? {
            None => Ok(0),
            Some(text) => text.parse().map_err(|_| {
                StoreError(format!(
                    "counter {} holds {text:?}, not a number",
                    count_key(kind)
                ))
            }),
        }
    }
}
