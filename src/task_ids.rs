//! Task ids without a contended counter: each thread reserves a block of ids from one global
//! counter and hands them out locally, so spawning threads do not share a cache line per spawn.
//! Ids stay unique process-wide (they are not dense or ordered across threads).

use crate::TaskId;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many ids a thread reserves at once.
const BLOCK: u64 = 1024;

/// The first id of the next unreserved block, shared by every scheduler of the process that keeps
/// the default [`Scheduler::next_task_id`](crate::Scheduler::next_task_id) (ids only need to be
/// unique per scheduler; these are unique per process).
static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// `(next, end)` of this thread's reserved block.
    static RESERVED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// A fresh, process-wide unique task id.
pub(crate) fn next() -> TaskId {
    RESERVED
        .try_with(|reserved| {
            let (mut next, mut end) = reserved.get();
            if next == end {
                next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
                end = next + BLOCK;
            }
            reserved.set((next + 1, end));
            TaskId::from_raw(next)
        })
        // Thread-locals already destroyed (a spawn from a TLS destructor): one id from the
        // global counter directly, in a block of its own.
        .unwrap_or_else(|_| TaskId::from_raw(NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed)))
}
