//! The cloud layer: what Worker request handlers are written against, and a native simulation
//! of the Workers runtime to test them deterministically.
//!
//! - [`ExecutionContext`]: `wait_until` and `pass_through_on_exception`, as a Worker's
//!   `ExecutionContext`.
//! - [`PlatformRuntime`]: `delay`, the clock, local spawning; [`SchedulerRuntime`] implements
//!   it over any scheduler.
//! - [`SimulatedExecutionContext`]: one session per simulated request over a
//!   [`TestScheduler`](crate::TestScheduler), reproducing the Workers rules, with seeded faults
//!   on request ([`SimulationFaults`]: store failures and stalls, slow subrequests, client
//!   disconnects, isolate resets, `buggify`).
//! - [`FaultPoints`]: where handler code asks whether to inject a fault ([`FaultPoint`],
//!   [`FaultAction`]).
//!
#![doc = include_str!("../../docs/cloud.md")]

#[cfg(workerd)]
mod cloudflare;
mod execution_context;
mod faults;
mod runtime;
mod simulated;

/// The backend the Worker runs on; it lives with the wasm backend
/// ([`platform::wasm::WorkerdScheduler`](crate::platform::wasm::WorkerdScheduler)).
#[cfg(workerd)]
pub use crate::platform::wasm::WorkerdScheduler;
#[cfg(workerd)]
pub use cloudflare::{CloudflareExecutionContext, CloudflareStats};
pub use execution_context::{ExecutionContext, LocalFuture};
pub use faults::{FaultAction, FaultPoint, FaultPoints};
pub use runtime::{PlatformRuntime, SchedulerRuntime};
pub use simulated::{
    DanglingState, DanglingTask, FaultCounts, FaultKind, InjectedFault, IsolateState,
    RequestFailed, RequestFailure, SessionCleanupError, SessionReport, SimulatedExecutionContext,
    SimulatedFaultPoints, SimulatedRequest, SimulationFaults, WAIT_UNTIL_LIMIT, WaitUntilOutcome,
    WaitUntilReport,
};
