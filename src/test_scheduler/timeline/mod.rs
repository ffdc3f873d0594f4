//! The timeline a [`TestScheduler`](crate::TestScheduler) records for a Chrome trace / Perfetto
//! file (`chrome_trace.rs` writes it): every poll, spawn, wake, timer, task end and marked
//! instant, in order, with the virtual time and who did it.
//!
//! Kept apart from the [`TraceEvent`](crate::TraceEvent)s on purpose: the trace is what two runs
//! compare and what the cross-target hash covers, so what the timeline adds (wakes, timers,
//! marks) must not change it. Events are small (ids and times; each task's metadata is kept
//! once), and only the last [`TIMELINE_LIMIT`] are kept, so the seed harness can record every
//! seed and still write the end of a long failing run.

pub(crate) mod chrome_trace;

use crate::{SessionId, TaskMetadata, TaskOutcome};
use std::fmt;

/// How many events a timeline keeps at most: the most recent ones (40 bytes each, plus the
/// metadata of each task once; when full, the oldest quarter goes). The file says how many
/// earlier events were dropped.
pub const TIMELINE_LIMIT: usize = 200_000;

/// `by` of an event caused by code outside every task (the test body, a block loop).
pub(crate) const BY_TEST: u64 = 0;
/// `by` of an event handed in from another OS thread.
pub(crate) const BY_FOREIGN: u64 = u64::MAX;

/// What an instant recorded with
/// [`TestScheduler::record_instant`](crate::TestScheduler::record_instant) marks.
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

/// One recorded event (40 bytes): when, about which task, caused by whom, and what. A task's
/// metadata is kept once, in [`Timeline::tasks`].
#[derive(Clone, Debug)]
pub(crate) struct Event {
    /// Virtual time since the scheduler started, in nanoseconds.
    pub(crate) at: u64,
    /// The task (or timer) it is about (0 for a mark).
    pub(crate) task: u64,
    /// Who caused it: [`BY_TEST`], [`BY_FOREIGN`], or the task being polled (a timer's id while
    /// it fires).
    pub(crate) by: u64,
    pub(crate) what: What,
}

#[derive(Clone, Debug)]
pub(crate) enum What {
    Spawned,
    /// A poll begins (tick number); the next unmatched `PollEnd` ends it.
    Poll(u64),
    PollEnd,
    Woken,
    /// A timer was set to fire after this many nanoseconds.
    TimerSet(u64),
    TimerFired,
    TimerCancelled,
    Ended(TaskOutcome),
    Mark(Box<Mark>),
}

/// An instant marked by [`record_instant`](crate::TestScheduler::record_instant).
#[derive(Clone, Debug)]
pub(crate) struct Mark {
    pub(crate) kind: InstantKind,
    pub(crate) name: String,
    pub(crate) args: Vec<(String, String)>,
    /// The session current when it was recorded (its track, if any).
    pub(crate) session: Option<SessionId>,
}

/// The recorded events of one scheduler.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timeline {
    pub(crate) events: Vec<Event>,
    /// Events dropped from the front to stay within [`TIMELINE_LIMIT`].
    pub(crate) dropped: u64,
    /// The metadata of every task an event is about, by id (a TestScheduler numbers its tasks
    /// 1, 2, 3…).
    tasks: Vec<Option<TaskMetadata>>,
}

/// Ids above this are not kept in the table (no TestScheduler spawns that many).
const MAX_TABLE_ID: u64 = 1 << 26;

impl Timeline {
    /// Records `what` about `task` at `at` (nanoseconds), caused by `by`.
    #[inline]
    pub(crate) fn record(&mut self, at: u64, by: u64, task: &TaskMetadata, what: What) {
        let id = task.id().as_u64();
        if id < MAX_TABLE_ID {
            let index = id as usize;
            if index >= self.tasks.len() {
                self.tasks.resize(index + 1, None);
            }
            self.tasks[index].get_or_insert(*task);
        }
        self.push(Event {
            at,
            task: id,
            by,
            what,
        });
    }

    /// Records an event about no task (a poll's end, a mark).
    #[inline]
    pub(crate) fn record_plain(&mut self, at: u64, by: u64, what: What) {
        self.push(Event {
            at,
            task: 0,
            by,
            what,
        });
    }

    /// The metadata of task `id`, if an event was about it.
    pub(crate) fn task(&self, id: u64) -> Option<&TaskMetadata> {
        self.tasks.get(usize::try_from(id).ok()?)?.as_ref()
    }

    #[inline]
    fn push(&mut self, event: Event) {
        if self.events.len() == TIMELINE_LIMIT {
            self.drop_oldest();
        }
        self.events.push(event);
    }

    /// Drops the oldest quarter at once (a plain `Vec` push stays cheap; between 75% and 100%
    /// of the limit are kept).
    #[cold]
    fn drop_oldest(&mut self) {
        let quarter = TIMELINE_LIMIT / 4;
        self.events.drain(..quarter);
        self.dropped += quarter as u64;
    }
}
