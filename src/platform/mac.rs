//! [`GcdScheduler`]: the production scheduler on macOS, on Grand Central Dispatch (the
//! `dispatch` crate): the global queues for background work, `dispatch_after` for timers, and
//! the shared main-thread queue (`platform/main_thread.rs`) notified through GCD's main queue.
//!
//! Priorities pick the global queue: `dispatch` 0.2 names them by the legacy
//! `DISPATCH_QUEUE_PRIORITY_*` values, which GCD maps to QoS classes: high is user-initiated,
//! default is default, low is utility. (Realtime tasks get a thread of their own, raised to QoS
//! user-interactive; see `platform/thread_priority.rs`.)
//!
//! Everything that is not a GCD call lives in shared, tested code: the main-thread queue, the
//! parker, the drop-or-leak rule, panic containment. What is left here is a thin layer of
//! `exec_async` / `exec_after` calls, type-checked and linted for both Apple targets.

use crate::platform::desktop::desktop_scheduler_methods;
use crate::platform::desktop::main_thread::{BATCH, MainLoop, MainThreadQueue};
use crate::scheduler::{Role, handle_pair};
use crate::task::runnable::run_contained;
use crate::{Priority, Runnable, Scheduler};
use dispatch::{Queue, QueuePriority};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The macOS scheduler: GCD's global queues for background work (one per priority band: QoS
/// user-initiated, default, utility), its main queue for the main thread (drained by the app's
/// run loop, e.g. `NSApplication`/`CFRunLoop`, or while the main thread blocks),
/// `dispatch_after` for timers.
///
/// Dropping it (the last `Arc` the app holds; its tasks hold a separate handle, see
/// [`Scheduler::task_handle`]) makes every block it submitted drop its runnable instead of
/// running it (GCD cannot withdraw submitted blocks), and its tasks' later wakes are refused.
/// Foreground runnables are only ever run or dropped on the main thread (leaked if refused
/// elsewhere).
pub struct GcdScheduler {
    /// Where runnables go; shared by the app's handle, the tasks' handle and the blocks.
    queues: Arc<GcdQueues>,
    /// Which handle this is (see [`Scheduler::task_handle`]).
    role: Role<GcdScheduler>,
}

/// What both handles and the submitted blocks share.
struct GcdQueues {
    /// The global queues by band: QoS user-initiated (high), default (medium), utility (low).
    background: [Queue; 3],
    /// Cleared when the scheduler is dropped: blocks then drop their runnables, and wakes are
    /// refused.
    alive: AtomicBool,
    main: Arc<MainThreadQueue<GcdMainQueue>>,
}

/// GCD's main queue as the main loop of the shared main-thread queue.
struct GcdMainQueue(Queue);

impl MainLoop for GcdMainQueue {
    fn is_main_thread(&self) -> bool {
        is_main_thread()
    }

    fn notify(&self, queue: &Arc<MainThreadQueue<Self>>) {
        let queue = queue.clone();
        self.0.exec_async(move || {
            queue.run_batch(BATCH);
        });
    }
}

impl GcdQueues {
    /// The global queue of `runnable`'s priority.
    fn queue_for(&self, runnable: &Runnable) -> &Queue {
        let band = match runnable.metadata().priority() {
            Priority::High | Priority::Realtime => 0,
            Priority::Medium => 1,
            Priority::Low => 2,
        };
        &self.background[band]
    }

    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// A block that runs `runnable` unless the scheduler is gone by then.
    fn block(self: &Arc<Self>, runnable: Runnable) -> impl FnOnce() + Send + 'static {
        let queues = self.clone();
        move || {
            if queues.is_alive() {
                run_contained(runnable);
            }
        }
    }
}

impl GcdScheduler {
    /// A scheduler on the global queues (one per priority band) and the main queue.
    pub fn new() -> Arc<Self> {
        let queues = Arc::new(GcdQueues {
            background: [
                Queue::global(QueuePriority::High),
                Queue::global(QueuePriority::Default),
                Queue::global(QueuePriority::Low),
            ],
            alive: AtomicBool::new(true),
            main: MainThreadQueue::new(GcdMainQueue(Queue::main())),
        });
        handle_pair(|role| Self {
            queues: queues.clone(),
            role,
        })
    }

    /// Runs up to `limit` queued foreground tasks now, on the main thread; returns how many
    /// ran. For apps that drive the main thread with their own loop.
    ///
    /// Panics off the main thread.
    pub fn run_foreground_tasks(&self, limit: usize) -> usize {
        self.queues.main.run_batch(limit)
    }
}

impl Scheduler for GcdScheduler {
    fn schedule(&self, runnable: Runnable) {
        let queues = &self.queues;
        if queues.is_alive() {
            let queue = queues.queue_for(&runnable);
            queue.exec_async(queues.block(runnable));
        }
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        let queues = &self.queues;
        if queues.is_alive() {
            let queue = queues.queue_for(&runnable);
            queue.exec_after(delay, queues.block(runnable));
        }
    }

    desktop_scheduler_methods!(main: queues.main, role: role);
}

impl fmt::Debug for GcdScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcdScheduler")
            .field("owner", &self.role.is_owner())
            .finish_non_exhaustive()
    }
}

impl Drop for GcdScheduler {
    /// The owning handle: blocks already submitted drop their runnables from now on.
    fn drop(&mut self) {
        if self.role.release() {
            self.queues.alive.store(false, Ordering::Release);
            self.queues.main.close();
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

/// The process's scheduler for [`current`](crate::platform::current).
pub(super) fn default_scheduler() -> Arc<dyn Scheduler> {
    GcdScheduler::new()
}
