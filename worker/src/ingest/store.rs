//! [`EventStore`]: the small async key-value store the ingest handler writes to (Workers KV in
//! the Worker), and [`MemoryStore`], its in-memory form for simulation.

use scheduler::{Scheduler, TestScheduler};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// The longest simulated latency of one [`MemoryStore`] operation, in milliseconds.
pub const MAX_SIMULATED_LATENCY_MS: u64 = 10;

/// A store operation failed (the message comes from the backend).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store error: {}", self.0)
    }
}

impl Error for StoreError {}

/// Get and put of strings by key. Futures need not be `Send` (Workers KV futures hold JS
/// values).
pub trait EventStore {
    /// The value under `key`, if any.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<String>, StoreError>>;

    /// Stores `value` under `key`, replacing what was there.
    fn put(&self, key: &str, value: String) -> impl Future<Output = Result<(), StoreError>>;
}

/// An in-memory [`EventStore`]. Clones share the same map.
///
/// With [`with_simulated_latency`](Self::with_simulated_latency) over a [`TestScheduler`],
/// every operation first waits a seeded random virtual time (0 to
/// [`MAX_SIMULATED_LATENCY_MS`] ms), so concurrent requests interleave inside store calls as
/// they would against a real store.
///
/// ```
/// use scheduler_worker::ingest::{EventStore, MemoryStore};
/// let store = MemoryStore::new();
/// futures::executor::block_on(async {
///     store.put("k", "v".to_string()).await.unwrap();
///     assert_eq!(store.get("k").await.unwrap().as_deref(), Some("v"));
/// });
/// assert_eq!(store.len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    entries: Rc<RefCell<BTreeMap<String, String>>>,
    latency: Option<Arc<dyn Scheduler>>,
}

impl MemoryStore {
    /// An empty store whose operations complete at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose operations first wait a random virtual time (seeded by the
    /// scheduler, when it is a [`TestScheduler`]; no delay on other schedulers).
    pub fn with_simulated_latency(scheduler: Arc<dyn Scheduler>) -> Self {
        Self {
            entries: Rc::default(),
            latency: Some(scheduler),
        }
    }

    /// Every entry, in key order.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.entries.borrow().clone()
    }

    /// How many entries the store holds.
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }

    async fn simulate_latency(&self) {
        let Some(scheduler) = &self.latency else {
            return;
        };
        let Some(test) = scheduler.downcast_ref::<TestScheduler>() else {
            return;
        };
        let latency = Duration::from_millis(test.random_range(0..MAX_SIMULATED_LATENCY_MS + 1));
        scheduler.timer(latency).await;
    }
}

impl EventStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.simulate_latency().await;
        Ok(self.entries.borrow().get(key).cloned())
    }

    async fn put(&self, key: &str, value: String) -> Result<(), StoreError> {
        self.simulate_latency().await;
        self.entries.borrow_mut().insert(key.to_string(), value);
        Ok(())
    }
}
