//! The Linux main loop: the main-thread queue's [`MainLoop`] is a calloop ping, and
//! [`MainThreadSource`] is the calloop event source an app inserts into its own event loop
//! (as GPUI does with its dispatcher). `LinuxScheduler::run_until` (in `mod.rs`) is a
//! ready-made loop for apps that have none.

use crate::platform::desktop::main_thread::{BATCH, MainLoop, MainThreadQueue};
use calloop::ping::{Ping, PingError, PingSource, make_ping};
use calloop::{EventSource, Poll, PostAction, Readiness, Token, TokenFactory};
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, ThreadId};

/// The main thread (the thread that created the scheduler) and the ping of its event source.
pub(super) struct CalloopLoop {
    main_thread: ThreadId,
    /// The ping of the current event source, once one was made.
    ping: Mutex<Option<Ping>>,
}

impl CalloopLoop {
    /// The calling thread becomes the main thread.
    pub(super) fn new() -> Self {
        Self {
            main_thread: thread::current().id(),
            ping: Mutex::new(None),
        }
    }

    fn ping(&self) {
        if let Some(ping) = &*self.ping.lock().unwrap_or_else(PoisonError::into_inner) {
            ping.ping();
        }
    }
}

impl MainLoop for CalloopLoop {
    fn is_main_thread(&self) -> bool {
        thread::current().id() == self.main_thread
    }

    fn notify(&self, _queue: &Arc<MainThreadQueue<Self>>) {
        self.ping();
    }
}

/// The main-thread queue of a [`LinuxScheduler`].
pub(super) type MainQueue = MainThreadQueue<CalloopLoop>;

/// A new event source for the app's calloop loop. It replaces any earlier source.
pub(super) fn source(queue: &Arc<MainQueue>) -> std::io::Result<MainThreadSource> {
    assert!(
        queue.is_main_thread(),
        "LinuxScheduler::main_thread_source must be called on the scheduler's main thread (the \
         thread that created it)"
    );
    let (ping, ping_source) = make_ping()?;
    // Work posted before the source existed must not wait for the next post.
    ping.ping();
    *queue
        .main_loop()
        .ping
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(ping);
    Ok(MainThreadSource {
        ping: ping_source,
        queue: queue.clone(),
        not_send: PhantomData,
    })
}

/// A calloop event source that runs the scheduler's foreground tasks. Insert it into the app's
/// `calloop::EventLoop`; its callback receives how many tasks one dispatch ran. Not `Send`: it
/// lives on the main thread.
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

impl std::fmt::Debug for MainThreadSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MainThreadSource").finish_non_exhaustive()
    }
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
        let ran = self.queue.run_batch(BATCH);
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
