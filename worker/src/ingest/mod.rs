//! The event-ingest handler: written once, run by the Worker (wasm32) and by the native
//! simulation tests (`worker/tests/`).
//!
//! `POST /events` with `{"type": "click", "user": "ada", "values": [1, 2.5, 40]}`:
//! - an invalid event is rejected (400) with the bad field named, and nothing is stored;
//! - a valid one is answered at once (202 `{"status":"accepted","id":"evt-000001"}`); then,
//!   under [`wait_until`](scheduler::cloud::ExecutionContext::wait_until), three stages run in
//!   parallel, each after a delay ([`PlatformRuntime::delay`](scheduler::cloud::PlatformRuntime)),
//!   their results are aggregated into an [`EventSummary`] stored under `event:{id}`, and the
//!   event is counted once on its type's counter object ([`EventCounter`], a Durable Object).
//!
//! An event answered 202 ends up counted exactly once, or named in
//! [`IngestService::failures`] (served on `/stats`): never silently lost, never counted twice,
//! whatever the store does (stall, fail, never answer, land a write whose answer is lost). Its
//! background work ends within [`PROCESSING_BUDGET`], before the runtime's 30 s `wait_until`
//! limit; each store call in it is given up after [`STORE_TIMEOUT`].
//!
//! [`IngestService`] is generic over the platform ([`PlatformRuntime`](scheduler::cloud::PlatformRuntime),
//! [`EventStore`], [`EventIds`]) and takes any [`ExecutionContext`](scheduler::cloud::ExecutionContext);
//! the Worker binds it to Workers KV, tests to a [`MemoryStore`].

mod background;
mod counter;
mod event;
mod failures;
mod ids;
mod outbox;
mod response;
mod service;
mod store;
mod summary;

pub use counter::{
    COUNTER_BINDING, COUNTER_CLASS, CounterReply, CounterRequest, Counters, EventCounter,
    MAX_BATCH, MAX_BUSY_YIELDS,
};
pub use event::{Event, MAX_TYPE_LEN, MAX_USER_LEN, MAX_VALUES, ValidationError, validate_type};
pub use failures::FailureLog;
pub use ids::{EventIds, MAX_ID_LEN, SequentialIds, validate_id};
pub use response::IngestResponse;
pub use service::{CounterStats, IngestService, event_key};
pub use store::{EventStore, MAX_SIMULATED_LATENCY_MS, MemoryStore, StoreError};
pub use summary::{EventSummary, HISTOGRAM_DELAY, SPREAD_DELAY, TOTALS_DELAY_PER_VALUE};

use std::time::Duration;

/// How long the background work of one event may take, from its response: it then stops and
/// records what it could not finish. Below the Workers runtime's 30 s `wait_until` limit
/// ([`WAIT_UNTIL_LIMIT`](scheduler::cloud::WAIT_UNTIL_LIMIT)), so the runtime never cuts it
/// off holding other events' increments.
pub const PROCESSING_BUDGET: Duration = Duration::from_secs(25);

/// How long the background work waits for one store call (a get or a put), or for the counter
/// object's answer to one increment, before giving up on it. An increment given up on may still
/// have taken effect: it is sent again with the same event id, which the object counts once.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(5);
