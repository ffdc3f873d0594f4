//! What a simulated session reports: how each `wait_until` job ended, which tasks leaked, how a
//! request failed.

use super::faults::InjectedFault;
use crate::{SessionId, TaskMetadata};
use std::error::Error;
use std::fmt;
use std::time::Duration;

/// How a `wait_until` job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitUntilOutcome {
    /// The future completed.
    Completed,
    /// The future panicked (with this message).
    Panicked(String),
    /// Still running 30 virtual seconds after the response: cancelled, as the Workers runtime
    /// does.
    CutOff,
    /// Dropped before it finished for another reason (its scheduler shut down).
    Cancelled,
    /// Cancelled by an isolate reset (a simulated fault): the isolate running it was lost.
    IsolateReset,
}

impl fmt::Display for WaitUntilOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Completed => f.write_str("completed"),
            Self::Panicked(message) => write!(f, "panicked: {message}"),
            Self::CutOff => {
                f.write_str("cut off: still running 30 s after the response, so it was cancelled")
            }
            Self::Cancelled => f.write_str("cancelled before it finished"),
            Self::IsolateReset => f.write_str("killed by an isolate reset"),
        }
    }
}

/// One `wait_until` job of a session and how it settled.
#[derive(Clone, Debug)]
pub struct WaitUntilReport {
    /// The job's task (id, session, the location of the `wait_until` call).
    pub task: TaskMetadata,
    /// How it ended.
    pub outcome: WaitUntilOutcome,
    /// When it settled: virtual time since the context was created.
    pub settled_at: Duration,
}

impl fmt::Display for WaitUntilReport {
    /// `wait_until task#9 (session#2) spawned at src/x.rs:3:5: completed at 1.2s`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wait_until {}: {} at {:?}",
            self.task, self.outcome, self.settled_at
        )
    }
}

/// Why a task of a session counts as dangling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DanglingState {
    /// It is still running now.
    Running,
    /// It was still running when the session ended, so it was cancelled.
    CancelledAtSessionEnd,
}

/// A task of a session that neither finished nor was registered with `wait_until`.
#[derive(Clone, Copy, Debug)]
pub struct DanglingTask {
    /// Its id, label, session and spawn location.
    pub task: TaskMetadata,
    /// Still running, or cancelled when its session ended.
    pub state: DanglingState,
}

impl fmt::Display for DanglingTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            DanglingState::Running => "still running",
            DanglingState::CancelledAtSessionEnd => "cancelled when the session ended",
        };
        write!(f, "{} ({state})", self.task)
    }
}

/// [`validate_session_cleanup`](super::SimulatedExecutionContext::validate_session_cleanup)
/// failed.
#[derive(Clone, Debug)]
pub enum SessionCleanupError {
    /// Tasks of the session outlived it without being registered with `wait_until`.
    Dangling {
        /// The session.
        session: SessionId,
        /// Every dangling task, ordered by id.
        tasks: Vec<DanglingTask>,
    },
    /// The context never created this session.
    UnknownSession(SessionId),
    /// The scheduler is not a [`TestScheduler`](crate::TestScheduler), so the session's tasks
    /// cannot be listed and cleanup cannot be checked.
    Untracked(SessionId),
}

impl SessionCleanupError {
    /// The dangling tasks (empty for the other kinds of error).
    pub fn dangling_tasks(&self) -> &[DanglingTask] {
        match self {
            Self::Dangling { tasks, .. } => tasks,
            _ => &[],
        }
    }
}

impl fmt::Display for SessionCleanupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dangling { session, tasks } => {
                let count = tasks.len();
                let noun = if count == 1 { "task" } else { "tasks" };
                writeln!(
                    f,
                    "{session} leaked {count} {noun}: not finished and not registered with \
                     wait_until when the request ended:"
                )?;
                for task in tasks {
                    writeln!(f, "  {task}")?;
                }
                write!(
                    f,
                    "Await such work before responding, or register it with \
                     ExecutionContext::wait_until."
                )
            }
            Self::UnknownSession(session) => write!(
                f,
                "{session} was not created by this SimulatedExecutionContext"
            ),
            Self::Untracked(session) => write!(
                f,
                "cannot check the cleanup of {session}: listing a session's tasks needs a \
                 TestScheduler behind the SimulatedExecutionContext"
            ),
        }
    }
}

impl Error for SessionCleanupError {}

/// Why a simulated request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestFailure {
    /// The handler panicked.
    Panicked,
    /// The client disconnected while the handler ran (an injected fault): the handler's future
    /// was dropped; its `wait_until` work went on.
    ClientDisconnected,
    /// The isolate was reset while the request was in flight (an injected fault).
    IsolateReset,
}

/// A simulated request that produced no response: its handler panicked, its client
/// disconnected, or its isolate was reset. Only its own session fails.
#[derive(Clone, Debug)]
pub struct RequestFailed {
    /// The request's session.
    pub session: SessionId,
    /// Why it failed.
    pub cause: RequestFailure,
    /// The panic message, or what happened.
    pub message: String,
    /// Whether the handler had called `pass_through_on_exception` (and panicked): the Workers
    /// runtime would then forward the request to the origin instead of answering with an error.
    pub passed_through: bool,
}

impl fmt::Display for RequestFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cause {
            RequestFailure::Panicked => write!(
                f,
                "the handler of {} panicked: {}",
                self.session, self.message
            )?,
            RequestFailure::ClientDisconnected | RequestFailure::IsolateReset => {
                write!(f, "{} failed: {}", self.session, self.message)?;
            }
        }
        if self.passed_through {
            f.write_str(" (passed through to the origin)")?;
        }
        Ok(())
    }
}

impl Error for RequestFailed {}

/// Everything a session did, for assertions and logs.
#[derive(Clone, Debug)]
pub struct SessionReport {
    /// The session.
    pub session: SessionId,
    /// When the response was produced (virtual time since the context was created).
    pub responded_at: Option<Duration>,
    /// When the session ended: its `wait_until` work settled or was cut off.
    pub ended_at: Option<Duration>,
    /// The handler's panic message, if it panicked.
    pub handler_panic: Option<String>,
    /// Whether the handler called `pass_through_on_exception`.
    pub pass_through_on_exception: bool,
    /// Every `wait_until` job so far, in registration order (settled ones with their outcome).
    pub wait_until: Vec<(TaskMetadata, Option<WaitUntilOutcome>)>,
    /// Tasks cancelled when the session ended because they were neither finished nor
    /// registered with `wait_until`.
    pub cancelled_at_end: Vec<TaskMetadata>,
    /// The faults injected into the session, in order (see
    /// [`SimulationFaults`](super::SimulationFaults)).
    pub faults: Vec<InjectedFault>,
    /// Whether an isolate reset killed the session while it was in flight.
    pub killed_by_isolate_reset: bool,
}
