//! [`PlatformRuntime`]: timers, the clock and local spawning, as a Worker handler sees them.

use crate::{Instant, Scheduler, SystemTime, Task};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// What handler code needs from the platform besides its [`ExecutionContext`]: waiting
/// ([`delay`](Self::delay)), the clock, and spawning local (`!Send`) subtasks.
///
/// [`SchedulerRuntime`] implements it over any [`Scheduler`]: the `WasmScheduler` in a Worker
/// (where a delay is a `setTimeout`), a [`TestScheduler`](crate::TestScheduler) in simulation
/// (where a delay is virtual time and the clock never moves while code runs).
///
/// [`ExecutionContext`]: super::ExecutionContext
pub trait PlatformRuntime {
    /// A future that completes after `duration` on the platform's clock.
    fn delay(&self, duration: Duration) -> impl Future<Output = ()> + 'static;

    /// The platform's clock.
    fn now(&self) -> Instant;

    /// The platform's wall clock (UTC), for timestamps and dates. The default reads the system
    /// clock (`Date.now()` in a Worker); [`SchedulerRuntime`] asks its scheduler, so in
    /// simulation it is the `TestScheduler`'s fixed instant plus virtual time.
    fn utc_now(&self) -> SystemTime {
        SystemTime::now()
    }

    /// Spawns a local (`!Send`) subtask. It belongs to the current request's session.
    #[track_caller]
    fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static;
}

/// [`PlatformRuntime`] over an `Arc<dyn Scheduler>`: `delay` is a scheduler [`Timer`](crate::Timer), `spawn`
/// is `spawn_foreground` (the Worker's only thread, or the test thread in simulation).
///
/// ```
/// use scheduler::cloud::{PlatformRuntime, SchedulerRuntime};
/// use scheduler::{Scheduler, TestScheduler};
/// use std::{sync::Arc, time::Duration};
///
/// let test = TestScheduler::with_seed(0);
/// let runtime = SchedulerRuntime::new(test.clone());
/// let task = runtime.spawn({
///     let runtime = runtime.clone();
///     async move {
///         runtime.delay(Duration::from_secs(2)).await;
///         "later"
///     }
/// });
/// let scheduler: Arc<dyn Scheduler> = test.clone();
/// assert_eq!(scheduler.block(task), "later");
/// assert_eq!(test.elapsed(), Duration::from_secs(2));
/// ```
#[derive(Clone)]
pub struct SchedulerRuntime {
    /// The scheduler `delay` and `spawn` use.
    scheduler: Arc<dyn Scheduler>,
}

impl SchedulerRuntime {
    /// A runtime over `scheduler`.
    pub fn new(scheduler: Arc<dyn Scheduler>) -> Self {
        Self { scheduler }
    }

    /// The scheduler behind this runtime.
    pub fn scheduler(&self) -> &Arc<dyn Scheduler> {
        &self.scheduler
    }
}

impl PlatformRuntime for SchedulerRuntime {
    #[track_caller]
    fn delay(&self, duration: Duration) -> impl Future<Output = ()> + 'static {
        self.scheduler.timer(duration)
    }

    fn now(&self) -> Instant {
        self.scheduler.now()
    }

    fn utc_now(&self) -> SystemTime {
        self.scheduler.utc_now()
    }

    #[track_caller]
    fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.scheduler.spawn_foreground(future)
    }
}

impl std::fmt::Debug for SchedulerRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerRuntime").finish_non_exhaustive()
    }
}
