//! The messages the WasmScheduler writes to `console.error` when a session ends with tasks
//! still running.

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
