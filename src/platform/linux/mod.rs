//! [`LinuxScheduler`]: the production scheduler on Linux and FreeBSD.
//!
//! - background work runs on a pool of named threads (`available_parallelism()`, at least 2)
//!   fed by crossbeam work-stealing deques (`pool.rs`);
//! - foreground work runs on the main thread through the shared main-thread queue
//!   (`platform/main_thread.rs`), drained by a calloop event source the app inserts into its
//!   own event loop, by the ready-made [`LinuxScheduler::run_until`] (`calloop_loop.rs`), or
//!   while the main thread blocks;
//! - `schedule_after` uses a timer queue fired by a timer thread, and by the workers when they
//!   notice a due timer first (`timers.rs`);
//! - `park` / `unparker` use the per-thread parker of `platform/parker.rs`.
//!
//! Blocking (`block`) on a background thread parks that worker; with a single worker, blocking
//! on work queued behind it deadlocks, as in any fixed-size pool. The default (at least 2
//! threads) and the main thread (which keeps running foreground tasks while it blocks) avoid it.

mod calloop_loop;
mod pool;
mod sleepers;
mod timers;

pub use calloop_loop::MainThreadSource;

use crate::platform::desktop::desktop_scheduler_methods;
use crate::platform::desktop::main_thread::BATCH;
use crate::scheduler::{Role, handle_pair};
use crate::{Runnable, Scheduler, Task, TaskMetadata};
use calloop_loop::{CalloopLoop, MainQueue};
use pool::{Pool, PoolHandle};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use timers::{TimerQueue, TimerThread};

/// The production [`Scheduler`] for Linux and FreeBSD desktops.
///
/// The thread that creates it is its **main thread**: foreground tasks run there, and only
/// there [`is_main_thread`](Scheduler::is_main_thread) is `true`. That thread drives the
/// main-thread queue, either by inserting [`main_thread_source`](Self::main_thread_source) into
/// its `calloop::EventLoop`, or with [`run_until`](Self::run_until), or while it blocks on a
/// future (a blocked main thread keeps running foreground tasks, so blocking on one does not
/// deadlock).
///
/// Dropping the scheduler (the last `Arc` the app holds; its tasks hold a separate handle, see
/// [`Scheduler::task_handle`]) stops and joins its threads and drops queued runnables without
/// running them (their tasks count as cancelled); later wakes are dropped too. Foreground
/// runnables can only be dropped on the main thread; if the scheduler is dropped elsewhere,
/// those still queued are leaked (never run, never dropped) unless the event source, still
/// alive on the main thread, drops them.
///
/// ```
/// use scheduler::platform::LinuxScheduler;
/// use scheduler::{BackgroundExecutor, ForegroundExecutor};
///
/// let scheduler = LinuxScheduler::new().expect("start threads");
/// let background = BackgroundExecutor::new(scheduler.clone());
/// let foreground = ForegroundExecutor::new(scheduler.clone());
/// let sum = scheduler.run_until(async move {
///     let work = background.spawn(async { (1..=10u64).sum::<u64>() });
///     let ui = foreground.spawn(async { "main" });
///     (work.await, ui.await)
/// });
/// assert_eq!(sum.unwrap(), (55, "main"));
/// ```
pub struct LinuxScheduler {
    /// Where runnables go; shared by the app's handle and the tasks' handle.
    queues: Arc<Queues>,
    /// Which handle this is (see [`Scheduler::task_handle`]).
    role: Role<LinuxScheduler>,
    /// The threads: on the handle the app holds (dropping it shuts everything down), `None` on
    /// the handle its tasks hold.
    threads: Option<Threads>,
}

impl fmt::Debug for LinuxScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinuxScheduler")
            .field("background_threads", &self.background_threads())
            .field("pending_timers", &self.pending_timers())
            .field("owner", &self.role.is_owner())
            .finish_non_exhaustive()
    }
}

/// The queues, shared by both handles and the threads.
struct Queues {
    pool: PoolHandle,
    timers: Arc<TimerQueue>,
    main: Arc<MainQueue>,
}

/// What only the app's handle holds. Fields drop in order: the timer thread stops first (it
/// feeds the pool), then the pool.
struct Threads {
    /// Held for its `Drop`: stops and joins the thread, drops pending timers.
    _timer_thread: TimerThread,
    /// Held for its `Drop`: stops and joins the workers, drops what they had queued.
    _pool: Pool,
}

impl LinuxScheduler {
    /// Starts a scheduler with `available_parallelism()` background threads (at least 2). The
    /// calling thread becomes its main thread.
    pub fn new() -> std::io::Result<Arc<Self>> {
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        Self::with_threads(threads.max(2))
    }

    /// Starts a scheduler with `threads` background threads (at least 1). The calling thread
    /// becomes its main thread.
    pub fn with_threads(threads: usize) -> std::io::Result<Arc<Self>> {
        let timers = TimerQueue::new();
        let pool = Pool::new(threads.max(1), "scheduler-worker", timers.clone())?;
        let handle = pool.handle();
        let timer_thread = TimerThread::new(
            "scheduler-timer",
            timers.clone(),
            Box::new(move |runnable| handle.push(runnable)),
        )?;
        let queues = Arc::new(Queues {
            pool: pool.handle(),
            timers,
            main: MainQueue::new(CalloopLoop::new()),
        });
        let mut threads = Some(Threads {
            _timer_thread: timer_thread,
            _pool: pool,
        });
        Ok(handle_pair(|role| Self {
            queues: queues.clone(),
            threads: if role.is_owner() {
                threads.take()
            } else {
                None
            },
            role,
        }))
    }

    /// A calloop event source that runs this scheduler's foreground tasks; insert it into the
    /// main thread's `calloop::EventLoop`. Making a new one replaces the previous one.
    ///
    /// Panics if called off the main thread. Fails if the eventfd cannot be created.
    pub fn main_thread_source(&self) -> std::io::Result<MainThreadSource> {
        calloop_loop::source(&self.queues.main)
    }

    /// Runs up to `limit` queued foreground tasks now, on the main thread; returns how many
    /// ran. For apps that drive the main thread with their own loop (not calloop).
    ///
    /// Panics if called off the main thread.
    pub fn run_foreground_tasks(&self, limit: usize) -> usize {
        self.queues.main.run_batch(limit)
    }

    /// How many background threads the pool runs.
    pub fn background_threads(&self) -> usize {
        self.queues.pool.size()
    }

    /// How many `schedule_after` runnables are waiting for their deadline.
    pub fn pending_timers(&self) -> usize {
        self.queues.timers.len()
    }

    /// Runs a calloop event loop on the main thread, driving this scheduler's foreground tasks,
    /// until `future` (spawned as a foreground task) completes; returns its output. If `future`
    /// panics, the panic is re-raised here, naming the task.
    ///
    /// Apps with their own `calloop::EventLoop` insert
    /// [`main_thread_source`](Self::main_thread_source) into it instead.
    ///
    /// Panics if called off the main thread. Fails if the event loop cannot be created.
    pub fn run_until<F>(self: &Arc<Self>, future: F) -> std::io::Result<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let mut event_loop: calloop::EventLoop<'_, ()> = calloop::EventLoop::try_new()?;
        event_loop
            .handle()
            .insert_source(self.main_thread_source()?, |_ran, _, _| {})
            .map_err(|error| error.error)?;
        let signal = event_loop.get_signal();
        let scheduler: Arc<dyn Scheduler> = self.clone();
        let task: Task<F::Output> = scheduler.spawn_foreground(async move {
            // Stops the loop however the future ends: completed, panicked or cancelled.
            let _stop = StopOnDrop(signal);
            future.await
        });
        while !task.is_finished() {
            event_loop.dispatch(None, &mut ())?;
        }
        // Finished: this returns the output at once, or re-raises the future's panic.
        Ok(scheduler.block(task))
    }

    /// The owning handle was dropped: stop everything.
    fn shut_down(&mut self) {
        // From now on the main queue refuses posts (tasks still hold it, through their
        // handle); on the main thread what it holds is dropped now.
        self.queues.main.close();
        // Then the timer thread stops (dropping pending timers, so a task blocked on one is
        // woken and finds its scheduler gone) and the pool stops and joins its workers,
        // dropping what they had queued.
        drop(self.threads.take());
        if self.queues.main.is_main_thread() {
            // Whatever the workers' last runnables posted while stopping.
            while self.queues.main.has_work() {
                self.queues.main.run_batch(BATCH);
            }
        }
    }
}

impl Scheduler for LinuxScheduler {
    fn schedule(&self, runnable: Runnable) {
        self.queues.pool.push(runnable);
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        self.queues.timers.insert(delay, runnable);
    }

    desktop_scheduler_methods!(main: queues.main, role: role);

    fn num_cpus(&self) -> usize {
        self.queues.pool.size()
    }

    fn timer_cancelled(&self, timer: &TaskMetadata) {
        self.queues.timers.cancel(timer.id());
    }
}

impl Drop for LinuxScheduler {
    fn drop(&mut self) {
        if self.role.release() {
            self.shut_down();
        }
    }
}

/// The process's scheduler for [`current`](crate::platform::current).
pub(super) fn default_scheduler() -> Arc<dyn Scheduler> {
    LinuxScheduler::new().unwrap_or_else(|error| panic!("cannot start the LinuxScheduler: {error}"))
}

/// Stops a calloop loop when dropped.
struct StopOnDrop(calloop::LoopSignal);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}
