//! [`CounterBook`]: per-type event counters combined across concurrent requests, with every
//! increment accounted for.
//!
//! Each accepted event holds a [`Ticket`]: one increment of its type's counter. The event's
//! `wait_until` job [joins](CounterBook::join) the book and stays until its ticket is settled.
//! One job at a time holds the lease and [flushes](Flush): a round per type reads the counter and
//! writes it plus every waiting increment of that type, so a burst of N events costs one read
//! and one write per type, not N serialized ones. The other jobs wait for their ticket; one of
//! them takes over when the lease is released with work left, or when it expired (its holder
//! stopped running: workerd abandons a cut-off request's work without dropping it).
//!
//! The rule: a ticket ends **counted** (a confirmed write carried it) or **failed** (a line of
//! the failure log names its event) — never both, never twice, never silently left pending.
//! - Every store call of a round is bounded ([`STORE_TIMEOUT`]) and every job has a deadline
//!   well before the runtime's 30 s `wait_until` limit, so no job is cut off holding
//!   increments.
//! - A write issued but never confirmed (timed out, or its job cancelled or abandoned) is *in
//!   doubt*: it may have landed. It is never blindly redone on top of itself: the next round of
//!   its type reads the counter first. The value it wrote means it landed (its tickets are
//!   counted); the value it had read means it did not (its tickets are written again, with the
//!   new ones); anything else cannot be told apart (its tickets fail as "may not be counted").
//! - A job that reaches its deadline, or is dropped, with its ticket still waiting withdraws it
//!   and records why (a ticket in doubt is recorded as "may not be counted"). A ticket in the
//!   running round is taken out of it while the round's write is not computed yet, and is
//!   "may not be counted" after: its fate never waits on another request's job, which may die
//!   with its isolate. When the last job leaves, whatever nobody is left to write fails the
//!   same way.
//! - A holder renews its lease just before each write (so the lease outlives the write's own
//!   time-out, however long the holder was kept from running since its read) and does not
//!   write if the lease was taken over: a late write never lands after a newer holder's.
//!
//! Within one isolate this is exact. Across isolates sharing an eventually consistent store
//! (Workers KV, no compare-and-swap) a read-modify-write counter stays best-effort, and a
//! write that timed out may still land later; exact global counts need a single writer (a
//! Durable Object).

mod flush;
mod job;
#[cfg(test)]
mod tests;

pub(super) use flush::Flush;
pub(super) use job::Job;
use job::maybe_counted;

use super::{FailureLog, STORE_TIMEOUT};
use scheduler::Instant;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

/// How long a lease outlives the store call its holder started: a holder that has not come
/// back this long after its own time-out stopped running, and is taken over.
const LEASE_MARGIN: Duration = Duration::from_secs(1);

/// The clock the book judges deadlines and leases by (the runtime's).
pub(super) type Clock = Rc<dyn Fn() -> Instant>;

/// Pending counter increments, who writes them, and who waits for them.
pub(super) struct CounterBook {
    state: RefCell<State>,
    clock: Clock,
    failures: FailureLog,
}

#[derive(Default)]
struct State {
    /// Increments waiting for a round, by type (ordered, so rounds are deterministic).
    pending: BTreeMap<String, Vec<Ticket>>,
    /// Writes issued but never confirmed, by type (at most one per type).
    doubts: BTreeMap<String, Doubt>,
    /// The right to flush, held by one job at a time.
    lease: Option<Lease>,
    leases_granted: u64,
    /// The jobs in the book and their deadlines.
    jobs: BTreeMap<u64, Instant>,
    jobs_joined: u64,
    /// Bumped on every change; waiting jobs wake on it.
    version: u64,
    waiters: Vec<Waker>,
}

struct Lease {
    id: u64,
    /// When the holder counts as gone, unless it renews the lease first.
    expires: Instant,
    flight: Option<Flight>,
}

/// The round a lease holder is running: one type's doubt and increments.
struct Flight {
    kind: String,
    /// The type's write in doubt, until the round's read settles it.
    doubt: Option<Doubt>,
    /// The increments the round writes.
    tickets: Vec<Ticket>,
    /// Once the write is issued: the value read and the value written.
    put: Option<(u64, u64)>,
}

/// A write of `written` (over `base`) that was issued and never confirmed.
struct Doubt {
    base: u64,
    written: u64,
    tickets: Vec<Ticket>,
}

/// How a ticket ended, if it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    /// Not settled yet.
    Open,
    /// A confirmed write carried it.
    Counted,
    /// Not counted; the failure log names its event.
    Failed,
    /// The write that carried it was never confirmed; the failure log says it may not be
    /// counted. (If a later round finds that write landed, it is counted all the same.)
    Doubtful,
}

/// One event's increment of its type's counter.
#[derive(Clone)]
pub(super) struct Ticket(Rc<TicketState>);

struct TicketState {
    event: String,
    kind: String,
    status: Cell<Status>,
}

impl Ticket {
    fn is(&self, other: &Ticket) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    fn is_open(&self) -> bool {
        self.0.status.get() == Status::Open
    }
}

impl CounterBook {
    /// An empty book judging time by `clock` and recording failures in `failures`.
    pub(super) fn new(clock: Clock, failures: FailureLog) -> Self {
        Self {
            state: RefCell::default(),
            clock,
            failures,
        }
    }

    /// Records one event of `kind`; the returned job waits for it until `deadline`.
    pub(super) fn join(&self, event: &str, kind: &str, deadline: Instant) -> Job<'_> {
        let ticket = Ticket(Rc::new(TicketState {
            event: event.to_string(),
            kind: kind.to_string(),
            status: Cell::new(Status::Open),
        }));
        let mut state = self.state.borrow_mut();
        let pending = state.pending.entry(kind.to_string()).or_default();
        pending.push(ticket.clone());
        state.jobs_joined += 1;
        let id = state.jobs_joined;
        state.jobs.insert(id, deadline);
        Job::new(self, id, ticket)
    }

    /// The lease, if it is free (or its holder is gone) and there is something to write.
    pub(super) fn try_lead(&self, now: Instant) -> Option<Flush<'_>> {
        let mut state = self.state.borrow_mut();
        if state
            .lease
            .as_ref()
            .is_some_and(|lease| now < lease.expires)
        {
            return None;
        }
        state.reclaim_lease();
        if !state.has_work() {
            return None;
        }
        state.leases_granted += 1;
        let id = state.leases_granted;
        state.lease = Some(Lease {
            id,
            expires: now + STORE_TIMEOUT + LEASE_MARGIN,
            flight: None,
        });
        Some(Flush::new(self, id))
    }

    /// When the current lease expires, if one is held.
    pub(super) fn lease_expiry(&self) -> Option<Instant> {
        self.state
            .borrow()
            .lease
            .as_ref()
            .map(|lease| lease.expires)
    }

    /// Completes at the book's next change.
    pub(super) fn changed(&self) -> impl Future<Output = ()> + '_ {
        let seen = self.state.borrow().version;
        std::future::poll_fn(move |cx| {
            let mut state = self.state.borrow_mut();
            if state.version != seen {
                return Poll::Ready(());
            }
            if !state
                .waiters
                .iter()
                .any(|known| known.will_wake(cx.waker()))
            {
                state.waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
    }

    /// Increments not settled yet (waiting, being written, or in doubt).
    pub(super) fn pending(&self) -> u64 {
        let state = self.state.borrow();
        let flight = state.lease.iter().flat_map(|lease| &lease.flight);
        let tickets = state
            .pending
            .values()
            .flatten()
            .chain(state.doubts.values().flat_map(|doubt| &doubt.tickets))
            .chain(flight.clone().flat_map(|flight| &flight.tickets))
            .chain(flight.flat_map(|flight| flight.doubt.iter().flat_map(|d| &d.tickets)));
        tickets.filter(|ticket| ticket.is_open()).count() as u64
    }

    /// Settles `ticket` (if it is open) and records why it failed.
    fn settle(&self, ticket: &Ticket, status: Status, why: &str) {
        if !ticket.is_open() {
            return;
        }
        ticket.0.status.set(status);
        if status != Status::Counted {
            let line = format!("{}: {why}", ticket.0.event);
            self.failures.record(line);
        }
    }

    /// Wakes every waiting job.
    fn notify(&self) {
        let waiters = {
            let mut state = self.state.borrow_mut();
            state.version += 1;
            std::mem::take(&mut state.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
    }
}

impl State {
    /// Takes back the flight of the lease (its holder is gone or done) and frees the lease.
    fn reclaim_lease(&mut self) {
        if let Some(flight) = self.lease.take().and_then(|lease| lease.flight) {
            self.put_back(flight);
        }
    }

    /// Returns an unfinished round: a write issued becomes a doubt; otherwise its doubt and
    /// increments wait again, ahead of newer ones.
    fn put_back(&mut self, flight: Flight) {
        let Flight {
            kind,
            doubt,
            tickets,
            put,
        } = flight;
        let doubt = match put {
            Some((base, written)) => Some(Doubt {
                base,
                written,
                tickets,
            }),
            None => {
                let pending = self.pending.entry(kind.clone()).or_default();
                pending.splice(0..0, tickets);
                doubt
            }
        };
        if let Some(doubt) = doubt {
            let previous = self.doubts.insert(kind, doubt);
            debug_assert!(previous.is_none(), "one write in doubt per type");
        }
        self.pending.retain(|_, tickets| !tickets.is_empty());
    }

    /// Whether a round has something to do: increments waiting, or a doubt to settle.
    fn has_work(&self) -> bool {
        self.next_kind().is_some()
    }

    /// The first type with increments waiting or an open ticket in doubt.
    fn next_kind(&self) -> Option<String> {
        let waiting = self.pending.iter().find(|(_, tickets)| !tickets.is_empty());
        let doubtful = self
            .doubts
            .iter()
            .find(|(_, doubt)| doubt.tickets.iter().any(Ticket::is_open));
        [
            waiting.map(|(kind, _)| kind),
            doubtful.map(|(kind, _)| kind),
        ]
        .into_iter()
        .flatten()
        .min()
        .cloned()
    }

    /// Removes `ticket` from the waiting increments; whether it was there.
    fn withdraw(&mut self, ticket: &Ticket) -> bool {
        let Some(tickets) = self.pending.get_mut(&ticket.0.kind) else {
            return false;
        };
        let before = tickets.len();
        tickets.retain(|other| !other.is(ticket));
        let removed = tickets.len() < before;
        self.pending.retain(|_, tickets| !tickets.is_empty());
        removed
    }

    fn in_doubt(&self, ticket: &Ticket) -> bool {
        self.doubts
            .get(&ticket.0.kind)
            .is_some_and(|doubt| doubt.tickets.iter().any(|other| other.is(ticket)))
    }
}
