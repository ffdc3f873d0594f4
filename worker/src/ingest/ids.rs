//! [`EventIds`]: where event ids come from. Deterministic in simulation (a counter), anything
//! unique in production.

use std::cell::Cell;

/// A source of event ids, unique within the store.
///
/// In a Worker, use a source unique across isolates and requests (a random UUID, for example):
/// a Worker may build its service per request, and many isolates share one store. In
/// simulation, [`SequentialIds`] keeps runs reproducible.
pub trait EventIds {
    /// The next id.
    fn next_id(&self) -> String;
}

/// Ids `evt-000001`, `evt-000002`… in call order: deterministic, so a seeded simulation gives
/// the same ids every run.
///
/// ```
/// use scheduler_worker::ingest::{EventIds, SequentialIds};
/// let ids = SequentialIds::new("evt");
/// assert_eq!(ids.next_id(), "evt-000001");
/// assert_eq!(ids.next_id(), "evt-000002");
/// ```
#[derive(Debug)]
pub struct SequentialIds {
    prefix: String,
    issued: Cell<u64>,
}

impl SequentialIds {
    /// Ids `{prefix}-000001`, `{prefix}-000002`…
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            issued: Cell::new(0),
        }
    }
}

impl EventIds for SequentialIds {
    fn next_id(&self) -> String {
        let next = self.issued.get() + 1;
        self.issued.set(next);
        format!("{}-{next:06}", self.prefix)
    }
}
