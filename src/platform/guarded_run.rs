//! Running a runnable where a panic must not unwind further (a thread-pool callback, a window
//! procedure, a GCD block): unwinding out of those aborts the process.

use crate::Runnable;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `runnable`, containing any panic that escapes it.
///
/// The task wrapper already catches panics of the task's future (they reach whoever awaits the
/// task), so this only fires for a panic elsewhere, e.g. in a waker; it is reported on stderr.
pub(crate) fn run_guarded(runnable: Runnable) {
    let metadata = *runnable.metadata();
    if catch_unwind(AssertUnwindSafe(|| runnable.run())).is_err() {
        eprintln!(
            "scheduler: a panic escaped {metadata} outside its future; the thread keeps running"
        );
    }
}
