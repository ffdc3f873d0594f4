//! The timeline a [`TestScheduler`](super::TestScheduler) records for a Chrome trace / Perfetto
//! file (`timeline_json.rs` writes it): every poll, spawn, wake, timer, task end and marked
//! instant, in order, with the virtual time and who did it.
//!
//! Kept apart from the [`TraceEvent`](super::TraceEvent)s on purpose: the trace is what two runs
//! compare and what the cross-target hash covers, so what the timeline adds (wakes, timers,
//! marks) must not change it. Events are small copies of the task's metadata (no strings but a
//! mark's own), and only the last [`TIMELINE_LIMIT`] are kept, so the seed harness can record
//! every seed and still write the end of a long failing run.

use crate::{SessionId, TaskMetadata, TaskOutcome};
use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

/// How many events a timeline keeps: the most recent ones (about 100 bytes each). The file
/// says how many earlier events were dropped.
pub const TIMELINE_LIMIT: usize = 200_000;

/// `by` of an event caused by code outside every task (the test body, a block loop).
pub(super) const BY_TEST: u64 = 0;
/// `by` of an event handed in from another OS thread.
pub(super) const BY_FOREIGN: u64 = u64::MAX;

/// What an instant recorded with
/// [`TestScheduler::record_instant`](super::TestScheduler::record_instant) marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InstantKind {
    /// Something worth seeing on the timeline (a request served, a session ended).
    Note,
    /// A fault injected into the code under test (a failed store write, a dropped message):
    /// drawn as a fault (category `fault`).
    Fault,
}

impl fmt::Display for InstantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InstantKind::Note => "note",
            InstantKind::Fault => "fault",
        })
    }
}

/// One recorded event. `at` is virtual time since the scheduler started; `by` the id of the
/// task being polled when it happened ([`BY_TEST`], [`BY_FOREIGN`], or a timer's id while it
/// fires).
#[derive(Clone, Debug)]
pub(super) enum Event {
    Spawned {
        at: Duration,
        task: TaskMetadata,
        by: u64,
    },
    /// A poll begins (tick number `tick`); the next unmatched `PollEnd` ends it.
    Poll {
        at: Duration,
        tick: u64,
        task: TaskMetadata,
    },
    PollEnd {
        at: Duration,
    },
    Woken {
        at: Duration,
        task: TaskMetadata,
        by: u64,
    },
    TimerSet {
        at: Duration,
        timer: TaskMetadata,
        delay: Duration,
        by: u64,
    },
    TimerFired {
        at: Duration,
        timer: TaskMetadata,
    },
    TimerCancelled {
        at: Duration,
        timer: TaskMetadata,
        by: u64,
    },
    Ended {
        at: Duration,
        task: TaskMetadata,
        outcome: TaskOutcome,
        by: u64,
    },
    Mark {
        at: Duration,
        kind: InstantKind,
        name: String,
        args: Vec<(String, String)>,
        by: u64,
        /// The session current when it was recorded (its track, if any).
        session: Option<SessionId>,
    },
}

impl Event {
    pub(super) fn at(&self) -> Duration {
        match self {
            Event::Spawned { at, .. }
            | Event::Poll { at, .. }
            | Event::PollEnd { at }
            | Event::Woken { at, .. }
            | Event::TimerSet { at, .. }
            | Event::TimerFired { at, .. }
            | Event::TimerCancelled { at, .. }
            | Event::Ended { at, .. }
            | Event::Mark { at, .. } => *at,
        }
    }
}

/// The recorded events of one scheduler.
#[derive(Clone, Debug, Default)]
pub(super) struct Timeline {
    pub(super) events: VecDeque<Event>,
    /// Events dropped from the front to stay within [`TIMELINE_LIMIT`].
    pub(super) dropped: u64,
}

impl Timeline {
    #[inline]
    pub(super) fn push(&mut self, event: Event) {
        if self.events.len() == TIMELINE_LIMIT {
            self.events.pop_front();
            self.dropped += 1;
        }
        self.events.push_back(event);
    }
}
