//! [`PlatformRuntime`]: timers, the clock, local spawning and fault points, as a Worker
//! handler sees them.

use super::faults::{FaultAction, FaultPoint, FaultPoints};
use crate::{Instant, Scheduler, SystemTime, Task};
use std::future::Future;
use std::panic::Location;
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

    /// What to do at `point`: [`FaultAction::Proceed`] unless faults are injected (the default,
    /// and always in a Worker). [`SchedulerRuntime`] asks the [`FaultPoints`] it was given.
    fn fault_point(&self, point: FaultPoint<'_>) -> FaultAction {
        let _ = point;
        FaultAction::Proceed
    }

    /// A `buggify` point (as madsim's `buggify!()` or FoundationDB's `BUGGIFY`): put it where
    /// your own code could misbehave on purpose in simulation, such as an extra delay or an
    /// early error. True with the configured probability
    /// ([`SimulationFaults::buggify`](super::SimulationFaults::buggify)) when the runtime comes
    /// from a [`SimulatedExecutionContext`](super::SimulatedExecutionContext) with faults on;
    /// false otherwise, and always false in a Worker (one check of an empty `Option`). Each
    /// firing is marked on the `TestScheduler`'s timeline with the call's location.
    ///
    /// ```
    /// use scheduler::cloud::{PlatformRuntime, SchedulerRuntime};
    /// use scheduler::TestScheduler;
    /// let runtime = SchedulerRuntime::new(TestScheduler::with_seed(0));
    /// assert!(!runtime.buggify()); // no fault points: never fires
    /// ```
    #[track_caller]
    fn buggify(&self) -> bool {
        let location = Location::caller();
        self.fault_point(FaultPoint::Buggify { location })
            .is_fault()
    }

    /// An outgoing call to another service (`target`, e.g. a URL), made by awaiting `request`.
    /// In simulation with faults on it may be slow: told to [stall](FaultAction::Stall), its
    /// answer comes that much later (the stall starts when `request` is done, so a call whose
    /// timer already runs is slowed by the whole stall). Otherwise it is `request` as is.
    fn subrequest<F: Future>(&self, target: &str, request: F) -> impl Future<Output = F::Output> {
        let stall = match self.fault_point(FaultPoint::Subrequest { target }) {
            FaultAction::Stall(stall) | FaultAction::StallAnswer(stall) => Some(stall),
            FaultAction::Proceed | FaultAction::Fail => None,
        };
        async move {
            let output = request.await;
            if let Some(stall) = stall {
                self.delay(stall).await;
            }
            output
        }
    }
}

/// [`PlatformRuntime`] over an `Arc<dyn Scheduler>`: `delay` is a scheduler [`Timer`](crate::Timer), `spawn`
/// is `spawn_foreground` (the Worker's only thread, or the test thread in simulation). Its
/// fault points proceed, unless it was made [`with_fault_points`](Self::with_fault_points)
/// (as [`SimulatedExecutionContext::runtime`](super::SimulatedExecutionContext::runtime) does).
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
    /// Who decides at fault points; `None`: every point proceeds.
    faults: Option<Arc<dyn FaultPoints + Send + Sync>>,
}

impl SchedulerRuntime {
    /// A runtime over `scheduler`; its fault points always proceed.
    pub fn new(scheduler: Arc<dyn Scheduler>) -> Self {
        Self {
            scheduler,
            faults: None,
        }
    }

    /// A runtime over `scheduler` whose [fault points](PlatformRuntime::fault_point) (including
    /// [`buggify`](PlatformRuntime::buggify) and [`subrequest`](PlatformRuntime::subrequest))
    /// ask `faults`.
    pub fn with_fault_points(
        scheduler: Arc<dyn Scheduler>,
        faults: Arc<dyn FaultPoints + Send + Sync>,
    ) -> Self {
        Self {
            scheduler,
            faults: Some(faults),
        }
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

    fn fault_point(&self, point: FaultPoint<'_>) -> FaultAction {
        match &self.faults {
            None => FaultAction::Proceed,
            Some(faults) => faults.decide(point),
        }
    }

    #[track_caller]
    fn buggify(&self) -> bool {
        match &self.faults {
            None => false,
            Some(faults) => {
                let location = Location::caller();
                faults.decide(FaultPoint::Buggify { location }).is_fault()
            }
        }
    }
}

impl std::fmt::Debug for SchedulerRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerRuntime")
            .field("fault_points", &self.faults.is_some())
            .finish_non_exhaustive()
    }
}
