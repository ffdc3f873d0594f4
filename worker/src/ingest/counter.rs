//! [`EventCounter`]: the exact per-type event counter, a Durable Object (one per event type,
//! named by the type), and what the Worker sends it ([`CounterRequest`]) and gets back
//! ([`CounterReply`]).
//!
//! The object is written once against [`DurableObjectState`]: natively the simulation tests run
//! it in a `SimulatedDurableObjectNamespace` (its gates, its storage, object resets and storage
//! failures as seeded faults), on workerd the `#[durable_object]` class in `src/counter_class.rs`
//! forwards its `fetch` events to it. The Worker reaches it through a
//! [`DurableObjectNamespace`](scheduler::cloud::DurableObjectNamespace) ([`Counters`]), the
//! simulated one or the real binding `COUNTER`.
//!
//! # Exactly once
//!
//! Its storage holds `count` and, for every event it counted, `applied:{event id}` (the count
//! that event made). An increment reads both keys (the input gate holds every other event back
//! meanwhile), then, if the event is not applied yet, issues both writes in one step before any
//! await: they are confirmed together, atomically, or not at all (a failed write resets the
//! object and discards both). So `count` is always the number of `applied:` keys, and every
//! `applied:` value `1..=count` appears once.
//!
//! A failed increment may still have been applied (the object can be reset after its writes
//! were confirmed, before its response reached the Worker), so the Worker retries with the same
//! event id: the object finds `applied:{id}` and answers "already counted" without adding.

use futures::future::join;
use scheduler::cloud::{
    DurableObjectHandler, DurableObjectMessage, DurableObjectNamespace, DurableObjectState,
    ListOptions, StorageError,
};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// The binding of the counter's class in `wrangler.toml`.
pub const COUNTER_BINDING: &str = "COUNTER";

/// The counter's class name (`class_name` in `wrangler.toml`, the `#[durable_object]` struct).
pub const COUNTER_CLASS: &str = "EventCounter";

/// The Worker's side of the counter objects: the simulated namespace natively, the `COUNTER`
/// binding on workerd.
pub type Counters =
    Rc<dyn DurableObjectNamespace<Request = CounterRequest, Response = CounterReply>>;

/// The storage key of the count.
const COUNT_KEY: &str = "count";

/// The prefix of the keys that record which events were counted.
const APPLIED_PREFIX: &str = "applied:";

/// What the Worker asks a counter object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum CounterRequest {
    /// Counts event `event` once: adds one and records the event, unless it is recorded
    /// already (a retry of an increment that took effect), then answers the count.
    Increment {
        /// The event's id: the increment's idempotency key.
        event: String,
    },
    /// The count.
    Read,
    /// The count and every event counted, in key order (the dev route `/debug/counter`).
    Audit,
    /// Resets the object on purpose: `block_concurrency_while` with a future that fails, which
    /// the platform answers by resetting the object (its events in flight fail). Sent only by
    /// the dev route `/debug/counter/reset`.
    Reset,
}

/// What a counter object answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum CounterReply {
    /// The event is counted: by this request, or (`already`) by an earlier one.
    Counted {
        /// The count after it.
        count: u64,
        /// Whether an earlier request had counted it already.
        already: bool,
    },
    /// The count.
    Count {
        /// The count.
        count: u64,
    },
    /// The count and the events counted.
    Audit {
        /// The count.
        count: u64,
        /// Each counted event and the count it made, in key order.
        applied: Vec<(String, u64)>,
    },
    /// The request failed in the object (a storage error it could answer; a failed storage
    /// operation resets the object instead, and the caller sees that failure).
    Failed {
        /// Why.
        error: String,
    },
}

impl DurableObjectMessage for CounterRequest {
    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a counter request always serializes")
    }

    fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        serde_json::from_slice(&bytes).map_err(|error| format!("not a counter request: {error}"))
    }
}

impl DurableObjectMessage for CounterReply {
    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a counter reply always serializes")
    }

    fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        serde_json::from_slice(&bytes).map_err(|error| format!("not a counter reply: {error}"))
    }
}

/// The counter object of one event type, written once against [`DurableObjectState`].
pub struct EventCounter<S> {
    state: S,
}

impl<S: DurableObjectState> EventCounter<S> {
    /// The object over its state (what the runtime constructs it with).
    pub fn new(state: S) -> Self {
        Self { state }
    }

    /// Counts `event` once (see the module docs).
    async fn increment(&self, event: &str) -> Result<CounterReply, StorageError> {
        let storage = self.state.storage();
        let applied_key = format!("{APPLIED_PREFIX}{event}");
        let (count, applied) = join(
            storage.get::<u64>(COUNT_KEY),
            storage.get::<u64>(&applied_key),
        )
        .await;
        let count = count?.unwrap_or(0);
        if applied?.is_some() {
            return Ok(CounterReply::Counted {
                count,
                already: true,
            });
        }
        let count = count + 1;
        // Both writes issued before any await: confirmed together, or neither.
        let wrote_count = storage.put(COUNT_KEY, &count);
        let wrote_applied = storage.put(&applied_key, &count);
        wrote_count.await?;
        wrote_applied.await?;
        Ok(CounterReply::Counted {
            count,
            already: false,
        })
    }

    async fn read(&self) -> Result<CounterReply, StorageError> {
        let count = self.state.storage().get::<u64>(COUNT_KEY).await?;
        Ok(CounterReply::Count {
            count: count.unwrap_or(0),
        })
    }

    async fn audit(&self) -> Result<CounterReply, StorageError> {
        let storage = self.state.storage();
        let (count, applied) = join(
            storage.get::<u64>(COUNT_KEY),
            storage.list::<u64>(ListOptions::new().prefix(APPLIED_PREFIX)),
        )
        .await;
        let applied = applied?
            .into_iter()
            .map(|(key, count)| (key[APPLIED_PREFIX.len()..].to_string(), count))
            .collect();
        Ok(CounterReply::Audit {
            count: count?.unwrap_or(0),
            applied,
        })
    }

    async fn reset(&self) -> CounterReply {
        let reset = self
            .state
            .block_concurrency_while(async {
                Err::<(), _>("reset on purpose (the dev route /debug/counter/reset)")
            })
            .await;
        // The platform resets the object, so this event fails and this answer is not seen.
        CounterReply::Failed {
            error: match reset {
                Ok(()) => "the object was not reset".to_string(),
                Err(failure) => failure.to_string(),
            },
        }
    }
}

impl<S: DurableObjectState + 'static> DurableObjectHandler for EventCounter<S> {
    type Request = CounterRequest;
    type Response = CounterReply;

    async fn fetch(&self, request: CounterRequest) -> CounterReply {
        let answer = match request {
            CounterRequest::Increment { event } => self.increment(&event).await,
            CounterRequest::Read => self.read().await,
            CounterRequest::Audit => self.audit().await,
            CounterRequest::Reset => return self.reset().await,
        };
        answer.unwrap_or_else(|error| CounterReply::Failed {
            error: error.to_string(),
        })
    }
}
