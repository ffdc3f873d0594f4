//! The main-thread queue: foreground runnables posted from any thread, run only on the main
//! thread, either by a calloop event source ([`MainThreadSource`]) inserted into the app's own
//! event loop, or while the main thread blocks.

use crate::Runnable;
use calloop::ping::{Ping, PingError, PingSource, make_ping};
use calloop::{EventSource, Poll, PostAction, Readiness, Token, TokenFactory};
use crossbeam_deque::{Injector, Steal};
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, ThreadId};

/// How many runnables one dispatch of the event source runs before it yields back to the event
/// loop (it pings itself to come back), so other sources are not starved.
pub(super) const DISPATCH_BATCH: usize = 1024;

/// The queue, shared by the scheduler (which posts) and the event source (which drains).
pub(super) struct MainQueue {
    queue: Injector<Runnable>,
    main_thread: ThreadId,
    /// Wakes the main thread while it blocks in `block_on_future`.
    main_unparker: parking::Unparker,
    main_blocking: AtomicBool,
    /// Set when the event source has been (or is about to be) pinged and has not drained yet,
    /// so a burst of posts costs one eventfd write.
    ping_pending: AtomicBool,
    /// The ping of the current event source, if one was made.
    ping: Mutex<Option<Ping>>,
    /// Set when the scheduler is dropped: posts are refused from then on.
    closed: AtomicBool,
}

impl MainQueue {
    /// A queue whose main thread is the calling thread.
    pub(super) fn new(main_unparker: parking::Unparker) -> Self {
        Self {
            queue: Injector::new(),
            main_thread: thread::current().id(),
            main_unparker,
            main_blocking: AtomicBool::new(false),
            ping_pending: AtomicBool::new(false),
            ping: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }

    /// Refuses every later post (see [`post`](Self::post)). Called when the scheduler drops.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// A runnable that can no longer run: dropped on the main thread, leaked elsewhere (a
    /// foreground runnable may only be dropped on the thread that spawned it).
    fn refuse(&self, runnable: Runnable) {
        if self.is_main_thread() {
            drop(runnable);
        } else {
            std::mem::forget(runnable);
        }
    }

    /// Whether the calling thread is the main thread.
    pub(super) fn is_main_thread(&self) -> bool {
        thread::current().id() == self.main_thread
    }

    /// Queues `runnable` for the main thread and wakes it.
    ///
    /// Once the scheduler is dropped the runnable is refused instead: tasks hold this queue
    /// (through the scheduler's task sink), so keeping it would be a reference cycle.
    pub(super) fn post(&self, runnable: Runnable) {
        if self.closed.load(Ordering::Acquire) {
            self.refuse(runnable);
            return;
        }
        self.queue.push(runnable);
        // Raced with `close`: take back what nobody will drain (the main thread drains and
        // drops; elsewhere a foreground runnable can only be leaked).
        if self.closed.load(Ordering::SeqCst) {
            if self.is_main_thread() {
                self.discard_all();
            }
            return;
        }
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.main_blocking.load(Ordering::SeqCst) {
            self.main_unparker.unpark();
        }
        // Plain load first: while a ping is pending, posting costs no read-modify-write.
        if !self.ping_pending.load(Ordering::SeqCst)
            && !self.ping_pending.swap(true, Ordering::AcqRel)
        {
            self.ping();
        }
    }

    fn ping(&self) {
        if let Some(ping) = &*self.ping.lock().unwrap_or_else(PoisonError::into_inner) {
            ping.ping();
        }
    }

    /// Runs up to `limit` queued runnables on the main thread. Returns how many ran. If work is
    /// left, the event source is pinged so it comes back to it.
    ///
    /// Panics if called off the main thread.
    pub(super) fn run_ready(&self, limit: usize) -> usize {
        self.assert_main_thread("run main-thread tasks");
        let mut ran = 0;
        while ran < limit {
            match self.queue.steal() {
                Steal::Success(runnable) => {
                    ran += 1;
                    // Panics inside tasks are caught by the task wrapper; this keeps the main
                    // loop alive should anything else in `run` unwind.
                    let _ = catch_unwind(AssertUnwindSafe(|| runnable.run()));
                }
                Steal::Retry => {}
                Steal::Empty => break,
            }
        }
        self.ping_pending.store(false, Ordering::SeqCst);
        if !self.queue.is_empty() && !self.ping_pending.swap(true, Ordering::AcqRel) {
            self.ping();
        }
        ran
    }

    /// Drops every queued runnable without running it. Main thread only.
    pub(super) fn discard_all(&self) {
        self.assert_main_thread("discard main-thread tasks");
        loop {
            match self.queue.steal() {
                Steal::Success(runnable) => drop(runnable),
                Steal::Retry => {}
                Steal::Empty => break,
            }
        }
    }

    /// Whether runnables are waiting.
    pub(super) fn has_work(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Marks the main thread as blocked (posts unpark it) until the guard is dropped.
    pub(super) fn enter_blocking(&self) -> BlockingGuard<'_> {
        let previous = self.main_blocking.swap(true, Ordering::SeqCst);
        BlockingGuard {
            queue: self,
            previous,
        }
    }

    /// A new event source for the app's calloop loop. It replaces any earlier source.
    pub(super) fn source(self: &Arc<Self>) -> std::io::Result<MainThreadSource> {
        self.assert_main_thread("create the main-thread event source");
        let (ping, ping_source) = make_ping()?;
        *self.ping.lock().unwrap_or_else(PoisonError::into_inner) = Some(ping);
        // Work posted before the source existed must not wait for the next post.
        self.ping_pending.store(true, Ordering::SeqCst);
        self.ping();
        Ok(MainThreadSource {
            ping: ping_source,
            queue: self.clone(),
            not_send: PhantomData,
        })
    }

    fn assert_main_thread(&self, action: &str) {
        assert!(
            self.is_main_thread(),
            "LinuxScheduler: tried to {action} on thread {:?}, but the main thread is {:?} \
             (the thread that created the scheduler)",
            thread::current().name().unwrap_or("<unnamed>"),
            self.main_thread
        );
    }
}

impl Drop for MainQueue {
    /// Drops the runnables that never ran. Foreground runnables come from `spawn_local`, whose
    /// futures may only be dropped on the main thread: if this runs on another thread (the
    /// scheduler was dropped off the main thread), they are leaked with `mem::forget` instead of
    /// panicking; their futures are never polled again.
    fn drop(&mut self) {
        let on_main = self.is_main_thread();
        loop {
            match self.queue.steal() {
                Steal::Success(runnable) if on_main => drop(runnable),
                Steal::Success(runnable) => std::mem::forget(runnable),
                Steal::Retry => {}
                Steal::Empty => break,
            }
        }
    }
}

/// Resets the "main thread is blocked" flag when the blocking call ends.
pub(super) struct BlockingGuard<'a> {
    queue: &'a MainQueue,
    previous: bool,
}

impl Drop for BlockingGuard<'_> {
    fn drop(&mut self) {
        self.queue
            .main_blocking
            .store(self.previous, Ordering::SeqCst);
    }
}

/// A calloop event source that runs the scheduler's main-thread tasks. Insert it into the app's
/// `calloop::EventLoop` (as GPUI does with its dispatcher); its callback receives how many tasks
/// one dispatch ran. Not `Send`: it lives on the main thread.
///
/// ```no_run
/// use scheduler::platform::LinuxScheduler;
/// let scheduler = LinuxScheduler::new().expect("threads");
/// let mut event_loop: calloop::EventLoop<()> = calloop::EventLoop::try_new().unwrap();
/// event_loop
///     .handle()
///     .insert_source(scheduler.main_thread_source().unwrap(), |_ran, _, _| {})
///     .unwrap();
/// ```
pub struct MainThreadSource {
    ping: PingSource,
    queue: Arc<MainQueue>,
    not_send: PhantomData<Rc<()>>,
}

impl EventSource for MainThreadSource {
    type Event = usize;
    type Metadata = ();
    type Ret = ();
    type Error = PingError;

    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        mut callback: F,
    ) -> Result<PostAction, Self::Error>
    where
        F: FnMut(Self::Event, &mut Self::Metadata) -> Self::Ret,
    {
        // Consume the eventfd; the ping source itself has nothing to report.
        self.ping.process_events(readiness, token, |(), ()| {})?;
        let ran = self.queue.run_ready(DISPATCH_BATCH);
        if ran > 0 {
            callback(ran, &mut ());
        }
        Ok(PostAction::Continue)
    }

    fn register(
        &mut self,
        poll: &mut Poll,
        token_factory: &mut TokenFactory,
    ) -> calloop::Result<()> {
        self.ping.register(poll, token_factory)
    }

    fn reregister(
        &mut self,
        poll: &mut Poll,
        token_factory: &mut TokenFactory,
    ) -> calloop::Result<()> {
        self.ping.reregister(poll, token_factory)
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.ping.unregister(poll)
    }
}
