//! Background work on the Win32 thread pool: one thread-pool work object per priority band,
//! submitted once per runnable, fed from a lock-free queue of its own.
//!
//! Priorities: each band's work object is created with a callback environment whose
//! `CallbackPriority` is `TP_CALLBACK_PRIORITY_HIGH`, `_NORMAL` or `_LOW` (what
//! `SetThreadpoolCallbackPriority` sets; it and `InitializeThreadpoolEnvironment` are inline
//! functions of the Windows headers, so the environment is filled in here), so the pool runs
//! pending high callbacks before normal ones, and those before low ones ([`Bands`]).
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
use crate::task::runnable::run_contained;
use crate::{Priority, Runnable};
use crossbeam_queue::SegQueue;
use std::ffi::c_void;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use windows_sys::Win32::System::Threading::{
    CloseThreadpoolWork, CreateThreadpoolWork, PTP_CALLBACK_INSTANCE, PTP_WORK,
    SubmitThreadpoolWork, TP_CALLBACK_ENVIRON_V3, TP_CALLBACK_PRIORITY, TP_CALLBACK_PRIORITY_HIGH,
    TP_CALLBACK_PRIORITY_LOW, TP_CALLBACK_PRIORITY_NORMAL,
};

/// The background queues, one per priority band: high (and realtime, should one land here),
/// normal (medium), low.
pub(super) struct Bands([Arc<WorkQueue>; 3]);

impl Bands {
    /// Creates the three queues and their work objects.
    pub(super) fn new() -> io::Result<Self> {
        let mut made = Vec::with_capacity(3);
        for priority in [
            TP_CALLBACK_PRIORITY_HIGH,
            TP_CALLBACK_PRIORITY_NORMAL,
            TP_CALLBACK_PRIORITY_LOW,
        ] {
            match WorkQueue::new(priority) {
                Ok(queue) => made.push(queue),
                Err(error) => {
                    // Close the work objects already made.
                    for queue in &made {
                        queue.shut_down();
                    }
                    return Err(error);
                }
            }
        }
        let [high, normal, low]: [Arc<WorkQueue>; 3] = made
            .try_into()
            .unwrap_or_else(|_| unreachable!("three bands were made"));
        Ok(Self([high, normal, low]))
    }

    /// Queues `runnable` on its priority's band.
    pub(super) fn schedule(&self, runnable: Runnable) {
        let band = match runnable.metadata().priority() {
            Priority::High | Priority::Realtime => 0,
            Priority::Medium => 1,
            Priority::Low => 2,
        };
        self.0[band].schedule(runnable);
    }

    /// Shuts every band down (see [`WorkQueue::shut_down`]).
    pub(super) fn shut_down(&self) {
        for queue in &self.0 {
            queue.shut_down();
        }
    }
}

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
    /// Creates the queue and its thread-pool work object, whose callbacks run at `priority`.
    pub(super) fn new(priority: TP_CALLBACK_PRIORITY) -> io::Result<Arc<Self>> {
        let shared = Arc::new(Self {
            queue: SegQueue::new(),
            shut_down: AtomicBool::new(false),
            outstanding: AtomicUsize::new(1),
            work: AtomicIsize::new(0),
        });
        let context = Arc::into_raw(shared.clone());
        // What `InitializeThreadpoolEnvironment` then `SetThreadpoolCallbackPriority` make: the
        // default process pool, no cleanup group, the given callback priority.
        let environment = TP_CALLBACK_ENVIRON_V3 {
            Version: 3,
            CallbackPriority: priority,
            Size: std::mem::size_of::<TP_CALLBACK_ENVIRON_V3>() as u32,
            ..Default::default()
        };
        // SAFETY: `work_callback` matches PTP_WORK_CALLBACK; `context` stays valid for as long
        // as callbacks can run (see the module comment); `environment` is a valid version-3
        // callback environment for the duration of the call (the pool copies what it needs).
        let work = unsafe {
            CreateThreadpoolWork(Some(work_callback), context as *mut c_void, &environment)
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
