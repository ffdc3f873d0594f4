//! [`LocalQueue`]: the ready queue of a single-threaded wasm32 backend, into which a task's wake
//! pushes its runnable directly in the common case (see [`Scheduler::local_queue`]): no dynamic
//! call into the backend, no reading of the task's metadata, one flag and one borrow.

use crate::{Runnable, Scheduler};
use std::cell::{Cell, RefCell, RefMut};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

/// A FIFO of runnables owned by a single-threaded wasm32 backend, with a flag the backend sets
/// while a wake may push straight into it. Opaque outside the crate: the
/// [`WasmScheduler`](crate::platform::wasm::WasmScheduler) hands it out through
/// [`Scheduler::local_queue`], and the tasks spawned on it keep a clone.
#[derive(Clone)]
pub struct LocalQueue(Rc<Inner>);

struct Inner {
    /// Whether [`LocalQueue::try_push`] may push (the backend's rules, e.g. a drain is pending
    /// and nothing needs routing); otherwise runnables go through [`Scheduler::schedule`].
    open: Cell<bool>,
    runnables: RefCell<VecDeque<Runnable>>,
}

impl std::fmt::Debug for LocalQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalQueue")
            .field("open", &self.0.open.get())
            .finish_non_exhaustive()
    }
}

// SAFETY: `LocalQueue` exists only on wasm32 without the `atomics` target feature (see
// `scheduler/mod.rs`), where code runs on exactly one thread: no two threads can touch its
// `Rc`, `Cell` or `RefCell` at once. `Send`/`Sync` are only needed because a task's schedule
// function must be `Send + Sync` for the native multi-threaded backends.
unsafe impl Send for LocalQueue {}
// SAFETY: as for `Send` above: there is no second thread to share it with.
unsafe impl Sync for LocalQueue {}

impl LocalQueue {
    /// An empty, closed queue.
    pub(crate) fn new() -> Self {
        Self(Rc::new(Inner {
            open: Cell::new(false),
            runnables: RefCell::new(VecDeque::new()),
        }))
    }

    /// Pushes `runnable` at the back while the backend keeps the queue open; otherwise gives
    /// it back, for [`Scheduler::schedule`].
    #[inline(always)]
    pub(crate) fn try_push(&self, runnable: Runnable) -> Option<Runnable> {
        if !self.0.open.get() {
            return Some(runnable);
        }
        match self.0.runnables.try_borrow_mut() {
            Ok(mut runnables) => {
                runnables.push_back(runnable);
                None
            }
            Err(_) => Some(runnable),
        }
    }

    /// Opens or closes the queue to [`try_push`](Self::try_push) (the backend's decision).
    #[inline]
    pub(crate) fn set_open(&self, open: bool) {
        self.0.open.set(open);
    }

    /// The runnables, for the backend. Never held while a runnable runs or is dropped.
    #[inline]
    pub(crate) fn runnables(&self) -> RefMut<'_, VecDeque<Runnable>> {
        self.0.runnables.borrow_mut()
    }
}

/// A background task's schedule function on wasm32: the scheduler's [`LocalQueue`] takes the
/// runnable if it has one and it is open; otherwise [`Scheduler::schedule`] does. One function
/// for every task type, called directly, so that the engine can inline it into async-task's
/// wake paths (which it stops doing once they grow).
#[inline(never)]
pub(crate) fn wake(queue: &Option<LocalQueue>, scheduler: &Arc<dyn Scheduler>, runnable: Runnable) {
    if let Some(runnable) = push_local(queue, runnable) {
        scheduler.schedule(runnable);
    }
}

/// [`wake`] for a foreground task: [`Scheduler::schedule_foreground`] past the queue.
#[inline(never)]
pub(crate) fn wake_foreground(
    queue: &Option<LocalQueue>,
    scheduler: &Arc<dyn Scheduler>,
    runnable: Runnable,
) {
    if let Some(runnable) = push_local(queue, runnable) {
        scheduler.schedule_foreground(runnable);
    }
}

#[inline(always)]
fn push_local(queue: &Option<LocalQueue>, runnable: Runnable) -> Option<Runnable> {
    match queue {
        Some(queue) => queue.try_push(runnable),
        None => Some(runnable),
    }
}

/// The queue `scheduler` lets wakes push into, if any (see [`Scheduler::local_queue`]).
pub(crate) fn local_queue_of(scheduler: &dyn Scheduler) -> Option<LocalQueue> {
    scheduler.local_queue()
}
