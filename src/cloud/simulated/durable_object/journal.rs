//! What a simulated Durable Object namespace reports: each event
//! ([`DurableObjectEventReport`]), each injected fault ([`InjectedObjectFault`]) and the counts
//! ([`DurableObjectCounts`]), kept in the namespace's [`Journal`].

use crate::SessionId;
use crate::cloud::durable_object::{DurableObjectFailure, DurableObjectId};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// What a namespace's objects did: the events (and which session is whose), the faults, the
/// counts. Shared by the namespace and its objects.
#[derive(Default)]
pub(super) struct Journal {
    pub(super) events: RefCell<Vec<DurableObjectEventReport>>,
    /// Event session -> index in `events` (the session's owner).
    pub(super) sessions: RefCell<BTreeMap<SessionId, usize>>,
    pub(super) faults: RefCell<Vec<InjectedObjectFault>>,
    pub(super) counts: Cell<DurableObjectCounts>,
}

impl Journal {
    pub(super) fn count(&self, change: impl FnOnce(&mut DurableObjectCounts)) {
        let mut counts = self.counts.get();
        change(&mut counts);
        self.counts.set(counts);
    }

    pub(super) fn count_reset(&self) {
        self.count(|counts| counts.resets += 1);
    }

    pub(super) fn count_eviction(&self) {
        self.count(|counts| counts.evictions += 1);
    }

    pub(super) fn record_fault(&self, fault: InjectedObjectFault) {
        self.count(|counts| match fault.kind {
            DurableObjectFaultKind::StorageFailure => counts.storage_failures_injected += 1,
            DurableObjectFaultKind::Reset => counts.resets_injected += 1,
            DurableObjectFaultKind::Eviction => counts.evictions_injected += 1,
            DurableObjectFaultKind::AlarmFailure => counts.alarm_failures_injected += 1,
        });
        self.faults.borrow_mut().push(fault);
    }

    /// Logs a sent event; returns its index.
    pub(super) fn event_sent(&self, event: DurableObjectEventReport) -> usize {
        let session = event.session;
        let index = {
            let mut events = self.events.borrow_mut();
            events.push(event);
            events.len() - 1
        };
        self.sessions.borrow_mut().insert(session, index);
        self.count(|counts| counts.events += 1);
        index
    }

    pub(super) fn event_delivered(&self, index: usize, at: Duration) {
        if let Some(event) = self.events.borrow_mut().get_mut(index) {
            event.delivered_at.get_or_insert(at);
        }
    }

    pub(super) fn event_ended(
        &self,
        index: usize,
        outcome: DurableObjectEventOutcome,
        at: Duration,
    ) {
        if let Some(event) = self.events.borrow_mut().get_mut(index) {
            event.ended_at = Some(at);
            event.outcome = Some(outcome);
        }
    }
}

/// The kind of an event delivered to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurableObjectEventKind {
    /// A `fetch` sent through a stub.
    Fetch,
    /// A run of the object's alarm.
    Alarm {
        /// Retries of this alarm before this run (0: its first run).
        retry_count: u32,
    },
}

impl fmt::Display for DurableObjectEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fetch => f.write_str("fetch"),
            Self::Alarm { retry_count: 0 } => f.write_str("alarm"),
            Self::Alarm { retry_count } => write!(f, "alarm (retry {retry_count})"),
        }
    }
}

/// How an event ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DurableObjectEventOutcome {
    /// The handler finished and its response (an alarm: its success) passed the output gate:
    /// every write made before it was confirmed.
    Completed,
    /// The alarm handler returned an error, or an injected alarm failure made its run count as
    /// failed (its writes stand: alarms are delivered at least once). It is retried with
    /// backoff.
    AlarmFailed(String),
    /// The event failed: the object was reset while it was in flight, or the handler panicked.
    Failed(DurableObjectFailure),
}

impl DurableObjectEventOutcome {
    /// Whether the event completed.
    pub fn is_completed(&self) -> bool {
        *self == Self::Completed
    }
}

impl fmt::Display for DurableObjectEventOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Completed => f.write_str("completed"),
            Self::AlarmFailed(reason) => write!(f, "the alarm handler failed: {reason}"),
            Self::Failed(failure) => write!(f, "failed: {failure}"),
        }
    }
}

/// One event of a simulated object: which object, its session (whose
/// [`SessionReport`](crate::cloud::SessionReport) is the leak report, as a request's), when it
/// was sent, delivered and ended, and how.
#[derive(Clone, Debug)]
pub struct DurableObjectEventReport {
    /// The object.
    pub object: DurableObjectId,
    /// The event's session on the context.
    pub session: SessionId,
    /// Fetch or alarm.
    pub kind: DurableObjectEventKind,
    /// When it was sent (virtual time since the context was created).
    pub sent_at: Duration,
    /// When it was delivered to an instance, if it was.
    pub delivered_at: Option<Duration>,
    /// When it ended, if it has.
    pub ended_at: Option<Duration>,
    /// How it ended, if it has.
    pub outcome: Option<DurableObjectEventOutcome>,
}

impl fmt::Display for DurableObjectEventReport {
    /// `fetch to click (session#4) at 1.2s: completed at 1.2s`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to {} ({}) at {:?}",
            self.kind,
            self.object.short(),
            self.session,
            self.sent_at
        )?;
        match (&self.outcome, self.ended_at) {
            (Some(outcome), Some(at)) => write!(f, ": {outcome} at {at:?}"),
            _ => f.write_str(": in flight"),
        }
    }
}

/// A kind of fault injected into simulated Durable Objects (see
/// [`SimulationFaults`](crate::cloud::SimulationFaults)'s `object_*` and `alarm_failure`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DurableObjectFaultKind {
    /// A storage read, or the confirmation of writes, failed: the object was reset.
    StorageFailure,
    /// The object was reset at a random moment.
    Reset,
    /// The object was evicted before an event (it was idle): its in-memory state was lost.
    Eviction,
    /// An alarm run counted as failed after its handler returned.
    AlarmFailure,
}

impl fmt::Display for DurableObjectFaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::StorageFailure => "object storage failure",
            Self::Reset => "object reset",
            Self::Eviction => "object eviction",
            Self::AlarmFailure => "alarm failure",
        })
    }
}

/// One fault injected into an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedObjectFault {
    /// The object.
    pub object: DurableObjectId,
    /// Its kind.
    pub kind: DurableObjectFaultKind,
    /// What it hit.
    pub what: String,
    /// When (virtual time since the context was created).
    pub at: Duration,
}

impl fmt::Display for InjectedObjectFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {:?} on {}: {}",
            self.kind,
            self.at,
            self.object.short(),
            self.what
        )
    }
}

/// What the objects of a namespace went through, summed over them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DurableObjectCounts {
    /// Events sent (fetches and alarm runs).
    pub events: u64,
    /// Resets (injected, or caused by a failed storage operation, a failed or late
    /// `block_concurrency_while`, an isolate reset, or asked for).
    pub resets: u64,
    /// Evictions (injected or asked for).
    pub evictions: u64,
    /// Alarm runs that failed and were retried.
    pub alarm_retries: u64,
    /// Alarms given up after their last retry failed.
    pub alarms_given_up: u64,
    /// Injected faults, per kind.
    pub storage_failures_injected: u64,
    /// Injected resets.
    pub resets_injected: u64,
    /// Injected evictions.
    pub evictions_injected: u64,
    /// Injected alarm failures.
    pub alarm_failures_injected: u64,
}
