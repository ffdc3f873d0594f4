//! Background work on the Win32 thread pool: one thread-pool work object, submitted once per
//! runnable, fed from a lock-free queue.
//!
//! The runnables live in our queue, not in the callbacks' context, so shutdown never depends on
//! the pool telling us about cancelled callbacks: a callback pops one runnable and runs it, or
//! drops it once the pool is shut down.
//!
//! Lifetime ("counted callbacks"): [`WorkQueue`] is shared by the scheduler and its tasks (their
//! wakes submit straight to it, see `Scheduler::task_handle`). The work object's context is one
//! extra strong count of it. `outstanding` counts submitted callbacks not yet finished, plus one
//! held by the owner until it shuts down; a submission only takes a count while the total is
//! non-zero. Whoever brings it to zero closes the work object and releases the context's count,
//! so no callback ever sees freed memory, no submission ever reaches a closed work object, and
//! shutting down never waits for a running callback (one blocked on the main thread cannot hang
//! the drop).

use super::error::win32_error;
use crate::Runnable;
use crate::runnable::run_contained;
use crossbeam_queue::SegQueue;
use std::ffi::c_void;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use windows_sys::Win32::System::Threading::{
    CloseThreadpoolWork, CreateThreadpoolWork, PTP_CALLBACK_INSTANCE, PTP_WORK,
    SubmitThreadpoolWork,
};

/// The background queue, shared by the scheduler, its tasks and the pool's callbacks.
pub(super) struct WorkQueue {
    queue: SegQueue<Runnable>,
    shut_down: AtomicBool,
    /// Submitted callbacks not yet finished, plus one for the owner until it shuts down.
    outstanding: AtomicUsize,
    /// The work object; closed when `outstanding` reaches zero.
    work: AtomicIsize,
}

impl WorkQueue {
    /// Creates the queue and its thread-pool work object.
    pub(super) fn new() -> io::Result<Arc<Self>> {
        let shared = Arc::new(Self {
            queue: SegQueue::new(),
            shut_down: AtomicBool::new(false),
            outstanding: AtomicUsize::new(1),
            work: AtomicIsize::new(0),
        });
        let context = Arc::into_raw(shared.clone());
        // SAFETY: `work_callback` matches PTP_WORK_CALLBACK; `context` stays valid for as long
        // as callbacks can run (see the module comment); a null environment means the default
        // process pool.
        let work = unsafe {
            CreateThreadpoolWork(
                Some(work_callback),
                context as *mut c_void,
                std::ptr::null(),
            )
        };
        if work == 0 {
            let error = win32_error("CreateThreadpoolWork");
            // SAFETY: no work object exists, so the strong count handed out above is ours.
            drop(unsafe { Arc::from_raw(context) });
            return Err(error);
        }
        shared.work.store(work, Ordering::Release);
        Ok(shared)
    }

    /// Queues `runnable` and asks the pool for one callback to run it. After shutdown the
    /// runnable is dropped instead (cancelling its task; background futures may be dropped on
    /// any thread).
    pub(super) fn schedule(&self, runnable: Runnable) {
        if self.shut_down.load(Ordering::Acquire) || !self.take_count() {
            drop(runnable);
            return;
        }
        self.queue.push(runnable);
        // SAFETY: this call holds a count of `outstanding`, so the work object is not closed
        // yet (it is closed only when the count reaches zero).
        unsafe { SubmitThreadpoolWork(self.work.load(Ordering::Acquire)) };
    }

    /// Takes a count of `outstanding` for one submission, unless it already reached zero.
    fn take_count(&self) -> bool {
        self.outstanding
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count != 0).then_some(count + 1)
            })
            .is_ok()
    }

    /// Stops the queue: queued runnables are dropped, not run, and so is anything scheduled
    /// later. Callbacks already running finish on their own. Called once, by the owner.
    pub(super) fn shut_down(self: &Arc<Self>) {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        // Callbacks still pending find the queue empty (or drop what they pop).
        while let Some(runnable) = self.queue.pop() {
            drop(runnable);
        }
        // SAFETY: the owner's count of `outstanding` is given up exactly once (guarded by the
        // swap above), through the pointer the work object's context was made from.
        unsafe { Self::release(Arc::as_ptr(self)) };
    }

    /// Drops one count of `outstanding`; the last one closes the work object and releases the
    /// context's strong count.
    ///
    /// # Safety
    /// `this` must be the pointer the work object's context was made from (`Arc::into_raw`),
    /// and the caller must own one count of `outstanding`.
    unsafe fn release(this: *const WorkQueue) {
        // SAFETY: the caller owns a count of `outstanding`, so the context's strong count (and
        // with it the allocation) is still alive here.
        let shared = unsafe { &*this };
        if shared.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: `outstanding` is zero for good (submissions only take a count while it is
            // non-zero), so no submission or callback uses the work object or the context any
            // more: close the object (allowed from inside its own callback; the pool frees it
            // once the callback returns) and give back the context's count, exactly once.
            unsafe {
                CloseThreadpoolWork(shared.work.load(Ordering::Acquire));
                drop(Arc::from_raw(this));
            }
        }
    }
}

/// The thread-pool callback: runs (or, after shutdown, drops) one queued runnable.
unsafe extern "system" fn work_callback(
    _instance: PTP_CALLBACK_INSTANCE,
    context: *mut c_void,
    _work: PTP_WORK,
) {
    let context = context as *const WorkQueue;
    {
        // SAFETY: this callback owns one count of `outstanding` (taken at submission), so the
        // context is alive until `release` below.
        let shared = unsafe { &*context };
        if let Some(runnable) = shared.queue.pop() {
            if shared.shut_down.load(Ordering::Acquire) {
                drop(runnable);
            } else {
                run_contained(runnable);
            }
        }
    }
    // SAFETY: `context` is the work object's context and this callback's count is released
    // exactly once; `shared` is not used after this point.
    unsafe { WorkQueue::release(context) };
}
