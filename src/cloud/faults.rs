//! Fault points: places in handler code where a fault may be injected, and what the injector
//! answers there. Target-independent: in a Worker nothing is injected (every point proceeds);
//! in simulation a [`SimulatedExecutionContext`](super::SimulatedExecutionContext) with
//! [`SimulationFaults`](super::SimulationFaults) set draws the answers from the
//! `TestScheduler`'s seeded generator.
//!
//! - A store the app wraps asks [`FaultPoints::decide`] with [`FaultPoint::Store`] before each
//!   call and applies the [`FaultAction`] (fail it, stall it, stall its answer).
//! - [`PlatformRuntime::subrequest`](super::PlatformRuntime::subrequest) asks with
//!   [`FaultPoint::Subrequest`] and delays its answer when told to stall.
//! - [`PlatformRuntime::buggify`](super::PlatformRuntime::buggify) asks with
//!   [`FaultPoint::Buggify`]: a point users put in their own code, true when a fault should
//!   be injected there.

use std::panic::Location;
use std::time::Duration;

/// Where a fault may be injected: what the code is about to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultPoint<'a> {
    /// A call to a store (Workers KV, D1, R2, a database): `operation` is its name (`"get"`,
    /// `"put"`), `key` what it is about. The answer may be [`FaultAction::Fail`],
    /// [`FaultAction::Stall`] (the call waits, then reaches the store) or
    /// [`FaultAction::StallAnswer`] (it reaches the store at once, its answer waits).
    Store {
        /// The operation, as the store names it.
        operation: &'a str,
        /// The key (or table, path) it is about.
        key: &'a str,
    },
    /// An outgoing call to another service (a `fetch`): the answer may be
    /// [`FaultAction::Stall`] (a slow subrequest: its answer comes that much later).
    Subrequest {
        /// What is called (a URL, a service name).
        target: &'a str,
    },
    /// A `buggify` point in handler code: anything but [`FaultAction::Proceed`] means "inject
    /// the fault here".
    Buggify {
        /// Where the point is in the source.
        location: &'static Location<'static>,
    },
}

/// What the code at a [`FaultPoint`] should do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FaultAction {
    /// Nothing injected: carry on.
    #[default]
    Proceed,
    /// Fail the operation without performing it (at a `buggify` point: fire).
    Fail,
    /// Wait this long, then perform the operation. Given up on while waiting, it never happens.
    Stall(Duration),
    /// Perform the operation at once, then wait this long before answering: given up on while
    /// waiting, it took effect although the caller never hears so (a lost answer).
    StallAnswer(Duration),
}

impl FaultAction {
    /// Whether a fault is injected (anything but [`Proceed`](Self::Proceed)).
    pub fn is_fault(self) -> bool {
        self != Self::Proceed
    }
}

/// Decides what happens at each [`FaultPoint`]. The simulation's is
/// [`SimulatedFaultPoints`](super::SimulatedFaultPoints); an app may implement its own (the
/// Worker's `/debug/faults` plan does) and hand it to the same store wrapper.
pub trait FaultPoints {
    /// What the code at `point` should do. Called once per operation, just before it.
    fn decide(&self, point: FaultPoint<'_>) -> FaultAction;
}
