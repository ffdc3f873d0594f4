//! One [`parking`] pair per thread, behind [`Scheduler::park`](crate::Scheduler::park) and
//! [`Scheduler::unparker`](crate::Scheduler::unparker) of the Windows and macOS schedulers.
//!
//! Per thread (not per scheduler) so several threads can block at once, each woken by its own
//! unparker. A stray unpark only makes the next park return early, which every caller tolerates.

use crate::Unparker;
use parking::Parker;
use std::time::Duration;

thread_local! {
    static PARKER: (Parker, Unparker) = parking::pair();
}

/// Blocks the calling thread until its [`unparker`] is used or `timeout` passes.
/// Returns `true` if it was unparked.
pub(crate) fn park(timeout: Option<Duration>) -> bool {
    PARKER.with(|(parker, _)| match timeout {
        None => {
            parker.park();
            true
        }
        Some(timeout) => parker.park_timeout(timeout),
    })
}

/// The handle that wakes the calling thread from [`park`].
pub(crate) fn unparker() -> Unparker {
    PARKER.with(|(_, unparker)| unparker.clone())
}
