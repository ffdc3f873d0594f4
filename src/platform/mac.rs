//! [`GcdScheduler`]: the production scheduler on macOS, on Grand Central Dispatch (the
//! `dispatch` crate): the global queue for background work, the main queue for the main thread,
//! `dispatch_after` for timers.

use crate::platform::guarded_run::run_guarded;
use crate::platform::thread_parker;
use crate::{Instant, Runnable, Scheduler, Unparker};
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
/// cannot withdraw submitted blocks). Foreground runnables are only ever run or dropped on the
/// main thread.
pub struct GcdScheduler {
    background: Queue,
    main: Queue,
    shared: Arc<Shared>,
}

/// What the submitted blocks share with the scheduler.
struct Shared {
    /// Cleared when the scheduler is dropped: blocks then drop their runnables.
    alive: AtomicBool,
    /// Foreground runnables; each main-queue block runs one, and a blocked main thread drains
    /// them in `park`.
    foreground: SegQueue<Runnable>,
    /// The main thread's unparker, known once the main thread first parks.
    main_unparker: OnceLock<Unparker>,
}

impl Shared {
    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
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
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last block or the scheduler releases this. Off the main thread, foreground
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
        Self {
            background: Queue::global(QueuePriority::Default),
            main: Queue::main(),
            shared: Arc::new(Shared {
                alive: AtomicBool::new(true),
                foreground: SegQueue::new(),
                main_unparker: OnceLock::new(),
            }),
        }
    }

    /// A block that runs `runnable` unless the scheduler is gone by then.
    fn background_block(&self, runnable: Runnable) -> impl FnOnce() + Send + 'static {
        let shared = self.shared.clone();
        move || {
            if shared.is_alive() {
                run_guarded(runnable);
            }
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
        self.background.exec_async(self.background_block(runnable));
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.shared.foreground.push(runnable);
        if let Some(unparker) = self.shared.main_unparker.get() {
            unparker.unpark();
        }
        let shared = self.shared.clone();
        self.main.exec_async(move || {
            shared.run_one_foreground();
        });
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        self.background
            .exec_after(delay, self.background_block(runnable));
    }

    fn park(&self, timeout: Option<Duration>) -> bool {
        if is_main_thread() {
            // Registered before draining, so a push after the drain unparks us.
            self.shared
                .main_unparker
                .get_or_init(thread_parker::unparker);
            let mut ran = 0;
            while ran < BATCH && self.shared.run_one_foreground() {
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
}

impl Drop for GcdScheduler {
    fn drop(&mut self) {
        self.shared.alive.store(false, Ordering::Release);
        if is_main_thread() {
            while self.shared.run_one_foreground() {}
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
