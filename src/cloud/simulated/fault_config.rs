//! [`SimulationFaults`]: which faults the simulated Worker injects, and how often (all off by
//! default); and the context's fault state (that configuration and the counts so far).

use super::fault_record::FaultCounts;
use std::ops::RangeInclusive;
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

    fn rates(&self) -> [(&'static str, f64); 7] {
        [
            ("store_failure", self.store_failure),
            ("store_stall", self.store_stall),
            ("lost_answer", self.lost_answer),
            ("slow_subrequest", self.slow_subrequest),
            ("client_disconnect", self.client_disconnect),
            ("isolate_reset", self.isolate_reset),
            ("buggify", self.buggify),
        ]
    }
}

/// The configuration and what was injected so far.
#[derive(Default)]
pub(super) struct FaultState {
    pub(super) config: SimulationFaults,
    pub(super) counts: FaultCounts,
}
