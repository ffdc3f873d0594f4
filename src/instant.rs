//! The scheduler's [`Instant`]: `std::time::Instant` natively, a wasm-safe instant on wasm32
//! (where `std::time::Instant::now()` panics), and deadline arithmetic that never overflows;
//! and its [`SystemTime`] (the wall clock): `std::time::SystemTime` natively, `Date.now()` on
//! wasm32.

use std::time::Duration;
pub use web_time::{Instant, SystemTime};

/// About a century: what "never" means for a deadline (any real program ends first).
pub(crate) const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `now + delay`, or about a century from `now` when that is not representable (a delay of
/// `Duration::MAX` means "never"; adding it to an `Instant` would panic).
pub(crate) fn deadline_after(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay.min(NEVER))
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 60 * 60)))
        .unwrap_or(now)
}
