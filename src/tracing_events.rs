//! What the crate tells [`tracing`] (feature `tracing`, off by default): the same shape tokio
//! gives its tasks, so a `tracing-subscriber` (or `tracing-chrome`) app sees ours alike.
//!
//! - A span per task, `task` (target `scheduler::task`, level TRACE, no parent: it follows from
//!   the span current at the spawn), made at the spawn and entered for every poll and for the
//!   drop of its future, with the fields `task.id`, `task.kind` (`background`, `foreground`,
//!   `dedicated`), `task.label`, `task.session`, `task.priority` (`low`, `medium`, `high`,
//!   `realtime`), `spawned_at` (`file:line:col`) and tokio's `loc.file`, `loc.line`, `loc.col`.
//! - Events: `wake` (target `scheduler::task::waker`, TRACE, `op = "waker.wake"`, `task.id`)
//!   whenever a task is woken (the schedule functions of `spawn.rs` and of dedicated lanes); `task ended` (target `scheduler::task`, TRACE, inside the task's
//!   span, `task.id`, `outcome`: `completed`, `panicked`, `cancelled`); `task panicked and
//!   nobody awaited it` (ERROR, the task's fields and `panic`); `session ended` (target
//!   `scheduler::session`, DEBUG, `session`, `tasks_cancelled`) from the Worker's session end
//!   and the simulated one's.
//!
//! Every call site is behind `#[cfg(feature = "tracing")]`: without the feature there is no
//! code on those paths at all.

use crate::{SessionId, TaskKind, TaskMetadata, TaskOutcome};
use tracing::{Level, Span};

/// The span of a new task (disabled, and nearly free, unless a subscriber wants it).
#[inline]
pub(crate) fn task_span(task: &TaskMetadata) -> Span {
    if !tracing::enabled!(target: "scheduler::task", Level::TRACE) {
        // No subscriber wants it: skip building it (and `tracing`'s `log` fallback with it).
        return Span::none();
    }
    let location = task.location();
    let span = tracing::span!(
        target: "scheduler::task",
        parent: None,
        Level::TRACE,
        "task",
        task.id = task.id().as_u64(),
        task.kind = kind(task.kind()),
        task.label = task.label().and_then(|label| label.name()),
        task.session = task.session().map(SessionId::as_u64),
        task.priority = task.priority().name(),
        spawned_at = %location,
        loc.file = location.file(),
        loc.line = location.line(),
        loc.col = location.column(),
    );
    if !span.is_disabled() {
        // Linked to the span that spawned it, as tokio's tasks are not (they have no parent).
        span.follows_from(Span::current());
    }
    span
}

/// Enters the task's span for a poll or the drop; nothing for a disabled span (no subscriber
/// wants it: then not even `tracing`'s `log` fallback runs).
#[inline(always)]
pub(crate) fn enter(span: &Span) -> Option<tracing::span::Entered<'_>> {
    (!span.is_disabled()).then(|| span.enter())
}

/// A task was woken (its runnable handed back to its scheduler).
#[inline(always)]
pub(crate) fn wake(task: &TaskMetadata) {
    // One load when no subscriber wants TRACE (and no `log` fallback for these per-poll events).
    if !tracing::level_enabled!(Level::TRACE) {
        return;
    }
    tracing::event!(
        target: "scheduler::task::waker",
        Level::TRACE,
        op = "waker.wake",
        task.id = task.id().as_u64(),
        "wake"
    );
}

/// A task ended (called inside its span).
#[inline(always)]
pub(crate) fn ended(task: &TaskMetadata, outcome: TaskOutcome) {
    if !tracing::level_enabled!(Level::TRACE) {
        return;
    }
    let outcome = match outcome {
        TaskOutcome::Completed => "completed",
        TaskOutcome::Panicked => "panicked",
        TaskOutcome::Cancelled => "cancelled",
    };
    tracing::event!(
        target: "scheduler::task",
        Level::TRACE,
        task.id = task.id().as_u64(),
        outcome,
        "task ended"
    );
}

/// A task panicked and nobody will await it.
#[cold]
pub(crate) fn unobserved_panic(task: &TaskMetadata, message: &str) {
    tracing::event!(
        target: "scheduler::task",
        Level::ERROR,
        task.id = task.id().as_u64(),
        task.label = task.label().and_then(|label| label.name()),
        task.session = task.session().map(SessionId::as_u64),
        spawned_at = %task.location(),
        panic = message,
        "task panicked and nobody awaited it"
    );
}

/// A session (a request) ended, cancelling `tasks_cancelled` tasks it left running.
#[cold]
pub(crate) fn session_ended(session: SessionId, tasks_cancelled: usize) {
    tracing::event!(
        target: "scheduler::session",
        Level::DEBUG,
        session = session.as_u64(),
        tasks_cancelled,
        "session ended"
    );
}

fn kind(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Background => "background",
        TaskKind::Foreground => "foreground",
        TaskKind::Timer => "timer",
        TaskKind::Dedicated => "dedicated",
    }
}
