//! What other OS threads hand to a [`TestScheduler`](crate::TestScheduler): its state belongs to
//! the test thread, so a wake, spawn, timer, drop or failure from elsewhere is queued here and
//! applied by the test thread at its next step.

use crate::sync::{AtomicBool, Mutex, Ordering, lock};
use crate::{Runnable, TaskId, TaskMetadata, TaskOutcome};
use std::time::Duration;

pub(crate) enum Inbound {
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

pub(crate) struct Inbox {
    items: Mutex<Vec<Inbound>>,
    /// Lets the test thread skip the lock when nothing was handed in (the common case).
    pending: AtomicBool,
}

impl Default for Inbox {
    fn default() -> Self {
        Self {
            items: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
        }
    }
}

impl Inbox {
    pub(crate) fn post(&self, items: impl IntoIterator<Item = Inbound>) {
        let mut queue = lock(&self.items);
        queue.extend(items);
        self.pending.store(true, Ordering::Release);
    }

    /// Whether anything was handed in since the last `take`.
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Everything handed in so far, or `None` if nothing was.
    pub(crate) fn take(&self) -> Option<Vec<Inbound>> {
        if !self.pending.load(Ordering::Acquire) {
            return None;
        }
        let mut queue = lock(&self.items);
        self.pending.store(false, Ordering::Release);
        Some(std::mem::take(&mut *queue))
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// Two threads hand items in while the test thread drains: every item arrives exactly once,
    /// whatever the interleaving of the `pending` flag and the lock.
    #[test]
    fn loom_no_item_is_lost_or_duplicated() {
        loom::model(|| {
            let inbox = Arc::new(Inbox::default());
            let posters: Vec<_> = (0..2u64)
                .map(|poster| {
                    let inbox = inbox.clone();
                    loom::thread::spawn(move || {
                        inbox.post([Inbound::TimerCancelled(TaskId::from_raw(poster))]);
                    })
                })
                .collect();
            let mut seen = Vec::new();
            let drain = |seen: &mut Vec<u64>| {
                if inbox.has_pending()
                    && let Some(items) = inbox.take()
                {
                    for item in items {
                        if let Inbound::TimerCancelled(id) = item {
                            seen.push(id.as_u64());
                        }
                    }
                }
            };
            drain(&mut seen);
            for poster in posters {
                poster.join().unwrap();
            }
            // Once the posters are done, one more drain must find whatever is left.
            drain(&mut seen);
            seen.sort_unstable();
            assert_eq!(seen, [0, 1]);
        });
    }
}
