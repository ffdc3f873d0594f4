//! [`TestScheduler`]: the handle a test holds, its two roles, and its conveniences (spawning,
//! blocking, executors).

use super::config::TestSchedulerConfig;
use super::context;
use super::engine::Engine;
use super::strategy::Strategy;
use crate::scheduler::{Role, handle_pair};
use crate::{BackgroundExecutor, ForegroundExecutor, Scheduler, Task, Timer};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A deterministic [`Scheduler`] for tests.
///
/// Everything runs on the thread that created it (the test thread); calling its driving methods
/// (`tick`, `run_until_parked`, `block`, …) from another thread is a clear panic. Wakes, spawns
/// and drops from other OS threads are accepted but, unless parking is allowed, reported as
/// non-determinism at the next tick (or when the scheduler is dropped). A task that panics with
/// nobody awaiting it fails the test the same way.
///
/// One handle is all a test needs: [`many`](Self::many) runs an async test body over many
/// seeds, and the handle spawns, blocks, makes executors and drives the simulation.
///
/// ```
/// use scheduler::TestScheduler;
/// use std::sync::{Arc, Mutex};
///
/// let orders = TestScheduler::many(20, async |test| {
///     let log = Arc::new(Mutex::new(Vec::new()));
///     let tasks: Vec<_> = (0..5)
///         .map(|i| {
///             let log = log.clone();
///             test.spawn(async move { log.lock().unwrap().push(i) })
///         })
///         .collect();
///     futures::future::join_all(tasks).await;
///     let order = log.lock().unwrap().clone();
///     order
/// });
/// assert!(orders.iter().any(|order| order != &orders[0]), "seeds interleave differently");
/// ```
pub struct TestScheduler {
    pub(super) engine: Arc<Engine>,
    /// Which handle this is (see [`Scheduler::task_handle`]): dropping the test's closes the
    /// engine; its tasks hold the other one.
    pub(super) role: Role<TestScheduler>,
}

impl TestScheduler {
    /// Where the fake wall clock ([`utc_now`](Scheduler::utc_now)) of every TestScheduler
    /// starts, since the Unix epoch: 2026-01-01T00:00:00Z. It moves with virtual time, and
    /// [`set_utc_now`](Self::set_utc_now) moves it.
    pub const UTC_START: Duration = Duration::from_secs(1_767_225_600);

    /// A scheduler configured by `config`. The calling thread becomes its test (main) thread.
    ///
    /// Created while the seed harness ([`many`](Self::many), [`run_seeds`](super::run_seeds))
    /// runs a seed on this thread, it also follows the harness: `STRATEGY=` replaces
    /// `config.strategy`, a `REPLAY=` file's choices are followed, and its choices are recorded
    /// for a replay file.
    pub fn new(mut config: TestSchedulerConfig) -> Arc<Self> {
        let directions = context::directions(&mut config);
        let engine = Arc::new(Engine::new(config, directions));
        context::register(&engine);
        handle_pair(|role| Self {
            engine: engine.clone(),
            role,
        })
    }

    /// A scheduler with the default configuration and `seed`.
    pub fn with_seed(seed: u64) -> Arc<Self> {
        Self::new(TestSchedulerConfig::with_seed(seed))
    }

    /// This scheduler as the `Arc<dyn Scheduler>` that the spawn helpers and executors take.
    pub fn as_dyn(self: &Arc<Self>) -> Arc<dyn Scheduler> {
        self.clone()
    }

    /// A [`BackgroundExecutor`] on this scheduler.
    pub fn background(self: &Arc<Self>) -> BackgroundExecutor {
        BackgroundExecutor::new(self.as_dyn())
    }

    /// A [`ForegroundExecutor`] on this scheduler (tasks of the session current now, if any).
    pub fn foreground(self: &Arc<Self>) -> ForegroundExecutor {
        ForegroundExecutor::new(self.as_dyn())
    }

    /// Spawns a background task (see `spawn` on `dyn Scheduler`).
    #[track_caller]
    pub fn spawn<F>(self: &Arc<Self>, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.as_dyn().spawn(future)
    }

    /// Spawns a `!Send` task on the test thread, which is the main thread (see
    /// `spawn_foreground` on `dyn Scheduler`).
    #[track_caller]
    pub fn spawn_foreground<F>(self: &Arc<Self>, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.as_dyn().spawn_foreground(future)
    }

    /// A future that completes after `duration` of virtual time.
    #[track_caller]
    pub fn timer(self: &Arc<Self>, duration: Duration) -> Timer {
        self.as_dyn().timer(duration)
    }

    /// Runs the simulation until `future` completes, and returns its output (see `block` on
    /// `dyn Scheduler`): a future that can never complete panics with a deadlock report.
    pub fn block<F: Future>(&self, future: F) -> F::Output {
        (self as &dyn Scheduler).block(future)
    }

    /// The seed this scheduler was made with.
    pub fn seed(&self) -> u64 {
        self.engine.seed
    }

    /// The exploration strategy it follows.
    pub fn strategy(&self) -> Strategy {
        self.engine.strategy
    }

    /// Virtual time since the scheduler was created.
    pub fn elapsed(&self) -> Duration {
        self.engine.elapsed()
    }
}

impl fmt::Debug for TestScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestScheduler")
            .field("seed", &self.engine.seed)
            .field("strategy", &self.engine.strategy)
            .field("elapsed", &self.engine.elapsed())
            .field("owner", &self.role.is_owner())
            .finish_non_exhaustive()
    }
}

impl Drop for TestScheduler {
    /// Dropping the handle the test holds closes the engine: queued runnables and timers are
    /// dropped (cancelling their tasks), later wakes are dropped too, and a failure not yet
    /// raised (a wake from another thread, a panic nobody awaited) panics here.
    fn drop(&mut self) {
        if self.role.release() {
            self.engine.close();
        }
    }
}
