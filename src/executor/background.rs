//! [`BackgroundExecutor`]: spawns `Send` work on background threads.

use crate::{DedicatedExecutor, Instant, Priority, Scheduler, SystemTime, Task, TaskLabel, Timer};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Spawns `Send` futures on background threads, and blocks on futures.
///
/// With the `test-support` feature it also has the calls that code under test makes on a
/// [`TestScheduler`](crate::TestScheduler) (`tick`, `run_until_parked`, `advance_clock`,
/// `simulate_random_delay`, `deprioritize`; see `test_support.rs`). They are not part of a
/// production build: calling them there is a compile error.
///
/// ```
/// use scheduler::{BackgroundExecutor, TestScheduler};
/// let executor = BackgroundExecutor::new(TestScheduler::with_seed(0));
/// let tasks: Vec<_> = (0..4u64).map(|i| executor.spawn(async move { i * i })).collect();
/// let squares: Vec<u64> = executor.block(futures::future::join_all(tasks));
/// assert_eq!(squares, [0, 1, 4, 9]);
/// ```
#[derive(Clone)]
pub struct BackgroundExecutor {
    /// Shared with every executor and task handle of the same scheduler.
    scheduler: Arc<dyn Scheduler>,
}

impl BackgroundExecutor {
    /// An executor over `scheduler`.
    pub fn new(scheduler: Arc<dyn Scheduler>) -> Self {
        Self { scheduler }
    }

    /// The scheduler behind this executor.
    pub fn scheduler(&self) -> &Arc<dyn Scheduler> {
        &self.scheduler
    }

    /// Spawns `future` on a background thread.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.scheduler.spawn(future)
    }

    /// Spawns `future` with `priority` instead of the inherited one (see [`Priority`]).
    #[track_caller]
    pub fn spawn_with_priority<F>(&self, priority: Priority, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.scheduler.spawn_with_priority(priority, future)
    }

    /// Runs `!Send` work on a dedicated executor: an OS thread of its own with a local queue,
    /// where it may block (see `spawn_dedicated` on `dyn Scheduler`). `make` runs on that thread
    /// and returns the root future; dropping the returned task cancels it.
    #[track_caller]
    pub fn spawn_dedicated<M, F>(&self, make: M) -> Task<F::Output>
    where
        M: FnOnce(DedicatedExecutor) -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.scheduler.spawn_dedicated(make)
    }

    /// Spawns `future` with `label` attached.
    #[track_caller]
    pub fn spawn_labeled<F>(&self, label: TaskLabel, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.scheduler.spawn_labeled(label, future)
    }

    /// A future that completes after `duration`.
    #[track_caller]
    pub fn timer(&self, duration: Duration) -> Timer {
        self.scheduler.timer(duration)
    }

    /// Blocks the calling thread until `future` completes.
    #[track_caller]
    pub fn block<F: Future>(&self, future: F) -> F::Output {
        self.scheduler.block(future)
    }

    /// Blocks until `future` completes or `timeout` passes; on time-out returns the future.
    #[allow(clippy::type_complexity)]
    #[track_caller]
    pub fn block_with_timeout<F: Future>(
        &self,
        timeout: Duration,
        future: F,
    ) -> Result<F::Output, Pin<Box<F>>> {
        self.scheduler.block_with_timeout(timeout, future)
    }

    /// How many tasks can make progress at once.
    pub fn num_cpus(&self) -> usize {
        self.scheduler.num_cpus()
    }

    /// The scheduler's clock (monotonic).
    pub fn now(&self) -> Instant {
        self.scheduler.now()
    }

    /// The scheduler's wall clock (UTC; see [`Scheduler::utc_now`]).
    pub fn utc_now(&self) -> SystemTime {
        self.scheduler.utc_now()
    }

    /// Whether the caller runs on the main thread.
    pub fn is_main_thread(&self) -> bool {
        self.scheduler.is_main_thread()
    }
}

impl fmt::Debug for BackgroundExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundExecutor").finish_non_exhaustive()
    }
}
