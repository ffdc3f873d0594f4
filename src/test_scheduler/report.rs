//! The texts a [`TestScheduler`](super::TestScheduler) panics with: deadlocks, wakes from
//! foreign threads, panics nobody awaited.

use crate::TaskMetadata;
use std::fmt::Write;

/// Why a blocked future can never complete, listing every pending task.
pub(super) fn deadlock(seed: u64, mut pending: Vec<TaskMetadata>) -> String {
    pending.sort_by_key(TaskMetadata::id);
    let mut text = format!(
        "TestScheduler (seed {seed}) deadlocked: the blocked future can never complete. Nothing \
         is runnable, no timer is pending, and parking is forbidden.\n"
    );
    if pending.is_empty() {
        text.push_str("No task is pending: the future waits for something no task will do.\n");
    } else {
        let _ = writeln!(
            text,
            "{} pending task(s), each waiting for a wake that cannot come:",
            pending.len()
        );
        for metadata in &pending {
            let _ = writeln!(text, "  {metadata}");
        }
    }
    text.push_str(
        "If the future waits for a real OS thread, call allow_parking() on the TestScheduler.",
    );
    text
}

/// A wake from another OS thread while parking is forbidden.
pub(super) fn foreign_wake(metadata: &TaskMetadata) -> String {
    let thread = std::thread::current();
    format!(
        "non-determinism: {metadata} was scheduled (woken or spawned) from another OS thread ({:?}, {:?}) while parking \
         is forbidden. A TestScheduler runs every task on the test thread; a wake from a real \
         thread makes the run depend on thread timing. If the test really needs a real thread, \
         call allow_parking() on the TestScheduler.",
        thread.name().unwrap_or("unnamed"),
        thread.id()
    )
}

/// A task panicked and nobody awaited it (it was detached, or its `Task` dropped unawaited).
pub(super) fn unobserved_panic(task: &TaskMetadata, message: &str) -> String {
    format!(
        "{task} panicked and nobody awaited it: {message}\n(a panic in a detached task fails the \
         test; await the task, or catch the panic inside it, if it is expected)"
    )
}
