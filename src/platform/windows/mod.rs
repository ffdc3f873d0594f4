//! [`WindowsScheduler`]: the production scheduler on Windows.
//!
//! - `schedule`: Win32 thread-pool work ([`work_pool`]); tasks hold a [`task_sink`] so their
//!   wakes reach the queues without touching the scheduler's reference count;
//! - `schedule_after`: Win32 thread-pool timers ([`timers`]), closed early when a `Timer` is
//!   dropped;
//! - `schedule_foreground`: a main-thread queue drained by the main thread's message loop through
//!   a message-only window ([`main_queue`]), with a ready-made loop in [`message_loop`];
//! - `park` / `unparker`: one `parking` pair per thread; on the main thread `park` also runs
//!   queued foreground work, so blocking there on a foreground task cannot deadlock.

mod main_queue;
mod message_loop;
mod task_sink;
mod timers;
mod work_pool;

use crate::platform::thread_parker;
use crate::{Instant, Runnable, Scheduler, TaskMetadata, TaskSink, Unparker};
use main_queue::MainQueue;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use task_sink::WindowsTaskSink;
use timers::TimerPool;
use work_pool::WorkQueue;

/// The Windows scheduler: Win32 thread pool for background work and timers, plus a main-thread
/// queue that the main thread's Win32 message loop drains.
///
/// Create it on the thread that runs the message loop (the UI thread): that thread becomes its
/// main thread. Any loop that calls `DispatchMessageW` drains the queue; apps without one can
/// use [`run`](Self::run) or [`run_until`](Self::run_until).
///
/// Dropping it drops queued runnables without running them and closes its pending timers;
/// callbacks already running finish on their own, and a late callback never touches freed
/// memory. Foreground runnables are dropped on the main thread only (when the scheduler is
/// dropped elsewhere, the main thread's message loop drops them).
///
/// ```no_run
/// # #[cfg(windows)] {
/// use scheduler::{BackgroundExecutor, ForegroundExecutor, platform::WindowsScheduler};
/// use std::sync::Arc;
/// let scheduler = Arc::new(WindowsScheduler::new().expect("Win32 thread pool"));
/// let background = BackgroundExecutor::new(scheduler.clone());
/// let foreground = ForegroundExecutor::new(scheduler.clone());
/// let sum = scheduler.run_until(async move {
///     let sum = background.spawn(async { (1..=100u64).sum::<u64>() }).await;
///     foreground.spawn(async move { sum * 2 }).await
/// });
/// assert_eq!(sum, Some(10100));
/// # }
/// ```
pub struct WindowsScheduler {
    work: Arc<WorkQueue>,
    timers: TimerPool,
    main: Arc<MainQueue>,
    /// Handed to every task (see `Scheduler::task_handle`).
    sink: Arc<WindowsTaskSink>,
    main_thread_id: u32,
}

impl WindowsScheduler {
    /// Creates the scheduler; the calling thread becomes its main thread.
    ///
    /// Fails only if Windows cannot create the thread-pool work object or the message-only
    /// window (out of resources).
    pub fn new() -> io::Result<Self> {
        let main = MainQueue::new(thread_parker::unparker())?;
        let work = WorkQueue::new()?;
        Ok(Self {
            sink: Arc::new(WindowsTaskSink {
                work: work.clone(),
                main: main.clone(),
            }),
            work,
            timers: TimerPool::default(),
            main,
            // SAFETY: no preconditions.
            main_thread_id: unsafe { windows_sys::Win32::System::Threading::GetCurrentThreadId() },
        })
    }

    /// Runs one batch of queued foreground runnables now; returns how many ran.
    ///
    /// Only needed by a loop that does not dispatch window messages (`DispatchMessageW` drains
    /// the queue already). Panics off the main thread.
    pub fn run_foreground_batch(&self) -> usize {
        assert!(
            self.is_main_thread(),
            "WindowsScheduler::run_foreground_batch must be called on the scheduler's main thread"
        );
        self.main.run_batch()
    }

    /// How many `schedule_after` timers are armed (dropped `Timer`s close theirs at once).
    pub fn pending_timers(&self) -> usize {
        self.timers.pending()
    }
}

impl Scheduler for WindowsScheduler {
    fn schedule(&self, runnable: Runnable) {
        self.work.schedule(runnable);
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.main.push(runnable);
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        if delay.is_zero() {
            self.work.schedule(runnable);
        } else {
            self.timers.schedule_after(delay, runnable);
        }
    }

    fn park(&self, timeout: Option<Duration>) -> bool {
        // The main thread keeps its own queue moving while it blocks.
        if self.main.is_main_thread() && self.main.run_batch() > 0 {
            return true;
        }
        thread_parker::park(timeout)
    }

    fn unparker(&self) -> Unparker {
        thread_parker::unparker()
    }

    fn is_main_thread(&self) -> bool {
        self.main.is_main_thread()
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn timer_cancelled(&self, timer: &TaskMetadata) {
        self.timers.cancel(timer.id());
    }

    fn task_handle(&self) -> Option<Arc<dyn TaskSink>> {
        Some(self.sink.clone())
    }
}

impl Drop for WindowsScheduler {
    fn drop(&mut self) {
        // Tasks may still hold the queues (through the sink): from now on they refuse work.
        self.main.shut_down();
        self.work.shut_down();
        // The timers are closed when `self.timers` is dropped, right after this.
    }
}

/// A Win32 error from the last failed call, naming the call.
fn win32_error(call: &str) -> io::Error {
    let error = io::Error::last_os_error();
    io::Error::new(error.kind(), format!("{call} failed: {error}"))
}
