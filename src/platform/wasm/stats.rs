//! What the WasmScheduler reports about its tasks: [`TaskCounters`], [`SchedulerStats`] and
//! [`SessionEnd`].

use crate::{Priority, SessionId, TaskMetadata, TaskOutcome};

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
