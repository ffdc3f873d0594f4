//! The bookkeeping behind a [`SimulatedExecutionContext`](super::SimulatedExecutionContext):
//! one [`SessionState`] per simulated request. Plain data; never wakes, spawns or drops tasks
//! (its callers do that after releasing the lock).

use super::fault_record::InjectedFault;
use super::report::{SessionReport, WaitUntilOutcome, WaitUntilReport};
use crate::{SessionId, Task, TaskId, TaskMetadata};
use std::collections::BTreeMap;
use std::task::Waker;
use std::time::Duration;

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// The handler is running: no response yet.
    Handling,
    /// The response is out; `wait_until` work may still run (30 s at most).
    Responded { at: Duration },
    /// Every `wait_until` job settled or was cut off (or the isolate was reset); leftover
    /// tasks were cancelled.
    Ended {
        /// `None`: killed by an isolate reset before it responded.
        responded_at: Option<Duration>,
        at: Duration,
    },
}

/// One `wait_until` job.
pub(super) struct WaitUntilEntry {
    /// Set right after the spawn (the job cannot run before).
    pub(super) task: Option<TaskMetadata>,
    /// Held so a cut-off can cancel the job; dropped (outside the lock) once it is over.
    pub(super) handle: Option<Task<()>>,
    pub(super) outcome: Option<(WaitUntilOutcome, Duration)>,
}

/// One simulated request.
pub(super) struct SessionState {
    pub(super) phase: Phase,
    /// The task `serve` spawned for the handler, if the session came from `serve`.
    pub(super) handler: Option<TaskId>,
    pub(super) handler_panic: Option<String>,
    pub(super) pass_through: bool,
    pub(super) wait_until: Vec<WaitUntilEntry>,
    /// Tasks cancelled at the session's end because they were neither done nor `wait_until`.
    pub(super) cancelled_at_end: Vec<TaskMetadata>,
    /// Futures waiting for the session to settle or end.
    pub(super) waiters: Vec<Waker>,
    /// The handler's task, waiting: woken when an isolate reset kills the session.
    pub(super) handler_waker: Option<Waker>,
    /// Killed by an isolate reset.
    pub(super) killed: bool,
    /// The faults injected into this session.
    pub(super) faults: Vec<InjectedFault>,
}

impl SessionState {
    fn new() -> Self {
        Self {
            phase: Phase::Handling,
            handler: None,
            handler_panic: None,
            pass_through: false,
            wait_until: Vec::new(),
            cancelled_at_end: Vec::new(),
            waiters: Vec::new(),
            handler_waker: None,
            killed: false,
            faults: Vec::new(),
        }
    }

    /// Responded, and every `wait_until` job settled.
    pub(super) fn all_settled(&self) -> bool {
        !matches!(self.phase, Phase::Handling)
            && self.wait_until.iter().all(|entry| entry.outcome.is_some())
    }

    pub(super) fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended { .. })
    }

    /// Ids of every `wait_until` job (settled or not).
    pub(super) fn wait_until_ids(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.wait_until
            .iter()
            .filter_map(|entry| entry.task.map(|task| task.id()))
    }

    /// Whether `task` is part of the request itself (its handler or a `wait_until` job) rather
    /// than a task the request spawned and left behind.
    pub(super) fn is_sanctioned(&self, task: TaskId) -> bool {
        self.handler == Some(task) || self.wait_until_ids().any(|id| id == task)
    }

    /// Records how job `index` ended, unless it already has an outcome (a cut-off is final).
    /// Returns the wakers to wake (after the lock is released) if that settled the session.
    /// The job's handle stays until the session ends (it is finished or about to be).
    pub(super) fn settle(
        &mut self,
        index: usize,
        outcome: WaitUntilOutcome,
        at: Duration,
    ) -> Vec<Waker> {
        let entry = &mut self.wait_until[index];
        if entry.outcome.is_some() {
            return Vec::new();
        }
        entry.outcome = Some((outcome, at));
        if self.all_settled() {
            std::mem::take(&mut self.waiters)
        } else {
            Vec::new()
        }
    }

    /// The settled `wait_until` jobs with their outcomes.
    pub(super) fn wait_until_reports(&self) -> Vec<WaitUntilReport> {
        self.wait_until
            .iter()
            .filter_map(|entry| {
                let task = entry.task?;
                let (outcome, settled_at) = entry.outcome.clone()?;
                Some(WaitUntilReport {
                    task,
                    outcome,
                    settled_at,
                })
            })
            .collect()
    }

    pub(super) fn report(&self, session: SessionId) -> SessionReport {
        let (responded_at, ended_at) = match self.phase {
            Phase::Handling => (None, None),
            Phase::Responded { at } => (Some(at), None),
            Phase::Ended { responded_at, at } => (responded_at, Some(at)),
        };
        SessionReport {
            session,
            responded_at,
            ended_at,
            handler_panic: self.handler_panic.clone(),
            pass_through_on_exception: self.pass_through,
            wait_until: self
                .wait_until
                .iter()
                .filter_map(|entry| {
                    Some((entry.task?, entry.outcome.as_ref().map(|(o, _)| o.clone())))
                })
                .collect(),
            cancelled_at_end: self.cancelled_at_end.clone(),
            faults: self.faults.clone(),
            killed_by_isolate_reset: self.killed,
        }
    }
}

/// Every session of one context.
#[derive(Default)]
pub(super) struct Sessions {
    sessions: BTreeMap<SessionId, SessionState>,
}

impl Sessions {
    /// Starts the bookkeeping of `session`, a fresh id.
    pub(super) fn create(&mut self, session: SessionId) {
        let previous = self.sessions.insert(session, SessionState::new());
        assert!(previous.is_none(), "{session} was created twice");
    }

    pub(super) fn get(&self, session: SessionId) -> Option<&SessionState> {
        self.sessions.get(&session)
    }

    pub(super) fn get_mut(&mut self, session: SessionId) -> Option<&mut SessionState> {
        self.sessions.get_mut(&session)
    }

    /// The sessions not ended yet (in flight), in order.
    pub(super) fn in_flight(&self) -> Vec<SessionId> {
        self.sessions
            .iter()
            .filter(|(_, state)| !state.is_ended())
            .map(|(session, _)| *session)
            .collect()
    }

    /// The session, or a panic naming the misuse.
    pub(super) fn expect_mut(&mut self, session: SessionId, call: &str) -> &mut SessionState {
        self.sessions.get_mut(&session).unwrap_or_else(|| {
            panic!("SimulatedExecutionContext::{call}: {session} was not created by this context")
        })
    }
}
