//! Pending timers of a [`TestScheduler`](super::TestScheduler), in deadline order, ties in
//! creation order.

use crate::{Runnable, TaskId};
use rustc_hash::FxHashSet;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Duration;

struct Entry {
    deadline: Duration,
    sequence: u64,
    runnable: Runnable,
}

impl Entry {
    fn key(&self) -> (Duration, u64) {
        (self.deadline, self.sequence)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    // Reversed: `BinaryHeap` is a max-heap and the earliest timer must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

#[derive(Default)]
pub(super) struct TimerQueue {
    heap: BinaryHeap<Entry>,
    next_sequence: u64,
    /// Timers dropped before they fired; removed lazily when they reach the top of the heap.
    cancelled: FxHashSet<TaskId>,
}

impl TimerQueue {
    /// Adds a timer that fires at `deadline` (virtual time since the scheduler started).
    pub(super) fn push(&mut self, deadline: Duration, runnable: Runnable) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.heap.push(Entry {
            deadline,
            sequence,
            runnable,
        });
    }

    /// Forgets the timer `id` (its `Timer` was dropped before it fired).
    pub(super) fn cancel(&mut self, id: TaskId) {
        self.cancelled.insert(id);
        self.prune();
    }

    /// The earliest deadline, if any live timer is pending.
    pub(super) fn next_deadline(&self) -> Option<Duration> {
        self.heap.peek().map(|entry| entry.deadline)
    }

    /// Removes the earliest timer if it is due at or before `limit`.
    pub(super) fn pop_due(&mut self, limit: Duration) -> Option<(Duration, Runnable)> {
        if self.next_deadline()? > limit {
            return None;
        }
        let entry = self.heap.pop()?;
        self.prune();
        Some((entry.deadline, entry.runnable))
    }

    /// How many live timers are pending.
    pub(super) fn len(&self) -> usize {
        self.heap.len().saturating_sub(self.cancelled.len())
    }

    /// Drops cancelled timers from the top of the heap, so the top is always live. (A timer's
    /// runnable holds only an empty future: dropping it calls back into nothing.)
    fn prune(&mut self) {
        while let Some(top) = self.heap.peek() {
            if !self.cancelled.remove(&top.runnable.metadata().id()) {
                break;
            }
            self.heap.pop();
        }
    }

    /// Removes every timer, for dropping outside the scheduler's lock.
    pub(super) fn take_all(&mut self) -> Vec<Runnable> {
        self.cancelled.clear();
        self.heap.drain().map(|entry| entry.runnable).collect()
    }
}
