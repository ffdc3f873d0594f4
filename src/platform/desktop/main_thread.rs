//! The main-thread queue core shared by the desktop backends (Linux, Windows, macOS): foreground
//! runnables posted from any thread, run in batches on the main thread only.
//!
//! What is the same everywhere lives here: the queue, closing it when the scheduler is dropped,
//! one notification of the main loop per burst of posts, running a batch with panics contained,
//! waking the main thread when it is blocked (`park`), and the rule for a runnable that will
//! never run (dropped on the main thread, leaked anywhere else: see `runnable::discard`).
//! What differs is only how a backend's main loop learns that work is waiting ([`MainLoop`]):
//! a calloop ping, a posted window message, a block on GCD's main queue.

use super::parker;
use crate::task::runnable::{discard, run_contained};
use crate::{Runnable, Unparker};
use crossbeam_queue::SegQueue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How many runnables one batch runs before the main loop gets control back (its other event
/// sources must not starve behind a flood of foreground work).
pub(crate) const BATCH: usize = 256;

/// A backend's main loop, as the queue sees it.
pub(crate) trait MainLoop: Send + Sync + Sized + 'static {
    /// Whether the calling thread is the main thread.
    fn is_main_thread(&self) -> bool;

    /// Makes the main loop call [`MainThreadQueue::run_batch`] soon (from any thread). Called at
    /// most once per burst of posts: not again until that batch has started.
    fn notify(&self, queue: &Arc<MainThreadQueue<Self>>);
}

/// Foreground runnables waiting for the main thread.
pub(crate) struct MainThreadQueue<L: MainLoop> {
    runnables: SegQueue<Runnable>,
    /// The backend's main loop: who the main thread is, and how to wake its loop.
    main_loop: L,
    /// Set when the scheduler is dropped: posts are refused from then on.
    closed: AtomicBool,
    /// A notification is on its way and its batch has not started: further posts need none.
    notified: AtomicBool,
    /// The main thread is (about to be) asleep in [`park`](Self::park): a post must unpark it.
    parked: AtomicBool,
    /// The main thread's unparker, known once it first parks here.
    main_unparker: OnceLock<Unparker>,
}

impl<L: MainLoop> MainThreadQueue<L> {
    /// An empty queue served by `main_loop`.
    pub(crate) fn new(main_loop: L) -> Arc<Self> {
        Arc::new(Self {
            runnables: SegQueue::new(),
            main_loop,
            closed: AtomicBool::new(false),
            notified: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            main_unparker: OnceLock::new(),
        })
    }

    /// The backend's main loop.
    #[cfg_attr(target_os = "macos", allow(dead_code))]
    pub(crate) fn main_loop(&self) -> &L {
        &self.main_loop
    }

    /// Whether the calling thread is the main thread.
    pub(crate) fn is_main_thread(&self) -> bool {
        self.main_loop.is_main_thread()
    }

    /// Queues `runnable` for the main thread, wakes the main thread if it is parked, and
    /// notifies the main loop (once per burst). Once the queue is closed the runnable is
    /// discarded instead: tasks hold this queue, and it is never drained again.
    pub(crate) fn post(self: &Arc<Self>, runnable: Runnable) {
        if self.closed.load(Ordering::Acquire) {
            discard(runnable, self.is_main_thread());
            return;
        }
        self.runnables.push(runnable);
        // Pairs with the fence in `close`: either `close` sees this runnable, or this sees the
        // queue closed and takes back what nobody will drain.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            if self.is_main_thread() {
                self.discard_all();
            }
            return;
        }
        // Pairs with the fence in `park`: either the main thread sees this runnable before it
        // sleeps, or this sees it parked.
        if self.parked.load(Ordering::SeqCst)
            && let Some(unparker) = self.main_unparker.get()
        {
            unparker.unpark();
        }
        // A plain load first: while a notification is pending, a post costs no read-modify-write.
        if !self.notified.load(Ordering::Acquire) && !self.notified.swap(true, Ordering::AcqRel) {
            self.main_loop.notify(self);
        }
    }

    /// Runs up to `limit` queued runnables on the main thread, containing their panics.
    /// Returns how many ran; notifies the main loop again if work is left.
    ///
    /// Panics if called off the main thread.
    pub(crate) fn run_batch(self: &Arc<Self>, limit: usize) -> usize {
        self.assert_main_thread("run foreground tasks");
        if self.closed.load(Ordering::Acquire) {
            self.discard_all();
            return 0;
        }
        let mut ran = 0;
        while ran < limit {
            let Some(runnable) = self.runnables.pop() else {
                break;
            };
            run_contained(runnable);
            ran += 1;
        }
        // Posts from here on notify again; and work already queued gets its notification now.
        self.notified.store(false, Ordering::SeqCst);
        if !self.runnables.is_empty() && !self.notified.swap(true, Ordering::AcqRel) {
            self.main_loop.notify(self);
        }
        ran
    }

    /// `Scheduler::park` of a desktop backend: on the main thread see
    /// [`park_main`](Self::park_main); on any other thread, the thread's own parker.
    pub(crate) fn park(self: &Arc<Self>, timeout: Option<Duration>) -> bool {
        if self.is_main_thread() {
            self.park_main(timeout)
        } else {
            parker::park(timeout)
        }
    }

    /// `park` on the main thread: runs a batch of queued foreground runnables if there are any
    /// (returns `true` at once), else sleeps until a post, an unpark or `timeout`. Returns
    /// `false` if the timeout passed.
    fn park_main(self: &Arc<Self>, timeout: Option<Duration>) -> bool {
        if self.run_batch(BATCH) > 0 {
            return true;
        }
        self.main_unparker.get_or_init(parker::unparker);
        self.parked.store(true, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        let unparked = self.runnables.is_empty() && !self.closed.load(Ordering::SeqCst) && {
            parker::park(timeout)
        };
        self.parked.store(false, Ordering::SeqCst);
        unparked || !self.runnables.is_empty()
    }

    /// Called by a [`MainLoop`] whose notification could not be delivered: the next post (or
    /// `park` on the main thread) notifies again.
    #[cfg_attr(not(windows), allow(dead_code))]
    pub(crate) fn notification_lost(&self) {
        self.notified.store(false, Ordering::Release);
    }

    /// Whether runnables are waiting.
    pub(crate) fn has_work(&self) -> bool {
        !self.runnables.is_empty()
    }

    /// Refuses every later post, and drops what is queued: now on the main thread; elsewhere
    /// the main loop is notified and drops it at its next batch (a foreground runnable may only
    /// be dropped there; if the main loop never runs again, it is leaked). Called when the
    /// scheduler is dropped.
    pub(crate) fn close(self: &Arc<Self>) {
        self.closed.store(true, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.is_main_thread() {
            self.discard_all();
            return;
        }
        if let Some(unparker) = self.main_unparker.get() {
            unparker.unpark();
        }
        if self.has_work() {
            self.main_loop.notify(self);
        }
    }

    /// Discards every queued runnable: dropped on the main thread, leaked elsewhere.
    fn discard_all(&self) {
        let on_main = self.is_main_thread();
        while let Some(runnable) = self.runnables.pop() {
            discard(runnable, on_main);
        }
    }

    fn assert_main_thread(&self, action: &str) {
        assert!(
            self.is_main_thread(),
            "tried to {action} on thread {:?}, which is not the scheduler's main thread",
            std::thread::current().name().unwrap_or("<unnamed>"),
        );
    }
}

impl<L: MainLoop> Drop for MainThreadQueue<L> {
    /// Discards the runnables that never ran (dropped on the main thread, leaked elsewhere).
    fn drop(&mut self) {
        self.discard_all();
    }
}
