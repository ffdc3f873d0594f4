//! The event-ingest handler: written once, run by the Worker (wasm32) and by the native
//! simulation tests (`worker/tests/`).
//!
//! `POST /events` with `{"type": "click", "user": "ada", "values": [1, 2.5, 40]}`:
//! - an invalid event is rejected (400) with the bad field named, and nothing is stored;
//! - a valid one is answered at once (202 `{"status":"accepted","id":"evt-000001"}`); then,
//!   under [`wait_until`](scheduler::cloud::ExecutionContext::wait_until), three stages run in
//!   parallel, each after a delay ([`PlatformRuntime::delay`](scheduler::cloud::PlatformRuntime)),
//!   their results are aggregated into an [`EventSummary`] stored under `event:{id}`, and the
//!   counter `count:{type}` goes up by one.
//!
//! [`IngestService`] is generic over the platform ([`PlatformRuntime`](scheduler::cloud::PlatformRuntime),
//! [`EventStore`], [`EventIds`]) and takes any [`ExecutionContext`](scheduler::cloud::ExecutionContext);
//! the Worker binds it to Workers KV, tests to a [`MemoryStore`].

mod counters;
mod event;
mod ids;
mod response;
mod service;
mod store;
mod summary;

pub use event::{Event, MAX_TYPE_LEN, MAX_USER_LEN, MAX_VALUES, ValidationError};
pub use ids::{EventIds, SequentialIds};
pub use response::IngestResponse;
pub use service::{IngestService, count_key, event_key};
pub use store::{EventStore, MAX_SIMULATED_LATENCY_MS, MemoryStore, StoreError};
pub use summary::{EventSummary, HISTOGRAM_DELAY, SPREAD_DELAY, TOTALS_DELAY_PER_VALUE};
