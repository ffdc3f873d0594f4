//! The messages the WasmScheduler writes to `console.error`: a session ended with tasks still
//! running, a panic nobody awaited, a panic that escaped a drain.

use super::host;
use crate::{SessionId, TaskMetadata};

/// Logs one line per cancelled task: its id, label, session and spawn location.
pub(super) fn cancelled_tasks(session: SessionId, tasks: &[TaskMetadata]) {
    for task in tasks {
        host::log_error(&cancelled_task_line(session, task));
    }
}

/// `scheduler: session#3 ended with task#17 [label fetch] (session#3) spawned at src/a.rs:1:2
/// still running; cancelling it`
pub(super) fn cancelled_task_line(session: SessionId, task: &TaskMetadata) -> String {
    format!("scheduler: {session} ended with {task} still running; cancelling it")
}

/// `scheduler: task#4 (session#2) spawned at src/a.rs:1:2 panicked and nobody awaited it:
/// boom`: a panic nobody will re-raise (the task was detached, or its `Task` dropped unawaited).
pub(super) fn unobserved_panic(task: &TaskMetadata, message: &str) {
    host::log_error(&unobserved_panic_line(task, message));
}

/// The line of [`unobserved_panic`] (the text of the default hook on native targets).
pub(super) fn unobserved_panic_line(task: &TaskMetadata, message: &str) -> String {
    format!("scheduler: {task} panicked and nobody awaited it: {message}")
}

/// A panic escaped a drain outside any task's poll (see `drain.rs`); `requeued` runnables of
/// its batch were queued again.
#[cfg(panic = "unwind")]
pub(super) fn escaped_panic(message: &str, requeued: usize) {
    host::log_error(&format!(
        "scheduler: a panic escaped the drain outside any task's poll (a scheduler hook, or a \
         bug in the scheduler): {message}; the scheduler carries on ({requeued} runnables of \
         the batch queued again)"
    ));
}
