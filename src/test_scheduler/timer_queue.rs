//! Pending timers of a [`TestScheduler`](super::TestScheduler), in deadline order, ties in
//! creation order. A cancelled timer is removed at once, so nothing about it is kept.

use crate::{Runnable, TaskId};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::time::Duration;

/// Deadline (virtual time since the scheduler started), then creation order.
type Key = (Duration, u64);

#[derive(Default)]
pub(super) struct TimerQueue {
    entries: BTreeMap<Key, Runnable>,
    by_timer: FxHashMap<TaskId, Key>,
    next_sequence: u64,
}

impl TimerQueue {
    /// Adds a timer that fires at `deadline` (virtual time since the scheduler started).
    pub(super) fn push(&mut self, deadline: Duration, runnable: Runnable) {
        let key = (deadline, self.next_sequence);
        self.next_sequence += 1;
        self.by_timer.insert(runnable.metadata().id(), key);
        self.entries.insert(key, runnable);
    }

    /// Removes the timer `id` (its `Timer` was dropped before it fired) and hands back its
    /// runnable for the caller to drop outside the scheduler's state borrow. A timer that
    /// already fired (or is unknown) is ignored.
    #[must_use = "drop the runnable outside the scheduler's state borrow"]
    pub(super) fn cancel(&mut self, id: TaskId) -> Option<Runnable> {
        let key = self.by_timer.remove(&id)?;
        self.entries.remove(&key)
    }

    /// The earliest deadline, if any timer is pending.
    #[cfg(test)]
    pub(super) fn next_deadline(&self) -> Option<Duration> {
        self.entries.keys().next().map(|key| key.0)
    }

    /// Removes the earliest timer if it is due at or before `limit`.
    pub(super) fn pop_due(&mut self, limit: Duration) -> Option<(Duration, Runnable)> {
        let entry = self.entries.first_entry()?;
        if entry.key().0 > limit {
            return None;
        }
        let ((deadline, _), runnable) = entry.remove_entry();
        self.by_timer.remove(&runnable.metadata().id());
        Some((deadline, runnable))
    }

    /// How many timers are pending.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Removes every timer, for dropping outside the scheduler's state borrow.
    pub(super) fn take_all(&mut self) -> Vec<Runnable> {
        self.by_timer.clear();
        std::mem::take(&mut self.entries).into_values().collect()
    }
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
            .metadata(metadata)
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
