//! Seeded faults in the simulated Worker: the configuration ([`SimulationFaults`], all off by
//! default), the decisions at fault points ([`SimulatedFaultPoints`]), and the record of what
//! was injected ([`FaultCounts`], [`InjectedFault`]).
//!
//! Every decision is a draw from the `TestScheduler`'s seeded generator
//! (`TestScheduler::random_range`, recorded in replay files), made only when its fault's rate is
//! above 0: with faults off nothing is drawn and a seed runs exactly as without this module.
//! Every injected fault is counted, listed in its session's report and marked on the timeline
//! ([`InstantKind::Fault`]).

use super::fault_config::{FaultState, SimulationFaults};
use super::fault_record::{FaultCounts, FaultKind, InjectedFault};
use super::inner::Inner;
use crate::cloud::{FaultAction, FaultPoint, FaultPoints};
use crate::{InstantKind, SessionId, TestScheduler, session};
use std::ops::RangeInclusive;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The simulation's [`FaultPoints`]: hand it to the store wrapper of your app (from
/// [`SimulatedExecutionContext::fault_points`](super::SimulatedExecutionContext::fault_points));
/// the context's [`runtime`](super::SimulatedExecutionContext::runtime) asks it too. Decides by
/// the context's current [`SimulationFaults`]; after the context is gone, everything proceeds.
#[derive(Clone, Debug)]
pub struct SimulatedFaultPoints {
    pub(super) inner: Weak<Inner>,
}

impl FaultPoints for SimulatedFaultPoints {
    fn decide(&self, point: FaultPoint<'_>) -> FaultAction {
        match self.inner.upgrade() {
            Some(inner) => inner.decide(point),
            None => FaultAction::Proceed,
        }
    }
}

/// Chances are drawn as `random_range(0..CHANCE_SCALE) < rate * CHANCE_SCALE`.
const CHANCE_SCALE: u64 = 1_000_000;

impl Inner {
    pub(super) fn fault_config(&self) -> SimulationFaults {
        self.faults_lock().config.clone()
    }

    fn faults_lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn fault_counts(&self) -> FaultCounts {
        self.faults_lock().counts
    }

    /// True with probability `rate`; draws nothing when `rate` is 0.
    pub(super) fn chance(&self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        let threshold = (rate * CHANCE_SCALE as f64) as u64;
        self.seeded().random_range(0..CHANCE_SCALE) < threshold
    }

    /// A time drawn from `range`, in whole milliseconds.
    pub(super) fn draw_time(&self, range: &RangeInclusive<Duration>) -> Duration {
        let low = range.start().as_millis() as u64;
        let high = range.end().as_millis() as u64;
        Duration::from_millis(self.seeded().random_range(low..high.saturating_add(1)))
    }

    fn seeded(&self) -> &TestScheduler {
        self.test_scheduler()
            .expect("set_faults checked that the scheduler is a TestScheduler")
    }

    fn decide(&self, point: FaultPoint<'_>) -> FaultAction {
        let config = self.fault_config();
        match point {
            FaultPoint::Store { operation, key } => {
                if self.chance(config.store_failure) {
                    let what = format!("{operation} {key}: failed");
                    self.injected(FaultKind::StoreFailure, session::current(), what);
                    return FaultAction::Fail;
                }
                if !self.chance(config.store_stall) {
                    return FaultAction::Proceed;
                }
                let stall = self.draw_time(&config.store_stall_time);
                let (action, when) = if self.chance(config.lost_answer) {
                    (FaultAction::StallAnswer(stall), "after it reached")
                } else {
                    (FaultAction::Stall(stall), "before")
                };
                let what = format!("{operation} {key}: stalled {stall:?} {when} the store");
                self.injected(FaultKind::StoreStall, session::current(), what);
                action
            }
            FaultPoint::Subrequest { target } => {
                if !self.chance(config.slow_subrequest) {
                    return FaultAction::Proceed;
                }
                let delay = self.draw_time(&config.subrequest_delay);
                let what = format!("{target}: delayed {delay:?}");
                self.injected(FaultKind::SlowSubrequest, session::current(), what);
                FaultAction::Stall(delay)
            }
            FaultPoint::Buggify { location } => {
                if !self.chance(config.buggify) {
                    return FaultAction::Proceed;
                }
                self.injected(FaultKind::Buggify, session::current(), location.to_string());
                FaultAction::Fail
            }
        }
    }

    /// Records an injected fault: counted, listed in `session`'s report (if it is one of this
    /// context's), and marked on the timeline (on the session's track).
    pub(super) fn injected(&self, kind: FaultKind, session: Option<SessionId>, what: String) {
        self.faults_lock().counts.count(kind);
        let at = self.elapsed();
        let name = format!("{kind}: {what}");
        if let Some(test) = self.test_scheduler() {
            crate::session::with(session, || {
                test.record_instant(InstantKind::Fault, &name, &[]);
            });
        }
        if let Some(session) = session
            && let Some(state) = self.lock().get_mut(session)
        {
            state.faults.push(InjectedFault { kind, what, at });
        }
    }
}

/// Checks `faults` and that the context can draw them (a `TestScheduler`), then sets them.
pub(super) fn set(inner: &Arc<Inner>, faults: SimulationFaults) {
    if let Err(problem) = faults.validate() {
        panic!("SimulatedExecutionContext::set_faults: {problem}");
    }
    assert!(
        !faults.is_active() || inner.test_scheduler().is_some(),
        "SimulatedExecutionContext::set_faults: injecting faults needs a TestScheduler behind \
         the context (its seeded generator decides every fault)"
    );
    inner.faults_lock().config = faults;
}

impl super::SimulatedExecutionContext {
    /// Injects `faults` from now on (replacing the previous configuration; the default injects
    /// nothing). Every decision is drawn from the `TestScheduler`'s seeded generator, so a seed
    /// (or a replay file) replays the same faults. Panics if a rate is not between 0 and 1, or
    /// if faults are on and the scheduler is not a [`TestScheduler`].
    ///
    /// Applied by the context itself: client disconnects and isolate resets (drawn per
    /// [`serve`](Self::serve)). Applied where the app asks: store faults (its store wrapper
    /// asks [`fault_points`](Self::fault_points)), slow subrequests and `buggify` (through the
    /// [`runtime`](Self::runtime)).
    ///
    /// ```
    /// use scheduler::cloud::{PlatformRuntime, SimulatedExecutionContext, SimulationFaults};
    /// use scheduler::TestScheduler;
    ///
    /// let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(3));
    /// ctx.set_faults(SimulationFaults { buggify: 0.5, ..SimulationFaults::default() });
    /// let runtime = ctx.runtime();
    /// let fired = (0..100).filter(|_| runtime.buggify()).count();
    /// assert!((30..70).contains(&fired));
    /// assert_eq!(ctx.fault_counts().buggify, fired as u64);
    /// ```
    pub fn set_faults(&self, faults: SimulationFaults) {
        set(&self.inner, faults);
    }

    /// The faults injected from now on.
    pub fn faults(&self) -> SimulationFaults {
        self.inner.fault_config()
    }

    /// The context's fault points, for the app's own store wrapper: ask
    /// [`decide`](FaultPoints::decide) with [`FaultPoint::Store`] before each call.
    pub fn fault_points(&self) -> SimulatedFaultPoints {
        SimulatedFaultPoints {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// How many faults of each kind were injected so far (each session's are also in its
    /// [`SessionReport::faults`](super::SessionReport::faults)).
    pub fn fault_counts(&self) -> FaultCounts {
        self.inner.fault_counts()
    }

    /// A new request's faults, drawn when it is served: when it resets the isolate, and the
    /// timer of its client's disconnect.
    pub(super) fn draw_request_faults(&self) -> RequestFaults {
        let config = self.inner.fault_config();
        let reset_after = self.inner.chance(config.isolate_reset).then(|| {
            self.inner
                .draw_time(&(Duration::ZERO..=config.reset_within))
        });
        let disconnect = self.inner.chance(config.client_disconnect).then(|| {
            let after = self
                .inner
                .draw_time(&(Duration::ZERO..=config.disconnect_within));
            // The client's clock, not the request's: the timer belongs to no session.
            let _session = session::enter(None);
            self.inner.scheduler.timer(after)
        });
        RequestFaults {
            reset_after,
            disconnect,
        }
    }
}

/// The faults a request drew when it was served.
pub(super) struct RequestFaults {
    /// Reset the isolate this long after the request started.
    pub(super) reset_after: Option<Duration>,
    /// Fires when the client disconnects.
    pub(super) disconnect: Option<crate::Timer>,
}
