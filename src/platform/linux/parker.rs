//! One `parking::Parker` per thread, for `Scheduler::park` / `Scheduler::unparker`: any thread
//! may block on a future, so parking is per thread rather than per scheduler.

use std::time::Duration;

thread_local! {
    static PARKER: parking::Parker = parking::Parker::new();
}

/// The calling thread's unparker.
pub(super) fn current_unparker() -> parking::Unparker {
    PARKER.with(parking::Parker::unparker)
}

/// Parks the calling thread until unparked or `timeout` passes. Returns `true` if unparked.
pub(super) fn park(timeout: Option<Duration>) -> bool {
    PARKER.with(|parker| match timeout {
        None => {
            parker.park();
            true
        }
        Some(timeout) => parker.park_timeout(timeout),
    })
}
