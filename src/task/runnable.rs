//! The one rule for a runnable that will never run ([`discard`]), and running one where a
//! panic must not unwind further ([`run_contained`]). [`Runnable`] itself and the
//! [`TaskHeader`](crate::TaskHeader) it carries live with the trait (`scheduler/mod.rs`): the
//! header holds the handle to a `dyn Scheduler`, whose methods take runnables.

use crate::{Runnable, TaskKind};

/// Gets rid of a runnable that will never run (its scheduler shut down, or its task was
/// cancelled), without running it.
///
/// Dropping a runnable drops its future, which cancels the task. A foreground runnable comes
/// from `spawn_local`: async-task panics (and then aborts) when its future is dropped on any
/// thread but the one that spawned it, which is always the main thread (`spawn_foreground`
/// refuses to spawn anywhere else). So a foreground runnable is dropped when `on_main_thread`,
/// and leaked (never run, never dropped) otherwise. Every backend refuses runnables through this.
/// A dedicated executor's runnable that reaches a scheduler is one the scheduler runs itself on
/// its one thread (the TestScheduler's test thread, its "main thread"): the same rule.
pub(crate) fn discard(runnable: Runnable, on_main_thread: bool) {
    let kind = runnable.metadata().kind();
    if !matches!(kind, TaskKind::Foreground | TaskKind::Dedicated) || on_main_thread {
        drop(runnable);
    } else {
        std::mem::forget(runnable);
    }
}

/// Runs `runnable` where a panic must not unwind further: a pool worker's loop, a main loop, an
/// OS callback (a thread-pool callback, a window procedure, a GCD block), where unwinding would
/// kill the thread or abort the process.
///
/// The task wrapper already catches panics of the task's future (they reach whoever awaits the
/// task, or [`Scheduler::unobserved_panic`](crate::Scheduler::unobserved_panic)), and those of
/// the destructors of its future and output (`output.rs`), so this only fires for a panic
/// elsewhere in the run (a scheduler's own hook). It is reported on stderr with the task's
/// metadata; the thread keeps running.
#[cfg(not(wasm))]
pub(crate) fn run_contained(runnable: Runnable) {
    let metadata = **runnable.metadata();
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runnable.run())).is_err() {
        eprintln!(
            "scheduler: a panic escaped {metadata} outside its future's poll (in a destructor?); \
             the thread keeps running"
        );
    }
}
