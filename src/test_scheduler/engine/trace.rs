//! [`TraceEvent`]: what a [`TestScheduler`](crate::TestScheduler) records when tracing is on, so
//! two runs of one seed can be compared event by event.

use crate::{TaskMetadata, TaskOutcome};
use std::fmt;
use std::time::Duration;

/// One recorded scheduling event. Two runs of the same seed record equal traces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    /// A task was created.
    Spawned {
        /// Virtual time since the scheduler started.
        elapsed: Duration,
        /// Who.
        task: TaskSummary,
    },
    /// A runnable was polled (tick number, counted from 0).
    Ran {
        /// Tick number.
        tick: u64,
        /// Virtual time since the scheduler started.
        elapsed: Duration,
        /// Who.
        task: TaskSummary,
    },
    /// A task ended.
    Ended {
        /// Virtual time since the scheduler started.
        elapsed: Duration,
        /// Who.
        task: TaskSummary,
        /// How.
        outcome: TaskOutcome,
    },
}

/// The comparable part of a task's metadata (labels are process-unique, so only their names are
/// kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSummary {
    /// Task id as a number.
    pub id: u64,
    /// Label name, if the label has one.
    pub label: Option<&'static str>,
    /// Session id as a number, if any.
    pub session: Option<u64>,
    /// `file:line:column` of the spawn call.
    pub location: String,
    /// Background, foreground, timer or dedicated.
    pub kind: crate::TaskKind,
    /// The task's priority.
    pub priority: crate::Priority,
}

impl From<&TaskMetadata> for TaskSummary {
    fn from(metadata: &TaskMetadata) -> Self {
        Self {
            id: metadata.id().as_u64(),
            label: metadata.label().and_then(|label| label.name()),
            session: metadata.session().map(|session| session.as_u64()),
            location: metadata.location().to_string(),
            kind: metadata.kind(),
            priority: metadata.priority(),
        }
    }
}

impl fmt::Display for TaskSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task#{} {:?}", self.id, self.kind)?;
        if self.priority != crate::Priority::Medium {
            write!(f, " {}-priority", self.priority)?;
        }
        if let Some(label) = self.label {
            write!(f, " [{label}]")?;
        }
        if let Some(session) = self.session {
            write!(f, " (session#{session})")?;
        }
        write!(f, " @ {}", self.location)
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceEvent::Spawned { elapsed, task } => write!(f, "{elapsed:?} spawn {task}"),
            TraceEvent::Ran {
                tick,
                elapsed,
                task,
            } => write!(f, "{elapsed:?} tick {tick} run {task}"),
            TraceEvent::Ended {
                elapsed,
                task,
                outcome,
            } => write!(f, "{elapsed:?} end {task} {outcome:?}"),
        }
    }
}
