//! One [`parking`] pair per thread: what `park` / `unparker` mean on every native backend.
//!
//! Per thread (not per scheduler) so several threads can block at once, each woken by its own
//! unparker. A stray unpark only makes the next park return early, which every caller tolerates
//! (the blocking loop re-checks its future and its deadline).

use crate::Unparker;
use parking::Parker;
use std::time::Duration;

thread_local! {
    static PARKER: (Parker, Unparker) = parking::pair();
}

/// Blocks the calling thread until its [`unparker`] is used or `timeout` passes. Returns
/// `false` if the timeout passed, `true` if it was unparked.
pub(crate) fn park(timeout: Option<Duration>) -> bool {
    PARKER.with(|(parker, _)| match timeout {
        None => {
            parker.park();
            true
        }
        Some(timeout) => crate::sync::park_timeout(parker, timeout),
    })
}

/// The handle that wakes the calling thread from [`park`].
pub(crate) fn unparker() -> Unparker {
    PARKER.with(|(_, unparker)| unparker.clone())
}
