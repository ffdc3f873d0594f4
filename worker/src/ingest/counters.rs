//! [`CounterBook`]: per-type event counters combined across concurrent requests.
//!
//! Each request adds its increment to a pending map. The first request that finds no flush
//! running becomes the flusher: it writes every pending increment (one read and one write per
//! type) and keeps going until nothing is pending. Other requests return at once; their
//! increments ride on the flusher's writes. So no request ever waits on another (in workerd, a
//! request waiting on another request's I/O is cancelled as hung), and a burst of N events costs
//! one read+write per type per round instead of N serialized ones.
//!
//! Nothing is dropped silently: if the flusher is cancelled or a write fails, the increments it
//! had taken go back to the pending map, for the next request's flush.

use std::cell::RefCell;
use std::collections::BTreeMap;

#[derive(Default)]
pub(super) struct CounterBook {
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// Increments not yet written, by type (ordered, so flushes are deterministic).
    pending: BTreeMap<String, u64>,
    /// A flush is running (in some request's background work).
    flushing: bool,
}

impl CounterBook {
    /// Records one event of `kind`. Returns a [`Flush`] if the caller must write the pending
    /// increments (no flush is running), `None` if the running flush will write it.
    pub(super) fn add(&self, kind: &str) -> Option<Flush<'_>> {
        let mut state = self.state.borrow_mut();
        *state.pending.entry(kind.to_string()).or_default() += 1;
        if state.flushing {
            return None;
        }
        state.flushing = true;
        Some(Flush {
            book: self,
            taken: BTreeMap::new(),
        })
    }

    /// Increments not yet written (for reports and tests).
    pub(super) fn pending(&self) -> u64 {
        self.state.borrow().pending.values().sum()
    }
}

/// The right (and duty) to write pending increments. Dropped — finished, failed or cancelled —
/// it hands back whatever it took and did not write, and lets the next request flush.
pub(super) struct Flush<'a> {
    book: &'a CounterBook,
    taken: BTreeMap<String, u64>,
}

impl Flush<'_> {
    /// Takes the next pending type and its increment, or `None` when nothing is pending.
    pub(super) fn next(&mut self) -> Option<(String, u64)> {
        let mut state = self.book.state.borrow_mut();
        let kind = state.pending.keys().next()?.clone();
        let increment = state.pending.remove(&kind).unwrap_or_default();
        self.taken.insert(kind.clone(), increment);
        Some((kind, increment))
    }

    /// Marks `kind`'s taken increment as written.
    pub(super) fn written(&mut self, kind: &str) {
        self.taken.remove(kind);
    }
}

impl Drop for Flush<'_> {
    fn drop(&mut self) {
        let mut state = self.book.state.borrow_mut();
        for (kind, increment) in std::mem::take(&mut self.taken) {
            *state.pending.entry(kind).or_default() += increment;
        }
        state.flushing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_flusher_at_a_time_and_unwritten_increments_come_back() {
        let book = CounterBook::default();
        let mut flush = book.add("click").expect("nothing was flushing");
        assert!(
            book.add("click").is_none(),
            "a second request rides on the running flush"
        );
        assert!(book.add("view").is_none());
        assert_eq!(flush.next(), Some(("click".to_string(), 2)));
        flush.written("click");
        assert_eq!(flush.next(), Some(("view".to_string(), 1)));
        // Cancelled before "view" was written: it goes back, and the next add flushes it.
        drop(flush);
        assert_eq!(book.pending(), 1);
        let mut flush = book.add("view").expect("the cancelled flush let go");
        assert_eq!(flush.next(), Some(("view".to_string(), 2)));
        flush.written("view");
        assert_eq!(flush.next(), None);
        drop(flush);
        assert_eq!(book.pending(), 0);
    }
}
