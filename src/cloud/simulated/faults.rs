//! Seeded faults in the simulated Worker: the configuration ([`SimulationFaults`], all off by
//! default), the decisions at fault points ([`SimulatedFaultPoints`]), and the record of what
//! was injected ([`FaultCounts`], [`InjectedFault`]).
//!
//! Every decision is a draw from the `TestScheduler`'s seeded generator
//! (`TestScheduler::random_range`, recorded in replay files), made only when its fault's rate is
//! above 0: with faults off nothing is drawn and a seed runs exactly as without this module.
//! Every injected fault is counted, listed in its session's report and marked on the timeline
//! ([`InstantKind::Fault`]).

use crate::TestScheduler;
use crate::cloud::{FaultAction, FaultPoint};
use std::fmt;
use std::ops::{AddAssign, RangeInclusive};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Which faults a [`SimulatedExecutionContext`](super::SimulatedExecutionContext) injects, and
/// how often. Every rate is a probability (0 to 1); the default injects nothing. Set it with
/// [`set_faults`](super::SimulatedExecutionContext::set_faults).
///
/// ```
/// use scheduler::cloud::SimulationFaults;
/// use std::time::Duration;
/// let faults = SimulationFaults {
///     store_failure: 0.05,
///     client_disconnect: 0.1,
///     disconnect_within: Duration::from_millis(50),
///     ..SimulationFaults::default()
/// };
/// assert!(faults.validate().is_ok());
/// assert!(!SimulationFaults::default().is_active());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationFaults {
    /// Per store call ([`FaultPoint::Store`](crate::cloud::FaultPoint::Store)): the share that
    /// fails without reaching the store.
    pub store_failure: f64,
    /// Per store call not failed: the share that stalls for a time drawn from
    /// [`store_stall_time`](Self::store_stall_time) (past the app's deadline when that is long).
    pub store_stall: f64,
    /// How long a stalled store call waits (default 1 s to 40 s: past a 5 s store timeout, and
    /// sometimes past the 30 s `wait_until` limit).
    pub store_stall_time: RangeInclusive<Duration>,
    /// Per store stall: the share that comes after the call took effect (its answer is late:
    /// [`FaultAction::StallAnswer`](crate::cloud::FaultAction::StallAnswer)) rather than before it.
    pub lost_answer: f64,
    /// Per [subrequest](crate::cloud::PlatformRuntime::subrequest): the share that is slow, by
    /// a time drawn from [`subrequest_delay`](Self::subrequest_delay).
    pub slow_subrequest: f64,
    /// How much a slow subrequest is delayed (default 1 s to 40 s).
    pub subrequest_delay: RangeInclusive<Duration>,
    /// Per request: the share whose client disconnects, at a time drawn from
    /// `0..=disconnect_within` after the request started. If the handler is still running
    /// then, its future is dropped and the request fails with
    /// [`RequestFailure::ClientDisconnected`](super::RequestFailure::ClientDisconnected); its
    /// `wait_until` work keeps going and the session ends normally.
    pub client_disconnect: f64,
    /// The latest a client disconnects, after its request started (default 1 s).
    pub disconnect_within: Duration,
    /// Per request: the share that resets the isolate at a time drawn from
    /// `0..=reset_within` after the request started (if the simulation still runs then; a
    /// reset is counted when it happens). Every request in flight then fails (see
    /// [`reset_isolate`](super::SimulatedExecutionContext::reset_isolate)).
    pub isolate_reset: f64,
    /// The latest a reset comes, after the request that drew it started (default 30 s).
    pub reset_within: Duration,
    /// Per [`buggify`](crate::cloud::PlatformRuntime::buggify) call: the share that fires.
    pub buggify: f64,
    /// Per storage read of a simulated Durable Object, and per flush that confirms its writes:
    /// the share that fails. The object is reset, as on the platform (see
    /// [`SimulatedDurableObjectNamespace`](super::SimulatedDurableObjectNamespace)).
    pub object_storage_failure: f64,
    /// Per Durable Object event (a fetch, an alarm run): the share that resets its object at a
    /// time drawn from `0..=object_reset_within` after the event was sent.
    pub object_reset: f64,
    /// The latest an object reset comes, after the event that drew it was sent (default 1 s).
    pub object_reset_within: Duration,
    /// Per Durable Object event: the share that finds its object evicted before it (if the
    /// object was idle): its in-memory state is lost, its storage kept.
    pub object_eviction: f64,
    /// Per alarm run of a Durable Object: the share that counts as failed after its handler
    /// returned (retried with backoff: alarms are delivered at least once).
    pub alarm_failure: f64,
}

impl Default for SimulationFaults {
    fn default() -> Self {
        Self {
            store_failure: 0.0,
            store_stall: 0.0,
            store_stall_time: Duration::from_secs(1)..=Duration::from_secs(40),
            lost_answer: 0.0,
            slow_subrequest: 0.0,
            subrequest_delay: Duration::from_secs(1)..=Duration::from_secs(40),
            client_disconnect: 0.0,
            disconnect_within: Duration::from_secs(1),
            isolate_reset: 0.0,
            reset_within: Duration::from_secs(30),
            buggify: 0.0,
            object_storage_failure: 0.0,
            object_reset: 0.0,
            object_reset_within: Duration::from_secs(1),
            object_eviction: 0.0,
            alarm_failure: 0.0,
        }
    }
}

impl SimulationFaults {
    /// Every fault at `rate` (and half of the store stalls after the call took effect), with
    /// the default times.
    pub fn all(rate: f64) -> Self {
        Self {
            store_failure: rate,
            store_stall: rate,
            lost_answer: 0.5,
            slow_subrequest: rate,
            client_disconnect: rate,
            isolate_reset: rate,
            buggify: rate,
            object_storage_failure: rate,
            object_reset: rate,
            object_eviction: rate,
            alarm_failure: rate,
            ..Self::default()
        }
    }

    /// Whether anything is injected.
    pub fn is_active(&self) -> bool {
        self.rates().iter().any(|(_, rate)| *rate > 0.0)
    }

    /// Checks that every rate is between 0 and 1 and no time range is empty.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in self.rates() {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("`{name}` must be between 0 and 1, found {rate}"));
            }
        }
        for (name, range) in [
            ("store_stall_time", &self.store_stall_time),
            ("subrequest_delay", &self.subrequest_delay),
        ] {
            if range.is_empty() {
                return Err(format!("`{name}` is empty: {range:?}"));
            }
        }
        Ok(())
    }

    fn rates(&self) -> [(&'static str, f64); 11] {
        [
            ("store_failure", self.store_failure),
            ("store_stall", self.store_stall),
            ("lost_answer", self.lost_answer),
            ("slow_subrequest", self.slow_subrequest),
            ("client_disconnect", self.client_disconnect),
            ("isolate_reset", self.isolate_reset),
            ("buggify", self.buggify),
            ("object_storage_failure", self.object_storage_failure),
            ("object_reset", self.object_reset),
            ("object_eviction", self.object_eviction),
            ("alarm_failure", self.alarm_failure),
        ]
    }
}

// ---- what was injected ----------------------------------------------------------------------
// What the simulation injected: [`FaultKind`], per-kind [`FaultCounts`] (context-wide, and
// summed over seeds by a test), and each [`InjectedFault`] of a session.

/// A kind of injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FaultKind {
    /// A store call failed without reaching the store.
    StoreFailure,
    /// A store call stalled (before reaching the store, or after: a late answer).
    StoreStall,
    /// A subrequest was slow.
    SlowSubrequest,
    /// A client disconnected while its handler ran: the handler was dropped.
    ClientDisconnect,
    /// The isolate was reset: its in-memory state was lost and its requests in flight failed.
    IsolateReset,
    /// A `buggify` point fired.
    Buggify,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::StoreFailure => "store failure",
            Self::StoreStall => "store stall",
            Self::SlowSubrequest => "slow subrequest",
            Self::ClientDisconnect => "client disconnect",
            Self::IsolateReset => "isolate reset",
            Self::Buggify => "buggify",
        })
    }
}

/// How many faults of each kind were injected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Store calls failed.
    pub store_failures: u64,
    /// Store calls stalled.
    pub store_stalls: u64,
    /// Subrequests slowed down.
    pub slow_subrequests: u64,
    /// Handlers dropped because their client disconnected.
    pub client_disconnects: u64,
    /// Isolate resets.
    pub isolate_resets: u64,
    /// `buggify` points that fired.
    pub buggify: u64,
}

impl FaultCounts {
    /// Every fault injected.
    pub fn total(&self) -> u64 {
        self.store_failures
            + self.store_stalls
            + self.slow_subrequests
            + self.client_disconnects
            + self.isolate_resets
            + self.buggify
    }

    pub(crate) fn count(&mut self, kind: FaultKind) {
        let counter = match kind {
            FaultKind::StoreFailure => &mut self.store_failures,
            FaultKind::StoreStall => &mut self.store_stalls,
            FaultKind::SlowSubrequest => &mut self.slow_subrequests,
            FaultKind::ClientDisconnect => &mut self.client_disconnects,
            FaultKind::IsolateReset => &mut self.isolate_resets,
            FaultKind::Buggify => &mut self.buggify,
        };
        *counter += 1;
    }
}

impl AddAssign for FaultCounts {
    fn add_assign(&mut self, other: Self) {
        self.store_failures += other.store_failures;
        self.store_stalls += other.store_stalls;
        self.slow_subrequests += other.slow_subrequests;
        self.client_disconnects += other.client_disconnects;
        self.isolate_resets += other.isolate_resets;
        self.buggify += other.buggify;
    }
}

impl fmt::Display for FaultCounts {
    /// `41 faults: 12 store failures, 9 store stalls, 5 slow subrequests, 6 client disconnects,
    /// 1 isolate reset, 8 buggify`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(
            f,
            "{}: {}, {}, {}, {}, {}, {} buggify",
            plural(self.total(), "fault", "faults"),
            plural(self.store_failures, "store failure", "store failures"),
            plural(self.store_stalls, "store stall", "store stalls"),
            plural(self.slow_subrequests, "slow subrequest", "slow subrequests"),
            plural(
                self.client_disconnects,
                "client disconnect",
                "client disconnects"
            ),
            plural(self.isolate_resets, "isolate reset", "isolate resets"),
            self.buggify
        )
    }
}

/// One fault injected into a session, for its [`SessionReport`](super::SessionReport).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedFault {
    /// Its kind.
    pub kind: FaultKind,
    /// What it hit: `put count:click: stalled 7.2s before the store`.
    pub what: String,
    /// When: virtual time since the context was created.
    pub at: Duration,
}

impl fmt::Display for InjectedFault {
    /// `store stall at 1.2s: put count:click: stalled 7.2s before the store`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {:?}: {}", self.kind, self.at, self.what)
    }
}

// ---- the decisions -------------------------------------------------------------------------

/// Chances are drawn as `random_range(0..CHANCE_SCALE) < rate * CHANCE_SCALE`.
const CHANCE_SCALE: u64 = 1_000_000;

/// A context's faults: the configuration in force, the counts so far, and the draws that decide
/// each fault. Draws come from the `TestScheduler` behind the context (its seeded generator,
/// recorded in replay files); the session bookkeeping (a fault listed in its session's report,
/// marked on its track) is the caller's.
#[derive(Default)]
pub(crate) struct FaultInjector {
    state: Mutex<(SimulationFaults, FaultCounts)>,
}

impl FaultInjector {
    fn lock(&self) -> MutexGuard<'_, (SimulationFaults, FaultCounts)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The faults injected from now on.
    pub(crate) fn config(&self) -> SimulationFaults {
        self.lock().0.clone()
    }

    /// How many faults of each kind were injected so far.
    pub(crate) fn counts(&self) -> FaultCounts {
        self.lock().1
    }

    /// Checks `faults` and that they can be drawn (`seeded`: a `TestScheduler` is behind the
    /// context), then sets them. Panics with the reason otherwise.
    pub(crate) fn set(&self, faults: SimulationFaults, seeded: bool) {
        if let Err(problem) = faults.validate() {
            panic!("SimulatedExecutionContext::set_faults: {problem}");
        }
        assert!(
            !faults.is_active() || seeded,
            "SimulatedExecutionContext::set_faults: injecting faults needs a TestScheduler behind \
             the context (its seeded generator decides every fault)"
        );
        self.lock().0 = faults;
    }

    /// Counts one injected fault of `kind`.
    pub(crate) fn count(&self, kind: FaultKind) {
        self.lock().1.count(kind);
    }

    /// True with probability `rate`, drawn from `test`; draws nothing when `rate` is 0.
    pub(crate) fn chance(test: Option<&TestScheduler>, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        let threshold = (rate * CHANCE_SCALE as f64) as u64;
        seeded(test).random_range(0..CHANCE_SCALE) < threshold
    }

    /// A time drawn from `range`, in whole milliseconds.
    pub(crate) fn draw_time(
        test: Option<&TestScheduler>,
        range: &RangeInclusive<Duration>,
    ) -> Duration {
        let low = range.start().as_millis() as u64;
        let high = range.end().as_millis() as u64;
        Duration::from_millis(seeded(test).random_range(low..high.saturating_add(1)))
    }

    /// What happens at `point`, by the configuration in force; and the fault injected, if any
    /// (its kind and what it did), for the caller to record.
    pub(crate) fn decide(
        &self,
        test: Option<&TestScheduler>,
        point: FaultPoint<'_>,
    ) -> (FaultAction, Option<(FaultKind, String)>) {
        let config = self.config();
        let chance = |rate| Self::chance(test, rate);
        match point {
            FaultPoint::Store { operation, key } => {
                if chance(config.store_failure) {
                    let what = format!("{operation} {key}: failed");
                    return (FaultAction::Fail, Some((FaultKind::StoreFailure, what)));
                }
                if !chance(config.store_stall) {
                    return (FaultAction::Proceed, None);
                }
                let stall = Self::draw_time(test, &config.store_stall_time);
                let (action, when) = if chance(config.lost_answer) {
                    (FaultAction::StallAnswer(stall), "after it reached")
                } else {
                    (FaultAction::Stall(stall), "before")
                };
                let what = format!("{operation} {key}: stalled {stall:?} {when} the store");
                (action, Some((FaultKind::StoreStall, what)))
            }
            FaultPoint::Subrequest { target } => {
                if !chance(config.slow_subrequest) {
                    return (FaultAction::Proceed, None);
                }
                let delay = Self::draw_time(test, &config.subrequest_delay);
                let what = format!("{target}: delayed {delay:?}");
                (
                    FaultAction::Stall(delay),
                    Some((FaultKind::SlowSubrequest, what)),
                )
            }
            FaultPoint::Buggify { location } => {
                if !chance(config.buggify) {
                    return (FaultAction::Proceed, None);
                }
                (
                    FaultAction::Fail,
                    Some((FaultKind::Buggify, location.to_string())),
                )
            }
        }
    }
}

/// The TestScheduler that draws faults (`set` checked there is one whenever a rate is above 0).
fn seeded(test: Option<&TestScheduler>) -> &TestScheduler {
    test.expect("set_faults checked that the scheduler is a TestScheduler")
}
