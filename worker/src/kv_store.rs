//! [`KvEventStore`]: the ingest handler's [`EventStore`] on a Workers KV namespace.

use crate::ingest::{EventStore, StoreError};
use worker::KvStore;

/// Workers KV as an [`EventStore`], every key prefixed with `prefix`.
pub struct KvEventStore {
    kv: KvStore,
    prefix: &'static str,
}

impl KvEventStore {
    /// A store over `kv`, keeping its keys under `prefix`.
    pub fn new(kv: KvStore, prefix: &'static str) -> Self {
        Self { kv, prefix }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl EventStore for KvEventStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.kv
            .get(&self.key(key))
            .text()
            .await
            .map_err(|error| StoreError(format!("KV get {key}: {error}")))
    }

    async fn put(&self, key: &str, value: String) -> Result<(), StoreError> {
        self.kv
            .put(&self.key(key), value)
            .map_err(|error| StoreError(format!("KV put {key}: {error}")))?
            .execute()
            .await
            .map_err(|error| StoreError(format!("KV put {key}: {error}")))
    }
}
