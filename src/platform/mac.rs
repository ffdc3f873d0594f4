//! [`GcdScheduler`]: the production scheduler on macOS, on Grand Central Dispatch (the
//! `dispatch` crate): the global queue for background work, the main queue for the main thread,
//! `dispatch_after` for timers.

use crate::platform::guarded_run::run_guarded;
use crate::platform::thread_parker;
use crate::{Instant, Runnable, Scheduler, TaskSink, Unparker};
use crossbeam_queue::SegQueue;
use dispatch::{Queue, QueuePriority};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How many foreground runnables a blocked main thread runs per `park`.
const BATCH: usize = 256;

/// The macOS scheduler: GCD's global queue for background work, its main queue for the main
/// thread (drained by the app's run loop, e.g. `NSApplication`/`CFRunLoop`), `dispatch_after`
/// for timers.
///
/// Dropping it makes every block it submitted drop its runnable instead of running it (GCD
/// cannot withdraw submitted blocks), and its tasks' later wakes are refused. Foreground
/// runnables are only ever run or dropped on the main thread (leaked if refused elsewhere).
pub struct GcdScheduler {
    queues: Arc<GcdQueues>,
    /// Handed to every task (see `Scheduler::task_handle`).
    sink: Arc<GcdSink>,
}

/// What the tasks hold: their wakes go straight to the queues, not through the scheduler's
/// reference count; refused once the scheduler is dropped.
struct GcdSink(Arc<GcdQueues>);

/// What the scheduler, its tasks (as their [`TaskSink`], see `Scheduler::task_handle`) and the
/// submitted blocks share.
struct GcdQueues {
    background: Queue,
    main: Queue,
    /// Cleared when the scheduler is dropped: blocks then drop their runnables, and wakes are
    /// refused.
    alive: AtomicBool,
    /// Foreground runnables; each main-queue block runs one, and a blocked main thread drains
    /// them in `park`.
    foreground: SegQueue<Runnable>,
    /// The main thread's unparker, known once the main thread first parks.
    main_unparker: OnceLock<Unparker>,
}

impl GcdQueues {
    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// A block that runs `runnable` unless the scheduler is gone by then.
    fn background_block(self: &Arc<Self>, runnable: Runnable) -> impl FnOnce() + Send + 'static {
        let queues = self.clone();
        move || {
            if queues.is_alive() {
                run_guarded(runnable);
            }
        }
    }

    /// Runs (or, once the scheduler is gone, drops) one foreground runnable. Main thread only.
    fn run_one_foreground(&self) -> bool {
        let Some(runnable) = self.foreground.pop() else {
            return false;
        };
        if self.is_alive() {
            run_guarded(runnable);
        } else {
            drop(runnable);
        }
        true
    }

    fn schedule_after(self: &Arc<Self>, delay: Duration, runnable: Runnable) {
        self.background
            .exec_after(delay, self.background_block(runnable));
    }
}

impl TaskSink for GcdSink {
    fn schedule(&self, runnable: Runnable) {
        let queues = &self.0;
        if queues.is_alive() {
            queues
                .background
                .exec_async(queues.background_block(runnable));
        }
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        let queues = &self.0;
        if !queues.is_alive() {
            // Refused: a foreground runnable may only be dropped on the main thread.
            if is_main_thread() {
                drop(runnable);
            } else {
                std::mem::forget(runnable);
            }
            return;
        }
        queues.foreground.push(runnable);
        if let Some(unparker) = queues.main_unparker.get() {
            unparker.unpark();
        }
        let block_queues = queues.clone();
        queues.main.exec_async(move || {
            block_queues.run_one_foreground();
        });
    }
}

impl Drop for GcdQueues {
    fn drop(&mut self) {
        // The last block, task or the scheduler releases this. Off the main thread, foreground
        // runnables must not be dropped (they panic): leak any that are left.
        let on_main = is_main_thread();
        while let Some(runnable) = self.foreground.pop() {
            if on_main {
                drop(runnable);
            } else {
                std::mem::forget(runnable);
            }
        }
    }
}

impl GcdScheduler {
    /// A scheduler on the default-priority global queue and the main queue.
    pub fn new() -> Self {
        let queues = Arc::new(GcdQueues {
            background: Queue::global(QueuePriority::Default),
            main: Queue::main(),
            alive: AtomicBool::new(true),
            foreground: SegQueue::new(),
            main_unparker: OnceLock::new(),
        });
        Self {
            sink: Arc::new(GcdSink(queues.clone())),
            queues,
        }
    }
}

impl Default for GcdScheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheduler for GcdScheduler {
    fn schedule(&self, runnable: Runnable) {
        self.sink.schedule(runnable);
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.sink.schedule_foreground(runnable);
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        self.queues.schedule_after(delay, runnable);
    }

    fn park(&self, timeout: Option<Duration>) -> bool {
        if is_main_thread() {
            // Registered before draining, so a push after the drain unparks us.
            self.queues
                .main_unparker
                .get_or_init(thread_parker::unparker);
            let mut ran = 0;
            while ran < BATCH && self.queues.run_one_foreground() {
                ran += 1;
            }
            if ran > 0 {
                return true;
            }
        }
        thread_parker::park(timeout)
    }

    fn unparker(&self) -> Unparker {
        thread_parker::unparker()
    }

    fn is_main_thread(&self) -> bool {
        is_main_thread()
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn task_handle(&self) -> Option<Arc<dyn TaskSink>> {
        Some(self.sink.clone())
    }
}

impl Drop for GcdScheduler {
    fn drop(&mut self) {
        self.queues.alive.store(false, Ordering::Release);
        if is_main_thread() {
            while self.queues.run_one_foreground() {}
        }
    }
}

/// Whether the calling thread is the process's main thread.
fn is_main_thread() -> bool {
    // SAFETY: `pthread_main_np` takes no arguments, has no preconditions and is always linked
    // (libSystem), so declaring it `safe` is sound.
    unsafe extern "C" {
        /// libSystem: non-zero on the main thread.
        safe fn pthread_main_np() -> std::ffi::c_int;
    }
    pthread_main_np() != 0
}
