//! [`IsolateIds`]: event ids unique across isolates and restarts (a random isolate tag plus a
//! counter), so a persisted KV never sees an id twice.

use crate::ingest::EventIds;
use std::cell::Cell;

/// Ids `evt-{tag}-{n}`: `tag` is random per isolate, `n` counts up from 1.
pub struct IsolateIds {
    tag: String,
    issued: Cell<u64>,
}

impl IsolateIds {
    /// A new id source with a fresh random tag.
    pub fn new() -> Self {
        let tag = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
        Self {
            tag: format!("{tag:08x}"),
            issued: Cell::new(0),
        }
    }
}

impl EventIds for IsolateIds {
    fn next_id(&self) -> String {
        let next = self.issued.get() + 1;
        self.issued.set(next);
        format!("evt-{}-{next:06}", self.tag)
    }
}
