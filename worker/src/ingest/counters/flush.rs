//! [`Flush`]: the lease holder's side of the book. A round takes one type's doubt and waiting
//! increments, settles the doubt with the counter's current value, writes the new value, and
//! reports the outcome. Every method does nothing once the lease was taken over.

use super::{CounterBook, Flight, LEASE_MARGIN, Lease, State, Status, maybe_counted};
use crate::ingest::{STORE_TIMEOUT, count_key};
use scheduler::Instant;

/// The lease: the right (and duty) to write pending increments. Dropped — done, stopped or
/// cancelled — it hands back an unfinished round (a write issued becomes a doubt) and lets the
/// next job lead.
pub(in crate::ingest) struct Flush<'a> {
    book: &'a CounterBook,
    lease: u64,
}

impl<'a> Flush<'a> {
    pub(super) fn new(book: &'a CounterBook, lease: u64) -> Self {
        Self { book, lease }
    }

    /// Whether this is still the book's lease (not taken over by another job).
    pub(in crate::ingest) fn is_current(&self) -> bool {
        self.book
            .state
            .borrow()
            .lease
            .as_ref()
            .is_some_and(|lease| lease.id == self.lease)
    }

    /// Runs `change` on the state and the lease if this is still the lease; then wakes the
    /// waiting jobs.
    fn with_lease<T>(&self, change: impl FnOnce(&mut State, &CounterBook) -> T) -> Option<T> {
        if !self.is_current() {
            return None;
        }
        let output = change(&mut self.book.state.borrow_mut(), self.book);
        self.book.notify();
        Some(output)
    }

    /// Starts the next round: the first type with increments waiting or an open ticket in
    /// doubt. `None` when there is nothing to do. The caller reads the counter next.
    pub(in crate::ingest) fn next_round(&mut self, now: Instant) -> Option<String> {
        self.with_lease(|state, _| {
            let kind = state.next_kind()?;
            let lease = lease_of(state);
            debug_assert!(lease.flight.is_none(), "one round at a time");
            lease.expires = now + STORE_TIMEOUT + LEASE_MARGIN;
            let flight = Flight {
                kind: kind.clone(),
                doubt: state.doubts.remove(&kind),
                tickets: state.pending.remove(&kind).unwrap_or_default(),
                put: None,
            };
            lease_of(state).flight = Some(flight);
            Some(kind)
        })
        .flatten()
    }

    /// The round's read found `value`: settles the doubt (see the module docs) and returns the
    /// value to write, or `None` when nothing is left to write (the round is over).
    pub(in crate::ingest) fn read(&mut self, value: u64, now: Instant) -> Option<u64> {
        self.with_lease(|state, book| {
            let lease = lease_of(state);
            let flight = lease.flight.as_mut()?;
            if let Some(doubt) = flight.doubt.take() {
                if value == doubt.written {
                    for ticket in &doubt.tickets {
                        book.settle(ticket, Status::Counted, "");
                    }
                } else if value == doubt.base {
                    // It did not land: write its increments again, ahead of the new ones.
                    flight.tickets.splice(0..0, doubt.tickets);
                } else {
                    let why = format!(
                        "{} holds {value}, neither {} (its write lost) nor {} (its write landed)",
                        count_key(&flight.kind),
                        doubt.base,
                        doubt.written
                    );
                    for ticket in &doubt.tickets {
                        book.settle(ticket, Status::Doubtful, &maybe_counted(&why));
                    }
                }
            }
            if flight.tickets.is_empty() {
                lease.flight = None;
                return None;
            }
            let written = value + flight.tickets.len() as u64;
            flight.put = Some((value, written));
            lease.expires = now + STORE_TIMEOUT + LEASE_MARGIN;
            Some(written)
        })
        .flatten()
    }

    /// Renews the lease just before the round's write is issued, so that it outlives the
    /// write's own time-out: between the read and the write the holder may have been kept
    /// from running (the isolate busy elsewhere), and a write issued on a lease about to
    /// expire could land after a new holder's, with an older value. `false` if the lease was
    /// taken over meanwhile: the write must not be issued (the new holder settles the round as
    /// a write in doubt, from the counter's value).
    pub(in crate::ingest) fn renew(&mut self, now: Instant) -> bool {
        self.with_lease(|state, _| {
            lease_of(state).expires = now + STORE_TIMEOUT + LEASE_MARGIN;
        })
        .is_some()
    }

    /// The round's write was confirmed: its increments are counted.
    pub(in crate::ingest) fn written(&mut self) {
        self.with_lease(|state, book| {
            if let Some(flight) = lease_of(state).flight.take() {
                for ticket in &flight.tickets {
                    book.settle(ticket, Status::Counted, "");
                }
            }
        });
    }

    /// The round's read or write failed with `error`: its increments are not counted, and a
    /// doubt it could not settle may not be.
    pub(in crate::ingest) fn failed(&mut self, error: &str) {
        self.with_lease(|state, book| {
            if let Some(flight) = lease_of(state).flight.take() {
                for ticket in &flight.tickets {
                    book.settle(ticket, Status::Failed, error);
                }
                for ticket in flight.doubt.iter().flat_map(|doubt| &doubt.tickets) {
                    let why = format!("{error} while checking {}", count_key(&flight.kind));
                    book.settle(ticket, Status::Doubtful, &maybe_counted(&why));
                }
            }
        });
    }

    /// The round's read or write did not answer in time: the round is handed back (a write
    /// issued is now in doubt).
    pub(in crate::ingest) fn timed_out(&mut self) {
        self.with_lease(|state, _| {
            if let Some(flight) = lease_of(state).flight.take() {
                state.put_back(flight);
            }
        });
    }
}

impl Drop for Flush<'_> {
    fn drop(&mut self) {
        self.with_lease(|state, _| state.reclaim_lease());
    }
}

fn lease_of(state: &mut State) -> &mut Lease {
    state.lease.as_mut().expect("checked by with_lease")
}
