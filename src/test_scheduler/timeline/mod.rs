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
use rustc_hash::FxHashMap;
use std::fmt;

/// How many events a timeline keeps at most: the most recent ones (40 bytes each, plus the
/// metadata of each task a kept event is about, once; when full, the oldest quarter goes, with
/// the metadata of tasks only those events were about). The file says how many earlier events
/// were dropped. A timeline's memory is bounded by this limit however long the run.
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
    /// The metadata of every task a kept event is about, by id.
    tasks: FxHashMap<u64, Known>,
    /// Sessions drawn on an owner's track instead of their own (a simulated Durable Object's
    /// events): session id -> index in `owners`.
    pub(super) session_owners: rustc_hash::FxHashMap<u64, u32>,
    /// The owners' names (their tracks' names), in the order they were first named.
    pub(super) owners: Vec<String>,
}

/// A task's metadata, and the number (counted from the first event ever recorded) of the last
/// event about it: once that event is dropped, so is the metadata.
#[derive(Clone, Debug)]
struct Known {
    metadata: TaskMetadata,
    last: u64,
}

impl Timeline {
    /// Records `what` about `task` at `at` (nanoseconds), caused by `by`.
    #[inline]
    pub(crate) fn record(&mut self, at: u64, by: u64, task: &TaskMetadata, what: What) {
        let id = task.id().as_u64();
        self.push(Event {
            at,
            task: id,
            by,
            what,
        });
        // After the push, which may have dropped the oldest events (and metadata with them).
        let last = self.dropped + self.events.len() as u64 - 1;
        self.tasks
            .entry(id)
            .and_modify(|known| known.last = last)
            .or_insert(Known {
                metadata: *task,
                last,
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

    /// Draws `session` on `owner`'s track from now on (the whole record, when written).
    pub(super) fn set_session_owner(&mut self, session: SessionId, owner: &str) {
        let index = match self.owners.iter().position(|known| known == owner) {
            Some(index) => index,
            None => {
                self.owners.push(owner.to_string());
                self.owners.len() - 1
            }
        };
        self.session_owners.insert(session.as_u64(), index as u32);
    }

    /// The metadata of task `id`, if a kept event is about it.
    pub(crate) fn task(&self, id: u64) -> Option<&TaskMetadata> {
        self.tasks.get(&id).map(|known| &known.metadata)
    }

    #[inline]
    fn push(&mut self, event: Event) {
        if self.events.len() == TIMELINE_LIMIT {
            self.drop_oldest();
        }
        self.events.push(event);
    }

    /// Drops the oldest quarter at once (a plain `Vec` push stays cheap; between 75% and 100%
    /// of the limit are kept), and the metadata of the tasks only those events were about.
    #[cold]
    fn drop_oldest(&mut self) {
        let quarter = TIMELINE_LIMIT / 4;
        self.events.drain(..quarter);
        self.dropped += quarter as u64;
        let first_kept = self.dropped;
        self.tasks.retain(|_, known| known.last >= first_kept);
        // An owned session's entry goes once no kept event is about it (a task of it, or a
        // mark made in it): the map follows the kept events, not every event ever recorded.
        if !self.session_owners.is_empty() {
            let mut kept: rustc_hash::FxHashSet<u64> = self
                .tasks
                .values()
                .filter_map(|known| known.metadata.session())
                .map(SessionId::as_u64)
                .collect();
            kept.extend(self.events.iter().filter_map(|event| match &event.what {
                What::Mark(mark) => mark.session.map(SessionId::as_u64),
                _ => None,
            }));
            self.session_owners
                .retain(|session, _| kept.contains(session));
        }
        // A full timeline keeps at most one task per kept event: room for that many now, so
        // its size is fixed from here on however the tasks spread over the events.
        self.tasks
            .reserve(TIMELINE_LIMIT.saturating_sub(self.tasks.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TaskId, TaskKind};
    use std::panic::Location;

    /// The owner of a session (a simulated Durable Object's event) is forgotten with the last
    /// kept event about that session: a long simulation's owner map stays within the limit.
    #[test]
    fn owned_sessions_go_with_their_events() {
        let mut timeline = Timeline::default();
        let sessions = if cfg!(miri) {
            1_000
        } else {
            2 * TIMELINE_LIMIT as u64
        };
        for id in 1..sessions {
            let session = SessionId::from_raw(id);
            timeline.set_session_owner(session, "durable object Counter:a");
            let task = TaskMetadata::new(
                TaskId::from_raw(id),
                None,
                Some(session),
                Location::caller(),
                TaskKind::Foreground,
            );
            timeline.record(id, 0, &task, What::Spawned);
        }
        assert!(
            timeline.session_owners.len() <= TIMELINE_LIMIT,
            "{} owned sessions kept for {} events",
            timeline.session_owners.len(),
            timeline.events.len()
        );
        let last = SessionId::from_raw(sessions - 1);
        assert!(timeline.session_owners.contains_key(&last.as_u64()));
        assert_eq!(timeline.owners.len(), 1, "one owner, named once");
    }

    /// Issue 20, defect 3: the timeline kept the metadata of every task id ever seen, past
    /// the limit (185 MiB at 4M tasks). Now it keeps that of the tasks its kept events are
    /// about: at most one per kept event.
    #[test]
    fn metadata_goes_with_the_last_event_about_it() {
        let mut timeline = Timeline::default();
        let metadata = |id: u64| {
            TaskMetadata::new(
                TaskId::from_raw(id),
                None,
                None,
                Location::caller(),
                TaskKind::Background,
            )
        };
        let long_lived = metadata(1);
        let tasks = if cfg!(miri) {
            // Past 1,000, so the long-lived task has an event too.
            2_001
        } else {
            2 * TIMELINE_LIMIT as u64
        };
        for id in 2..tasks {
            timeline.record(id, 0, &metadata(id), What::Spawned);
            if id % 1_000 == 0 {
                timeline.record(id, 0, &long_lived, What::Woken);
            }
        }
        assert!(
            timeline.tasks.len() <= TIMELINE_LIMIT,
            "{} tasks' metadata kept for {} events",
            timeline.tasks.len(),
            timeline.events.len()
        );
        for event in &timeline.events {
            assert!(timeline.task(event.task).is_some(), "task#{}", event.task);
        }
        assert!(
            timeline.task(1).is_some(),
            "a task with recent events is kept"
        );
        if !cfg!(miri) {
            assert!(timeline.dropped > 0);
            assert!(
                timeline.task(2).is_none(),
                "a task whose events all went is gone"
            );
        }
    }
}
