//! Background work on the Win32 thread pool: one thread-pool work object, submitted once per
//! runnable, fed from a lock-free queue.
//!
//! The runnables live in our queue, not in the callbacks' context, so shutdown never depends on
//! the pool telling us about cancelled callbacks: a callback pops one runnable and runs it, or
//! drops it once the pool is shut down.
//!
//! Lifetime ("counted callbacks"): the work object's context is one strong count of
//! [`WorkShared`]. Every submission adds one to `outstanding`, every callback removes one, and
//! the owner holds one more until it shuts down. Whoever brings `outstanding` to zero releases
//! the context's strong count, so no callback can ever see freed memory, and dropping the pool
//! never waits for a running callback (a callback blocked on the main thread cannot hang it).

use super::win32_error;
use crate::Runnable;
use crate::platform::guarded_run::run_guarded;
use crossbeam_queue::SegQueue;
use std::ffi::c_void;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use windows_sys::Win32::System::Threading::{
    CloseThreadpoolWork, CreateThreadpoolWork, PTP_CALLBACK_INSTANCE, PTP_WORK,
    SubmitThreadpoolWork,
};

/// State shared by the owner and the pool's callbacks.
struct WorkShared {
    queue: SegQueue<Runnable>,
    shut_down: AtomicBool,
    /// Submitted callbacks not yet finished, plus one for the owner until it shuts down.
    outstanding: AtomicUsize,
}

impl WorkShared {
    /// Drops one count of `outstanding`; the last one releases the context's strong count.
    ///
    /// # Safety
    /// `this` must be the pointer the work object was created with (from `Arc::into_raw`), and
    /// the caller must own one count of `outstanding`.
    unsafe fn release(this: *const WorkShared) {
        // SAFETY: the caller owns a count of `outstanding`, so the context's strong count (and
        // with it the allocation) is still alive here.
        let previous = unsafe { &*this }.outstanding.fetch_sub(1, Ordering::AcqRel);
        if previous == 1 {
            // SAFETY: `outstanding` reached zero: no callback and no owner uses the context any
            // more, so the strong count the work object held can be given back exactly once.
            drop(unsafe { Arc::from_raw(this) });
        }
    }
}

/// The background half of the Windows scheduler.
pub(super) struct WorkPool {
    shared: Arc<WorkShared>,
    work: PTP_WORK,
}

impl WorkPool {
    /// Creates the thread-pool work object.
    pub(super) fn new() -> io::Result<Self> {
        let shared = Arc::new(WorkShared {
            queue: SegQueue::new(),
            shut_down: AtomicBool::new(false),
            outstanding: AtomicUsize::new(1),
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
        Ok(Self { shared, work })
    }

    /// Queues `runnable` and asks the pool for one callback to run it.
    pub(super) fn schedule(&self, runnable: Runnable) {
        self.shared.queue.push(runnable);
        self.shared.outstanding.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `self.work` is a live work object: it is closed only in `drop`.
        unsafe { SubmitThreadpoolWork(self.work) };
    }
}

impl Drop for WorkPool {
    fn drop(&mut self) {
        self.shared.shut_down.store(true, Ordering::Release);
        // SAFETY: the owner closes its live work object exactly once. Closing with callbacks
        // outstanding is allowed (the pool frees the object after they finish); they still see
        // a live context, released by the last of them.
        unsafe { CloseThreadpoolWork(self.work) };
        // Queued runnables are dropped, not run. Background futures are `Send`: any thread may
        // drop them. Callbacks still pending find the queue empty (or drop what they pop).
        while let Some(runnable) = self.shared.queue.pop() {
            drop(runnable);
        }
        // SAFETY: the context pointer is the one the work object was created with, and the
        // owner's count of `outstanding` is given up exactly once, here.
        unsafe { WorkShared::release(Arc::as_ptr(&self.shared)) };
    }
}

/// The thread-pool callback: runs (or, after shutdown, drops) one queued runnable.
unsafe extern "system" fn work_callback(
    _instance: PTP_CALLBACK_INSTANCE,
    context: *mut c_void,
    _work: PTP_WORK,
) {
    let context = context as *const WorkShared;
    {
        // SAFETY: this callback owns one count of `outstanding` (taken at submission), so the
        // context is alive until `release` below.
        let shared = unsafe { &*context };
        if let Some(runnable) = shared.queue.pop() {
            if shared.shut_down.load(Ordering::Acquire) {
                drop(runnable);
            } else {
                run_guarded(runnable);
            }
        }
    }
    // SAFETY: `context` is the work object's context and this callback's count is released
    // exactly once; `shared` is not used after this point.
    unsafe { WorkShared::release(context) };
}
