//! [`EventIds`]: where event ids come from. Deterministic in simulation (a counter), anything
//! unique in production.

use super::ValidationError;
use super::event::shown;
use std::cell::Cell;

/// The longest event id `GET /events/{id}` accepts.
pub const MAX_ID_LEN: usize = 64;

/// Checks the `{id}` of `GET /events/{id}`: 1 to [`MAX_ID_LEN`] characters of `A-Z`, `a-z`,
/// `0-9`, `_`, `-` (every id an [`EventIds`] of this crate hands out is one).
///
/// ```
/// use scheduler_worker::ingest::validate_id;
/// assert!(validate_id("evt-0a1b2c3d-000042").is_ok());
/// assert_eq!(validate_id("evt%20one").unwrap_err().field, "id");
/// assert!(validate_id(&"e".repeat(65)).unwrap_err().problem.contains("found 65 characters"));
/// ```
pub fn validate_id(id: &str) -> Result<(), ValidationError> {
    let valid_chars = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if id.is_empty() || id.len() > MAX_ID_LEN || !valid_chars {
        return Err(ValidationError::new(
            "id",
            format!(
                "must be 1 to {MAX_ID_LEN} characters of A-Z, a-z, 0-9, `_` or `-`, found {}",
                shown(id, MAX_ID_LEN)
            ),
        ));
    }
    Ok(())
}

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
