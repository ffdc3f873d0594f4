//! The WasmScheduler's bookkeeping of tasks per session: counters, live tasks, and the tasks
//! doomed by an ended session.

use super::stats::{SchedulerStats, TaskCounters};
use crate::{Priority, SessionId, TaskId, TaskMetadata, TaskOutcome};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

#[derive(Default)]
struct Session {
    counters: TaskCounters,
    /// Tasks spawned and not ended, by id (ordered, for reports).
    live: BTreeMap<TaskId, TaskMetadata>,
    ended: bool,
}

#[derive(Default)]
pub(super) struct SessionBook {
    next_session: u64,
    total: TaskCounters,
    /// Per priority, by `Priority as usize`.
    by_priority: [TaskCounters; 4],
    sessions: FxHashMap<SessionId, Session>,
    /// Tasks of ended sessions that must not run again: their runnable is dropped when it is
    /// scheduled.
    doomed: FxHashSet<TaskId>,
}

impl SessionBook {
    /// A session id not handed out before by this book.
    pub(super) fn create_session(&mut self) -> SessionId {
        self.next_session += 1;
        SessionId::from_raw(self.next_session)
    }

    pub(super) fn task_spawned(&mut self, metadata: &TaskMetadata) {
        self.total.spawned += 1;
        self.by_priority[metadata.priority() as usize].spawned += 1;
        if let Some(session) = metadata.session() {
            let entry = self.sessions.entry(session).or_default();
            entry.counters.spawned += 1;
            entry.live.insert(metadata.id(), *metadata);
        }
    }

    pub(super) fn task_ended(&mut self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        self.total.record_end(outcome);
        self.by_priority[metadata.priority() as usize].record_end(outcome);
        let Some(session) = metadata.session() else {
            return;
        };
        if !self.doomed.is_empty() {
            self.doomed.remove(&metadata.id());
        }
        if let Some(entry) = self.sessions.get_mut(&session) {
            entry.counters.record_end(outcome);
            entry.live.remove(&metadata.id());
            if entry.ended && entry.live.is_empty() {
                self.sessions.remove(&session);
            }
        }
    }

    /// Whether any task is doomed (a cheap test before [`is_doomed`](Self::is_doomed)).
    #[inline]
    pub(super) fn any_doomed(&self) -> bool {
        !self.doomed.is_empty()
    }

    /// Whether the task's runnable must be dropped instead of run.
    pub(super) fn is_doomed(&self, task: TaskId) -> bool {
        self.doomed.contains(&task)
    }

    /// Marks `session` ended and dooms its live tasks except `exempt`. Returns the doomed tasks
    /// and the exempt ones still running, both ordered by id.
    pub(super) fn end_session(
        &mut self,
        session: SessionId,
        exempt: &[TaskId],
    ) -> (Vec<TaskMetadata>, Vec<TaskMetadata>) {
        let Some(entry) = self.sessions.get_mut(&session) else {
            return (Vec::new(), Vec::new());
        };
        entry.ended = true;
        let (spared, doomed): (Vec<TaskMetadata>, Vec<TaskMetadata>) = entry
            .live
            .values()
            .copied()
            .partition(|task| exempt.contains(&task.id()));
        self.doomed.extend(doomed.iter().map(TaskMetadata::id));
        if entry.live.is_empty() {
            self.sessions.remove(&session);
        }
        (doomed, spared)
    }

    pub(super) fn session_counters(&self, session: SessionId) -> Option<TaskCounters> {
        self.sessions.get(&session).map(|entry| entry.counters)
    }

    /// Counters, with the queue and timer figures left at 0 for the caller to fill in.
    pub(super) fn stats(&self) -> SchedulerStats {
        let mut sessions: Vec<_> = self
            .sessions
            .iter()
            .map(|(&id, entry)| (id, entry.counters))
            .collect();
        sessions.sort_by_key(|&(id, _)| id);
        let priorities = Priority::ALL
            .into_iter()
            .map(|priority| (priority, self.by_priority[priority as usize]))
            .filter(|(_, counters)| counters.spawned > 0)
            .collect();
        SchedulerStats {
            total: self.total,
            priorities,
            sessions,
            ..SchedulerStats::default()
        }
    }
}
