//! [`WindowsScheduler`]: the production scheduler on Windows.
//!
//! - `schedule`: Win32 thread-pool work ([`work_pool`]), one work object per priority band,
//!   with thread-pool callback priorities high / normal / low;
//! - `schedule_after`: Win32 thread-pool timers ([`timers`]), closed early when a `Timer` is
//!   dropped;
//! - `schedule_foreground`: the shared main-thread queue (`platform/main_thread.rs`), drained by
//!   the main thread's message loop through a message-only window ([`main_queue`]), with a
//!   ready-made loop in [`message_loop`];
//! - `park` / `unparker`: the per-thread parker of `platform/parker.rs`; on the main thread
//!   `park` also runs queued foreground work, so blocking there on a foreground task cannot
//!   deadlock.

mod error;
mod main_queue;
mod message_loop;
mod timers;
mod work_pool;

use crate::platform::desktop::desktop_scheduler_methods;
use crate::scheduler::{Role, handle_pair};
use crate::{Runnable, Scheduler, TaskMetadata};
use main_queue::MainQueue;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use timers::TimerPool;
use work_pool::Bands;

/// The Windows scheduler: Win32 thread pool for background work and timers, plus a main-thread
/// queue that the main thread's Win32 message loop drains.
///
/// Create it on the thread that runs the message loop (the UI thread): that thread becomes its
/// main thread. Any loop that calls `DispatchMessageW` drains the queue; apps without one can
/// use [`run`](Self::run) or [`run_until`](Self::run_until).
///
/// Dropping it (the last `Arc` the app holds; its tasks hold a separate handle, see
/// [`Scheduler::task_handle`]) drops queued runnables without running them and closes its
/// pending timers; callbacks already running finish on their own, and a late callback never
/// touches freed memory. Foreground runnables are dropped on the main thread only (when the
/// scheduler is dropped elsewhere, the main thread's message loop drops them).
///
/// ```no_run
/// # #[cfg(windows)] {
/// use scheduler::{BackgroundExecutor, ForegroundExecutor, platform::WindowsScheduler};
/// let scheduler = WindowsScheduler::new().expect("Win32 thread pool");
/// let background = BackgroundExecutor::new(scheduler.clone());
/// let foreground = ForegroundExecutor::new(scheduler.clone());
/// let sum = scheduler.run_until(async move {
///     let sum = background.spawn(async { (1..=100u64).sum::<u64>() }).await;
///     foreground.spawn(async move { sum * 2 }).await
/// });
/// assert_eq!(sum.unwrap(), 10100);
/// # }
/// ```
pub struct WindowsScheduler {
    /// Where runnables go; shared by the app's handle and the tasks' handle.
    queues: Arc<Queues>,
    /// Which handle this is (see [`Scheduler::task_handle`]): dropping the app's shuts
    /// everything down.
    role: Role<WindowsScheduler>,
    /// The main thread's Win32 id, for `PostThreadMessageW` (`quit`).
    main_thread_id: u32,
}

impl fmt::Debug for WindowsScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowsScheduler")
            .field("pending_timers", &self.pending_timers())
            .field("owner", &self.role.is_owner())
            .finish_non_exhaustive()
    }
}

/// The queues, shared by both handles and the thread-pool callbacks.
struct Queues {
    work: Bands,
    timers: Arc<TimerPool>,
    main: Arc<MainQueue>,
}

impl WindowsScheduler {
    /// Creates the scheduler; the calling thread becomes its main thread.
    ///
    /// Fails only if Windows cannot create the thread-pool work object or the message-only
    /// window (out of resources).
    pub fn new() -> io::Result<Arc<Self>> {
        let queues = Arc::new(Queues {
            work: Bands::new()?,
            timers: Arc::new(TimerPool::default()),
            main: main_queue::new_main_queue()?,
        });
        // SAFETY: no preconditions.
        let main_thread_id = unsafe { windows_sys::Win32::System::Threading::GetCurrentThreadId() };
        Ok(handle_pair(|role| Self {
            queues: queues.clone(),
            role,
            main_thread_id,
        }))
    }

    /// Runs up to `limit` queued foreground tasks now, on the main thread; returns how many
    /// ran. Only needed by a loop that does not dispatch window messages (`DispatchMessageW`
    /// drains the queue already).
    ///
    /// Panics off the main thread.
    pub fn run_foreground_tasks(&self, limit: usize) -> usize {
        self.queues.main.run_batch(limit)
    }

    /// How many `schedule_after` timers are armed (dropped `Timer`s close theirs at once).
    pub fn pending_timers(&self) -> usize {
        self.queues.timers.pending()
    }
}

impl Scheduler for WindowsScheduler {
    fn schedule(&self, runnable: Runnable) {
        self.queues.work.schedule(runnable);
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        if delay.is_zero() {
            self.queues.work.schedule(runnable);
        } else {
            self.queues.timers.schedule_after(delay, runnable);
        }
    }

    desktop_scheduler_methods!(main: queues.main, role: role);

    fn timer_cancelled(&self, timer: &TaskMetadata) {
        self.queues.timers.cancel(timer.id());
    }
}

impl Drop for WindowsScheduler {
    fn drop(&mut self) {
        if self.role.release() {
            // Tasks still hold the queues (through their handle): from now on they refuse work.
            main_queue::shut_down(&self.queues.main);
            self.queues.work.shut_down();
            self.queues.timers.shut_down();
        }
    }
}

/// The process's scheduler for [`current`](crate::platform::current).
pub(super) fn default_scheduler() -> Arc<dyn Scheduler> {
    WindowsScheduler::new()
        .unwrap_or_else(|error| panic!("cannot create the WindowsScheduler: {error}"))
}
