//! [`LinuxScheduler`]: the production scheduler on Linux and FreeBSD.
//!
//! - background work runs on a pool of named threads (`available_parallelism()`, at least 2)
//!   fed by crossbeam work-stealing deques (`pool.rs`);
//! - foreground work runs on the main thread, through a calloop event source the app inserts
//!   into its own event loop, or through the ready-made [`LinuxScheduler::run`] (`main_queue.rs`,
//!   `run_loop.rs`);
//! - `schedule_after` uses a timer queue fired by a timer thread, and by the workers when they
//!   notice a due timer first (`timers.rs`);
//! - `park` / `unparker` use one `parking::Parker` per thread (`parker.rs`);
//! - task ids come from per-thread blocks of one counter (`task_ids.rs`);
//! - tasks hold a `LinuxTaskSink` (`task_sink.rs`, see `Scheduler::task_handle`): their wakes go
//!   straight to the pool or the main queue and their end reports are a plain no-op call, so the
//!   hot paths never touch the scheduler's `Arc` reference count.
//!
//! Blocking (`block`) on a background thread parks that worker; with a single worker, blocking
//! on work queued behind it deadlocks, as in any fixed-size pool. The default (at least 2
//! threads) and the main thread (which keeps running foreground tasks while it blocks) avoid it.

mod main_queue;
mod parker;
mod pool;
mod run_loop;
mod task_ids;
mod task_sink;
mod timers;

pub use main_queue::MainThreadSource;

use crate::block::BlockWaker;
use crate::{Instant, Runnable, Scheduler, TaskId, TaskMetadata, TaskSink, Unparker};
use main_queue::MainQueue;
use pool::Pool;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;
use task_sink::LinuxTaskSink;
use timers::{TimerQueue, TimerThread};

/// The production [`Scheduler`] for Linux and FreeBSD desktops.
///
/// The thread that creates it is its **main thread**: foreground tasks run there, and only
/// there [`is_main_thread`](Scheduler::is_main_thread) is `true`. That thread drives the
/// main-thread queue, either by inserting [`main_thread_source`](Self::main_thread_source) into
/// its `calloop::EventLoop`, or with [`run`](Self::run), or while it blocks on a future (a
/// blocked main thread keeps running foreground tasks, so blocking on one does not deadlock).
///
/// Dropping the scheduler stops and joins its threads and drops queued runnables without
/// running them (their tasks count as cancelled). Foreground runnables can only be dropped on
/// the main thread; if the scheduler is dropped elsewhere, those still queued are leaked (never
/// run, never dropped) unless the event source, still alive on the main thread, drops them.
///
/// ```
/// use scheduler::platform::LinuxScheduler;
/// use scheduler::{BackgroundExecutor, ForegroundExecutor};
///
/// let scheduler = LinuxScheduler::new().expect("start threads");
/// let background = BackgroundExecutor::new(scheduler.clone());
/// let foreground = ForegroundExecutor::new(scheduler.clone());
/// let sum = scheduler.run(async move {
///     let work = background.spawn(async { (1..=10u64).sum::<u64>() });
///     let ui = foreground.spawn(async { "main" });
///     (work.await, ui.await)
/// });
/// assert_eq!(sum.unwrap(), (55, "main"));
/// ```
pub struct LinuxScheduler {
    // Drop order matters: the timer thread stops first (it feeds the pool), then the pool.
    // Held for its `Drop` (stops and joins the thread).
    _timer_thread: TimerThread,
    pool: Pool,
    timer_queue: Arc<TimerQueue>,
    main: Arc<MainQueue>,
    /// Handed to every task (see `Scheduler::task_handle`): wakes go straight to the pool or
    /// the main queue without touching the scheduler's reference count.
    sink: Arc<LinuxTaskSink>,
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
        let timer_queue = TimerQueue::new();
        let pool = Pool::new(threads.max(1), "scheduler-worker", timer_queue.clone())?;
        let handle = pool.handle();
        let timers = TimerThread::new(
            "scheduler-timer",
            timer_queue.clone(),
            Box::new(move |runnable| handle.push(runnable)),
        )?;
        let main = Arc::new(MainQueue::new(parker::current_unparker()));
        let sink = Arc::new(LinuxTaskSink {
            pool: pool.handle(),
            main: main.clone(),
        });
        Ok(Arc::new(Self {
            pool,
            _timer_thread: timers,
            timer_queue,
            main,
            sink,
        }))
    }

    /// A calloop event source that runs this scheduler's foreground tasks; insert it into the
    /// main thread's `calloop::EventLoop`. Making a new one replaces the previous one.
    ///
    /// Panics if called off the main thread. Fails if the eventfd cannot be created.
    pub fn main_thread_source(&self) -> std::io::Result<MainThreadSource> {
        self.main.source()
    }

    /// Runs up to `limit` queued foreground tasks now, on the main thread; returns how many ran.
    /// For apps that drive the main thread with their own loop (not calloop).
    ///
    /// Panics if called off the main thread.
    pub fn run_main_thread_tasks(&self, limit: usize) -> usize {
        self.main.run_ready(limit)
    }

    /// Whether foreground tasks are waiting to run.
    pub fn has_main_thread_tasks(&self) -> bool {
        self.main.has_work()
    }

    /// How many background threads the pool runs.
    pub fn background_threads(&self) -> usize {
        self.pool.size()
    }

    /// How many `schedule_after` runnables are waiting for their deadline.
    pub fn pending_timers(&self) -> usize {
        self.timer_queue.len()
    }

    /// Whether the calling thread is one of this scheduler's background threads.
    pub fn is_background_thread(&self) -> bool {
        self.pool.is_worker_thread()
    }

    /// Blocks on the main thread: polls `future`, running foreground tasks while it waits.
    fn block_on_main_thread(
        &self,
        mut future: Pin<&mut dyn Future<Output = ()>>,
        timeout: Option<Duration>,
    ) -> bool {
        let deadline = timeout.map(|timeout| std::time::Instant::now() + timeout);
        let block_waker = BlockWaker::new(parker::current_unparker());
        let waker = Waker::from(block_waker.clone());
        let mut cx = Context::from_waker(&waker);
        let _blocking = self.main.enter_blocking();
        loop {
            if future.as_mut().poll(&mut cx).is_ready() {
                return true;
            }
            loop {
                let ran = self.main.run_ready(main_queue::DISPATCH_BATCH);
                if block_waker.take_wake() {
                    break;
                }
                if ran > 0 {
                    continue;
                }
                let remaining = match deadline {
                    None => None,
                    Some(deadline) => {
                        let now = std::time::Instant::now();
                        if now >= deadline {
                            return false;
                        }
                        Some(deadline - now)
                    }
                };
                parker::park(remaining);
            }
        }
    }
}

impl Scheduler for LinuxScheduler {
    fn schedule(&self, runnable: Runnable) {
        self.pool.push(runnable);
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.main.post(runnable);
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        self.timer_queue.insert(delay, runnable);
    }

    fn park(&self, timeout: Option<Duration>) -> bool {
        parker::park(timeout)
    }

    fn unparker(&self) -> Unparker {
        parker::current_unparker()
    }

    fn is_main_thread(&self) -> bool {
        self.main.is_main_thread()
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn num_cpus(&self) -> usize {
        self.pool.size()
    }

    fn next_task_id(&self) -> TaskId {
        task_ids::next()
    }

    fn task_handle(&self) -> Option<Arc<dyn TaskSink>> {
        Some(self.sink.clone())
    }

    fn timer_cancelled(&self, timer: &TaskMetadata) {
        self.timer_queue.cancel(timer.id());
    }

    fn block_on_future(
        &self,
        future: Pin<&mut dyn Future<Output = ()>>,
        timeout: Option<Duration>,
    ) -> bool {
        if self.is_main_thread() {
            self.block_on_main_thread(future, timeout)
        } else {
            crate::block::park_until_complete(self, future, timeout)
        }
    }
}

impl Drop for LinuxScheduler {
    fn drop(&mut self) {
        // Field drop order then stops and joins the pool (dropping its queued runnables) and the
        // timer thread (dropping pending timers). Foreground runnables are dropped here when on
        // the main thread; see `MainQueue`'s `Drop` for the other case.
        // From now on the main queue refuses posts (tasks may still hold it, through the sink).
        self.main.close();
        if self.main.is_main_thread() {
            while self.main.has_work() {
                self.main.discard_all();
            }
        }
    }
}
