//! What other OS threads hand to a [`TestScheduler`](super::TestScheduler): its state belongs to
//! the test thread, so a wake, spawn, timer, drop or failure from elsewhere is queued here and
//! applied by the test thread at its next step.

use crate::{Runnable, TaskId, TaskMetadata, TaskOutcome};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

pub(super) enum Inbound {
    Ready(Runnable),
    Timer {
        delay: Duration,
        runnable: Runnable,
    },
    Spawned(TaskMetadata),
    Ended(TaskMetadata, TaskOutcome),
    TimerCancelled(TaskId),
    /// A test failure found on another thread (a wake from it, a panic nobody awaited), raised
    /// at the next tick.
    Failure(String),
}

#[derive(Default)]
pub(super) struct Inbox {
    items: Mutex<Vec<Inbound>>,
    /// Lets the test thread skip the lock when nothing was handed in (the common case).
    pending: AtomicBool,
}

impl Inbox {
    pub(super) fn post(&self, items: impl IntoIterator<Item = Inbound>) {
        let mut queue = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        queue.extend(items);
        self.pending.store(true, Ordering::Release);
    }

    /// Whether anything was handed in since the last `take`.
    #[inline]
    pub(super) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Everything handed in so far, or `None` if nothing was.
    pub(super) fn take(&self) -> Option<Vec<Inbound>> {
        if !self.pending.load(Ordering::Acquire) {
            return None;
        }
        let mut queue = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        self.pending.store(false, Ordering::Release);
        Some(std::mem::take(&mut *queue))
    }
}
