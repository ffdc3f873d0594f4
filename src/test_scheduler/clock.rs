//! The TestScheduler's clocks: virtual time since the scheduler was made (what `now`, timers
//! and the timeline read) and the fake wall clock (`utc_now`) that moves with it. Neither reads
//! a real clock after the process's first TestScheduler: see [`epoch`].

use crate::{Instant, SystemTime};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// Virtual time and the fake wall clock of one TestScheduler; readable from any thread.
pub(super) struct VirtualClock {
    /// The fixed anchor `now()` is measured from (the same for every TestScheduler).
    epoch: Instant,
    /// Virtual time since creation, in nanoseconds; only ever moves forward.
    elapsed_nanos: AtomicU64,
    /// The wall clock: this UTC instant at this virtual elapsed time (`set_utc_now` moves it).
    utc: Mutex<(SystemTime, Duration)>,
}

impl VirtualClock {
    pub(super) fn new() -> Self {
        Self {
            epoch: epoch(),
            elapsed_nanos: AtomicU64::new(0),
            utc: Mutex::new((utc_start(), Duration::ZERO)),
        }
    }

    /// Virtual time since creation.
    pub(super) fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos())
    }

    /// Virtual time since creation, in nanoseconds.
    #[inline]
    pub(super) fn elapsed_nanos(&self) -> u64 {
        self.elapsed_nanos.load(Ordering::Relaxed)
    }

    /// The epoch plus virtual time.
    pub(super) fn now(&self) -> Instant {
        crate::scheduler::deadline_after(self.epoch, self.elapsed())
    }

    /// The fake wall clock: [`UTC_START`](super::TestScheduler::UTC_START) (or the instant a
    /// test set) plus the virtual time since.
    pub(super) fn utc_now(&self) -> SystemTime {
        let (at, elapsed) = *self.utc.lock().unwrap_or_else(PoisonError::into_inner);
        at + self.elapsed().saturating_sub(elapsed)
    }

    /// Makes the fake wall clock read `now` at the current virtual time.
    pub(super) fn set_utc_now(&self, now: SystemTime) {
        *self.utc.lock().unwrap_or_else(PoisonError::into_inner) = (now, self.elapsed());
    }

    /// Moves virtual time to `elapsed` since creation, never backwards.
    pub(super) fn advance_to(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.elapsed_nanos.fetch_max(nanos, Ordering::Relaxed);
    }
}

/// Where every TestScheduler's wall clock starts: 2026-01-01T00:00:00Z.
fn utc_start() -> SystemTime {
    SystemTime::UNIX_EPOCH + super::TestScheduler::UTC_START
}

/// The fixed anchor of every TestScheduler's virtual clock. `Instant` has no constructor that
/// does not read a clock, so the clock is read exactly once per process, here; only differences
/// from it are ever observable, and those are purely virtual.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}
