//! [`BackgroundExecutor`]: spawns `Send` work on background threads.

use crate::{Instant, Scheduler, Task, TaskLabel, TestScheduler, Timer};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Spawns `Send` futures on background threads, and blocks on futures.
///
/// The test-only calls ([`deprioritize`](Self::deprioritize), [`tick`](Self::tick),
/// [`run_until_parked`](Self::run_until_parked), [`advance_clock`](Self::advance_clock),
/// [`simulate_random_delay`](Self::simulate_random_delay)) reach the
/// [`TestScheduler`] when there is one. On a production scheduler `deprioritize` and
/// `simulate_random_delay` do nothing, and the others panic: they only mean something in a test.
///
/// ```
/// use scheduler::{BackgroundExecutor, TestScheduler};
/// use std::sync::Arc;
/// let executor = BackgroundExecutor::new(Arc::new(TestScheduler::with_seed(0)));
/// let tasks: Vec<_> = (0..4u64).map(|i| executor.spawn(async move { i * i })).collect();
/// let squares: Vec<u64> = executor.block(futures::future::join_all(tasks));
/// assert_eq!(squares, [0, 1, 4, 9]);
/// ```
#[derive(Clone)]
pub struct BackgroundExecutor {
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
    pub fn block<F: Future>(&self, future: F) -> F::Output {
        self.scheduler.block(future)
    }

    /// Blocks until `future` completes or `timeout` passes; on time-out returns the future.
    #[allow(clippy::type_complexity)]
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

    /// The scheduler's clock.
    pub fn now(&self) -> Instant {
        self.scheduler.now()
    }

    /// Whether the caller runs on the main thread.
    pub fn is_main_thread(&self) -> bool {
        self.scheduler.is_main_thread()
    }

    fn test_scheduler(&self) -> Option<&TestScheduler> {
        self.scheduler.downcast_ref::<TestScheduler>()
    }

    fn require_test_scheduler(&self, call: &str) -> &TestScheduler {
        self.test_scheduler().unwrap_or_else(|| {
            panic!("BackgroundExecutor::{call} needs a TestScheduler; this executor runs on a production scheduler")
        })
    }

    /// Test only: makes `label`'s tasks run last. No-op on production schedulers.
    pub fn deprioritize(&self, label: TaskLabel) {
        if let Some(test) = self.test_scheduler() {
            test.deprioritize(label);
        }
    }

    /// Test only: runs one ready task. Panics on production schedulers.
    pub fn tick(&self) -> bool {
        self.require_test_scheduler("tick").tick()
    }

    /// Test only: runs ready tasks until none is left. Panics on production schedulers.
    pub fn run_until_parked(&self) {
        self.require_test_scheduler("run_until_parked")
            .run_until_parked();
    }

    /// Test only: moves virtual time forward. Panics on production schedulers.
    pub fn advance_clock(&self, duration: Duration) {
        self.require_test_scheduler("advance_clock")
            .advance_clock(duration);
    }

    /// Test only: yields a random number of times. Completes at once on production schedulers.
    pub fn simulate_random_delay(&self) -> impl Future<Output = ()> + Send + 'static + use<> {
        let delay: Option<Pin<Box<dyn Future<Output = ()> + Send>>> = self
            .test_scheduler()
            .map(|test| Box::pin(test.simulate_random_delay()) as _);
        async move {
            if let Some(delay) = delay {
                delay.await;
            }
        }
    }
}
