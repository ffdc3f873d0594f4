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
//! that event made). An increment carries one or more event ids (the Worker combines the
//! increments of concurrent events of a type into one request: `outbox.rs`). The object reads
//! `count` and each event's `applied:` key (the input gate holds every other event back
//! meanwhile), then issues every write in one step before any await: `applied:{id}` for each
//! event not counted yet, and the new `count`. They are confirmed together, atomically, or not
//! at all (a failed write resets the object and discards them all). So `count` is always the
//! number of `applied:` keys, and every `applied:` value `1..=count` appears once.
//!
//! A failed increment may still have been applied (the object can be reset after its writes
//! were confirmed, before its response reached the Worker), so the Worker retries with the same
//! event ids: the object finds `applied:{id}` and answers "already counted" without adding.

use futures::future::{join, join_all};
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

/// The most events one increment carries.
pub const MAX_BATCH: usize = 64;

/// The most yields a [`CounterRequest::Busy`] asks for.
pub const MAX_BUSY_YIELDS: u64 = 10_000_000;

/// The storage key of the count.
const COUNT_KEY: &str = "count";

/// The prefix of the keys that record which events were counted.
const APPLIED_PREFIX: &str = "applied:";

/// What the Worker asks a counter object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum CounterRequest {
    /// Counts each of `events` once: adds one per event and records it, unless it is recorded
    /// already (a retry of an increment that took effect), then answers the count. An id given
    /// twice is counted once.
    Increment {
        /// The events' ids: each one's idempotency key. At most [`MAX_BATCH`].
        events: Vec<String>,
    },
    /// The count.
    Read,
    /// The count and every event counted, in key order (the dev route `/debug/counter`).
    Audit,
    /// Resets the object on purpose: `block_concurrency_while` with a future that fails, which
    /// the platform answers by resetting the object (its events in flight fail). Sent only by
    /// the dev route `/debug/counter/reset`.
    Reset,
    /// Panics in the object's handler, on purpose: only this event fails (a `panic = "unwind"`
    /// build answers it with a 500 naming the panic); the object, its other events and its
    /// storage carry on. Sent only by the dev route `/debug/counter/panic`.
    Panic,
    /// Keeps the object's event busy: its handler yields to the scheduler `yields` times (a
    /// task that wakes itself, at most [`MAX_BUSY_YIELDS`]), then answers how often it did.
    /// The scheduler's per-session time slices let the isolate's other requests run meanwhile.
    /// Sent only by the dev route `/debug/counter/busy`.
    Busy {
        /// How many times to yield.
        yields: u64,
    },
}

/// What a counter object answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum CounterReply {
    /// The events are counted: by this request, or (those in `already`) by an earlier one.
    Counted {
        /// The count after them.
        count: u64,
        /// The events an earlier request had counted already.
        already: Vec<String>,
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
    /// The handler yielded this many times ([`CounterRequest::Busy`]).
    Yielded {
        /// How many times.
        yields: u64,
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

    /// Counts each of `events` once (see the module docs).
    async fn increment(&self, events: &[String]) -> Result<CounterReply, StorageError> {
        if events.len() > MAX_BATCH {
            return Ok(CounterReply::Failed {
                error: format!(
                    "an increment carries at most {MAX_BATCH} events, not {}",
                    events.len()
                ),
            });
        }
        let storage = self.state.storage();
        let keys: Vec<String> = events
            .iter()
            .map(|event| format!("{APPLIED_PREFIX}{event}"))
            .collect();
        let (count, applied) = join(
            storage.get::<u64>(COUNT_KEY),
            join_all(keys.iter().map(|key| storage.get::<u64>(key))),
        )
        .await;
        let mut count = count?.unwrap_or(0);
        let mut already = Vec::new();
        let mut fresh: Vec<&str> = Vec::new();
        for ((event, key), applied) in events.iter().zip(&keys).zip(applied) {
            if applied?.is_some() {
                already.push(event.clone());
            } else if !fresh.contains(&key.as_str()) {
                fresh.push(key);
            }
        }
        // Every write issued before any await: confirmed together, or none.
        let mut writes = Vec::with_capacity(fresh.len() + 1);
        for key in fresh {
            count += 1;
            writes.push(storage.put(key, &count));
        }
        if !writes.is_empty() {
            writes.push(storage.put(COUNT_KEY, &count));
        }
        for write in writes {
            write.await?;
        }
        Ok(CounterReply::Counted { count, already })
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
            CounterRequest::Increment { events } => self.increment(&events).await,
            CounterRequest::Read => self.read().await,
            CounterRequest::Audit => self.audit().await,
            CounterRequest::Reset => return self.reset().await,
            CounterRequest::Busy { yields } => {
                if yields > MAX_BUSY_YIELDS {
                    return CounterReply::Failed {
                        error: format!("at most {MAX_BUSY_YIELDS} yields, not {yields}"),
                    };
                }
                for _ in 0..yields {
                    yield_now().await;
                }
                return CounterReply::Yielded { yields };
            }
            CounterRequest::Panic => {
                // After an await, as a handler's bug would be: the event is under way.
                let count = self.read().await;
                panic!("panic on purpose (the dev route /debug/counter/panic); it read {count:?}")
            }
        };
        answer.unwrap_or_else(|error| CounterReply::Failed {
            error: error.to_string(),
        })
    }
}

/// Completes on its second poll, waking its task before the first returns: the task goes to
/// the back of the scheduler's queue once.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if std::mem::replace(&mut yielded, true) {
            return std::task::Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}
