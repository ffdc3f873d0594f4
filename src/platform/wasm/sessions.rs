//! The WasmScheduler's sessions and what it reports about its tasks: counters per session and
//! per priority ([`TaskCounters`], [`SchedulerStats`]), the live tasks of each session, and
//! what ending a session did ([`SessionEnd`]; the ending itself is in `scheduler.rs`).

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

    /// Whether a task of another priority than medium is running.
    pub(super) fn non_medium_running(&self) -> bool {
        Priority::ALL
            .into_iter()
            .filter(|&priority| priority != Priority::Medium)
            .any(|priority| self.by_priority[priority as usize].running() > 0)
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

/// How many tasks were spawned and how they ended (timers are not tasks and are not counted).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct TaskCounters {
    /// Tasks spawned.
    pub spawned: u64,
    /// Tasks whose future returned `Ready`.
    pub completed: u64,
    /// Tasks dropped before completing (their `Task` was dropped, or their session ended).
    pub cancelled: u64,
    /// Tasks that panicked (caught under `panic = "unwind"`; with `panic = "abort"` a panic
    /// ends the instance before it can be counted).
    pub panicked: u64,
}

impl TaskCounters {
    /// Tasks spawned that have not ended yet.
    pub fn running(&self) -> u64 {
        self.spawned
            .saturating_sub(self.completed + self.cancelled + self.panicked)
    }

    pub(super) fn record_end(&mut self, outcome: TaskOutcome) {
        match outcome {
            TaskOutcome::Completed => self.completed += 1,
            TaskOutcome::Cancelled => self.cancelled += 1,
            TaskOutcome::Panicked => self.panicked += 1,
        }
    }
}

/// A snapshot of a WasmScheduler's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedulerStats {
    /// Every task of the scheduler, with or without a session.
    pub total: TaskCounters,
    /// The same per [`Priority`] (lowest first), for every priority a task was spawned with.
    pub priorities: Vec<(Priority, TaskCounters)>,
    /// Per session, ordered by id: every session that has running tasks or has not been ended
    /// with [`WasmScheduler::end_session`](super::WasmScheduler::end_session).
    pub sessions: Vec<(SessionId, TaskCounters)>,
    /// Runnables waiting in the queue now, in every priority band (not counting the batch a
    /// drain is running).
    pub queued: usize,
    /// Timers (JS timeouts) pending now.
    pub pending_timers: usize,
    /// Timer closures alive now (handed to `setTimeout` and not yet freed): falls back to 0
    /// once every timer has fired or been dropped, which shows that none leak.
    pub live_timer_closures: usize,
    /// Drains run so far (batches of runnables run from one microtask or macrotask).
    pub drains: u64,
    /// Times a time slice ran out and the scheduler yielded to the macrotask queue.
    pub macrotask_yields: u64,
    /// Continuations armed by those yields: one per session (and one for the work of no
    /// session) with high or medium work queued when the slice ran out.
    pub continuations: u64,
    /// JS timeouts re-armed because they came back before their deadline (a delay longer than
    /// `setTimeout` takes, or a host that fires early).
    pub early_timeouts: u64,
    /// Checks made with `setImmediate` right after the turn, for a timeout that came back less
    /// than a millisecond before its deadline (Node's timeouts do, a third of them in the
    /// benchmark), instead of a `setTimeout` re-armed for at least a millisecond more; a timer
    /// may be checked more than once.
    pub early_rechecks: u64,
    /// The macrotask primitive the host offers: `"postTask"`, `"setImmediate"` or
    /// `"setTimeout"`.
    pub macrotask_kind: &'static str,
}

/// What [`WasmScheduler::end_session`](super::WasmScheduler::end_session) did.
#[derive(Clone, Debug)]
pub struct SessionEnd {
    /// The session that was ended.
    pub session: SessionId,
    /// Every task of the session that was still running and not exempt, ordered by id. Each was
    /// reported with `console.error`. The ones whose runnable was queued were dropped at once;
    /// the others are dropped the next time they are woken.
    pub cancelled: Vec<TaskMetadata>,
    /// How many of [`cancelled`](Self::cancelled) were dropped at once (their runnable was in
    /// the queue). One in the batch being drained is dropped when the drain reaches it.
    pub dropped_now: usize,
    /// Exempt tasks of the session that are still running (they run on).
    pub exempt_running: Vec<TaskMetadata>,
    /// The session's task counters when it was ended (before its cancelled tasks are dropped):
    /// how many of its tasks completed and how many panicked.
    pub counters: TaskCounters,
}
