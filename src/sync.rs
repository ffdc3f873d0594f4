//! The synchronization primitives of the hand-written handshakes (the Linux pool's sleepers, the
//! TestScheduler's inbox): `std` normally, `loom`'s models under `--cfg loom` (the `parking`
//! crate switches to loom's model by itself), so `loom` can check every interleaving of those
//! handshakes (see the `loom_*` tests and `scripts/test.d/20-loom.sh`).

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(all(not(loom), linux_like))]
pub(crate) use std::sync::atomic::{AtomicUsize, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, Ordering};
#[cfg(all(loom, linux_like))]
pub(crate) use loom::sync::atomic::{AtomicUsize, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning: the handshakes keep their data consistent across a panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Parks on `parker` until unparked or `timeout` passes; `false` if it timed out. Under `loom`
/// (which has no clock; `parking` is then loom's model) a timed park is a plain park.
pub(crate) fn park_timeout(parker: &parking::Parker, timeout: std::time::Duration) -> bool {
    #[cfg(not(loom))]
    {
        parker.park_timeout(timeout)
    }
    #[cfg(loom)]
    {
        let _ = timeout;
        parker.park();
        true
    }
}
