//! [`Job`]: an event's side of the book. It waits for its ticket, may lead a flush, and when
//! it leaves with its ticket still open, withdraws it and records why.

use super::{CounterBook, Status, Ticket};

/// An event's job in the book: it waits for its ticket, and may lead a flush. Dropped with the
/// ticket still open (gave up, or its `wait_until` work was cut off), it withdraws the ticket
/// and records why.
pub(in crate::ingest) struct Job<'a> {
    book: &'a CounterBook,
    id: u64,
    ticket: Ticket,
    why: Option<String>,
}

impl<'a> Job<'a> {
    /// A job of `book` waiting for `ticket`.
    pub(super) fn new(book: &'a CounterBook, id: u64, ticket: Ticket) -> Self {
        Self {
            book,
            id,
            ticket,
            why: None,
        }
    }

    /// How the job's ticket ended, if it has.
    pub(in crate::ingest) fn status(&self) -> Status {
        self.ticket.0.status.get()
    }

    /// Stops waiting; an open ticket fails with `why`.
    pub(in crate::ingest) fn give_up(mut self, why: String) {
        self.why = Some(why);
    }
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        let why = self.why.take().unwrap_or_else(|| {
            format!(
                "its wait_until work ended before count:{} was written",
                self.ticket.0.kind
            )
        });
        self.book.leave(self.id, &self.ticket, &why);
    }
}

impl CounterBook {
    /// A job leaves: its ticket, if still waiting, is withdrawn and fails with `why`; if it
    /// was the last job able to write, whatever is left fails too.
    pub(super) fn leave(&self, job: u64, ticket: &Ticket, why: &str) {
        let now = (self.clock)();
        let mut state = self.state.borrow_mut();
        state.jobs.remove(&job);
        if ticket.is_open() {
            if state
                .lease
                .as_ref()
                .is_some_and(|lease| now >= lease.expires)
            {
                state.reclaim_lease();
            }
            if state.withdraw(ticket) {
                self.settle(ticket, Status::Failed, &format!("not counted: {why}"));
            } else if state.in_doubt(ticket) {
                self.settle(ticket, Status::Doubtful, &maybe_counted(why));
            } else if let Some(flight) = state.lease.as_mut().and_then(|l| l.flight.as_mut()) {
                // In the live lease holder's round. The holder belongs to another request,
                // which may die (an isolate reset runs nothing more): the ticket's fate is
                // recorded now, not left to it. Before the round's write is computed the
                // ticket leaves the round; after, it may be counted.
                let before = flight.tickets.len();
                if flight.put.is_none() {
                    flight.tickets.retain(|other| !other.is(ticket));
                }
                if flight.tickets.len() < before {
                    self.settle(ticket, Status::Failed, &format!("not counted: {why}"));
                } else {
                    self.settle(ticket, Status::Doubtful, &maybe_counted(why));
                }
            }
        }
        let writers_left = state.jobs.values().any(|deadline| *deadline > now);
        if !writers_left && state.lease.is_none() {
            for ticket in std::mem::take(&mut state.pending).into_values().flatten() {
                let why = format!(
                    "not counted: no request was left to write count:{}",
                    ticket.0.kind
                );
                self.settle(&ticket, Status::Failed, &why);
            }
            for doubt in state.doubts.values() {
                for ticket in &doubt.tickets {
                    let why = format!("no request was left to check count:{}", ticket.0.kind);
                    self.settle(ticket, Status::Doubtful, &maybe_counted(&why));
                }
            }
        }
        drop(state);
        self.notify();
    }
}

pub(super) fn maybe_counted(why: &str) -> String {
    format!("may not be counted: {why}; the write that carried it was never confirmed")
}
