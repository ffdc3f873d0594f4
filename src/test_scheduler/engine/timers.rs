//! Pending timers of a [`TestScheduler`](crate::TestScheduler), in deadline order, ties in
//! creation order. A cancelled timer is removed at once, so nothing about it is kept.

use crate::{Instant, Runnable, SystemTime, TaskId};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// Deadline (virtual time since the scheduler started), then creation order.
type Key = (Duration, u64);

#[derive(Default)]
pub(crate) struct TimerQueue {
    entries: BTreeMap<Key, Runnable>,
    by_timer: FxHashMap<TaskId, Key>,
    next_sequence: u64,
}

impl TimerQueue {
    /// Adds a timer that fires at `deadline` (virtual time since the scheduler started).
    pub(crate) fn push(&mut self, deadline: Duration, runnable: Runnable) {
        let key = (deadline, self.next_sequence);
        self.next_sequence += 1;
        self.by_timer.insert(runnable.metadata().id(), key);
        self.entries.insert(key, runnable);
    }

    /// Removes the timer `id` (its `Timer` was dropped before it fired) and hands back its
    /// runnable for the caller to drop outside the scheduler's state borrow. A timer that
    /// already fired (or is unknown) is ignored.
    #[must_use = "drop the runnable outside the scheduler's state borrow"]
    pub(crate) fn cancel(&mut self, id: TaskId) -> Option<Runnable> {
        let key = self.by_timer.remove(&id)?;
        self.entries.remove(&key)
    }

    /// The earliest deadline, if any timer is pending.
    #[cfg(test)]
    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        self.entries.keys().next().map(|key| key.0)
    }

    /// Removes the earliest timer if it is due at or before `limit`.
    pub(crate) fn pop_due(&mut self, limit: Duration) -> Option<(Duration, Runnable)> {
        let entry = self.entries.first_entry()?;
        if entry.key().0 > limit {
            return None;
        }
        let ((deadline, _), runnable) = entry.remove_entry();
        self.by_timer.remove(&runnable.metadata().id());
        Some((deadline, runnable))
    }

    /// How many timers are pending.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Removes every timer, for dropping outside the scheduler's state borrow.
    pub(crate) fn take_all(&mut self) -> Vec<Runnable> {
        self.by_timer.clear();
        std::mem::take(&mut self.entries).into_values().collect()
    }
}

// ---- clock ---------------------------------------------------------------------------------------
// The TestScheduler's clocks: virtual time since the scheduler was made (what `now`, timers
// and the timeline read) and the fake wall clock (`utc_now`) that moves with it. Neither reads
// a real clock after the process's first TestScheduler: see [`epoch`].

/// Virtual time and the fake wall clock of one TestScheduler; readable from any thread.
pub(crate) struct VirtualClock {
    /// The fixed anchor `now()` is measured from (the same for every TestScheduler).
    epoch: Instant,
    /// Virtual time since creation, in nanoseconds; only ever moves forward.
    elapsed_nanos: AtomicU64,
    /// The wall clock: this UTC instant at this virtual elapsed time (`set_utc_now` moves it).
    utc: Mutex<(SystemTime, Duration)>,
}

impl VirtualClock {
    pub(crate) fn new() -> Self {
        Self {
            epoch: epoch(),
            elapsed_nanos: AtomicU64::new(0),
            utc: Mutex::new((utc_start(), Duration::ZERO)),
        }
    }

    /// Virtual time since creation.
    pub(crate) fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos())
    }

    /// Virtual time since creation, in nanoseconds.
    #[inline]
    pub(crate) fn elapsed_nanos(&self) -> u64 {
        self.elapsed_nanos.load(Ordering::Relaxed)
    }

    /// The epoch plus virtual time.
    pub(crate) fn now(&self) -> Instant {
        crate::scheduler::deadline_after(self.epoch, self.elapsed())
    }

    /// The fake wall clock: [`UTC_START`](crate::TestScheduler::UTC_START) (or the instant a
    /// test set) plus the virtual time since.
    pub(crate) fn utc_now(&self) -> SystemTime {
        let (at, elapsed) = *self.utc.lock().unwrap_or_else(PoisonError::into_inner);
        at + self.elapsed().saturating_sub(elapsed)
    }

    /// Makes the fake wall clock read `now` at the current virtual time.
    pub(crate) fn set_utc_now(&self, now: SystemTime) {
        *self.utc.lock().unwrap_or_else(PoisonError::into_inner) = (now, self.elapsed());
    }

    /// Moves virtual time to `elapsed` since creation, never backwards.
    pub(crate) fn advance_to(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.elapsed_nanos.fetch_max(nanos, Ordering::Relaxed);
    }
}

/// Where every TestScheduler's wall clock starts, since the Unix epoch: 2026-01-01T00:00:00Z
/// ([`TestScheduler::UTC_START`](crate::TestScheduler::UTC_START)).
pub(crate) const UTC_START: Duration = Duration::from_secs(1_767_225_600);

/// Where every TestScheduler's wall clock starts: 2026-01-01T00:00:00Z.
fn utc_start() -> SystemTime {
    SystemTime::UNIX_EPOCH + UTC_START
}

/// The fixed anchor of every TestScheduler's virtual clock. `Instant` has no constructor that
/// does not read a clock, so the clock is read exactly once per process, here; only differences
/// from it are ever observable, and those are purely virtual.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TaskKind, TaskMetadata};
    use std::panic::Location;

    fn timer(id: u64) -> Runnable {
        let metadata = TaskMetadata::new(
            TaskId::from_raw(id),
            None,
            None,
            Location::caller(),
            TaskKind::Timer,
        );
        async_task::Builder::new()
            .metadata(crate::scheduler::test_header(metadata))
            .spawn(|_| async {}, drop)
            .0
    }

    #[test]
    fn fires_in_deadline_order_then_creation_order_and_forgets_cancelled_and_fired_timers() {
        let mut queue = TimerQueue::default();
        let ms = Duration::from_millis;
        queue.push(ms(20), timer(1));
        queue.push(ms(10), timer(2));
        queue.push(ms(10), timer(3));
        queue.push(ms(5), timer(4));
        assert!(queue.cancel(TaskId::from_raw(4)).is_some());
        assert_eq!(queue.next_deadline(), Some(ms(10)));
        assert!(queue.pop_due(ms(9)).is_none(), "nothing due before 10 ms");
        let fired: Vec<u64> = std::iter::from_fn(|| queue.pop_due(ms(20)))
            .map(|(_, runnable)| runnable.metadata().id().as_u64())
            .collect();
        assert_eq!(fired, [2, 3, 1]);
        // Cancelling a timer that already fired (or never existed) keeps nothing.
        assert!(queue.cancel(TaskId::from_raw(2)).is_none());
        assert!(queue.cancel(TaskId::from_raw(99)).is_none());
        assert_eq!(queue.len(), 0);
        assert!(queue.by_timer.is_empty() && queue.entries.is_empty());
    }
}
