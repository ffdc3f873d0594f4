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
//! - Durable Objects: [`DurableObjectState`] (with [`DurableObjectStorage`]) is what an
//!   object's handler is written against; [`SimulatedDurableObjectNamespace`] simulates
//!   objects (gates, storage, alarms, eviction, faults) over the same context, and
//!   `CloudflareDurableObjectState` (wasm32, `cloudflare`) wraps workers-rs's `State`.
//!
//! The guide (a handler tested natively over seeds, faults in the simulated Worker, the real
//! Worker on workerd and its template) is `docs/cloud.md` in the repository:
//! <https://github.com/tandem-scheduler/tandem-scheduler/blob/main/docs/cloud.md>.
//!
//! ```
//! use scheduler::cloud::{ExecutionContext, SimulatedExecutionContext, WaitUntilOutcome};
//! use scheduler::TestScheduler;
//!
//! let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(1));
//! let request = ctx.serve({
//!     let ctx = ctx.clone();
//!     async move {
//!         ctx.wait_until(async { /* after the response */ });
//!         "ok"
//!     }
//! });
//! let session = request.session();
//! assert_eq!(ctx.block(request).unwrap(), "ok");
//! let jobs = ctx.wait_on_execution_context(session);
//! assert_eq!(jobs[0].outcome, WaitUntilOutcome::Completed);
//! ctx.validate_session_cleanup(session).unwrap();
//! ```

#[cfg(workerd)]
mod cloudflare;
#[cfg(workerd)]
mod cloudflare_durable_object;
mod durable_object;
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
#[cfg(workerd)]
pub use cloudflare_durable_object::{
    CloudflareDurableObjectNamespace, CloudflareDurableObjectState, CloudflareDurableObjectStats,
};
pub use durable_object::{
    AlarmInfo, DurableObjectFailure, DurableObjectHandler, DurableObjectId, DurableObjectMessage,
    DurableObjectNamespace, DurableObjectState, DurableObjectStorage, DurableObjectTransaction,
    ListOptions, LocalBoxFuture, MAX_KEY_BYTES, StorageError, StorageValue,
};
pub use execution_context::{ExecutionContext, LocalFuture};
pub use faults::{FaultAction, FaultPoint, FaultPoints};
pub use runtime::{PlatformRuntime, SchedulerRuntime};
pub use simulated::{
    BLOCK_CONCURRENCY_LIMIT, DanglingState, DanglingTask, DurableObjectCounts,
    DurableObjectEventKind, DurableObjectEventOutcome, DurableObjectEventReport,
    DurableObjectFaultKind, FaultCounts, FaultKind, InjectedFault, InjectedObjectFault,
    IsolateState, RequestFailed, RequestFailure, SessionCleanupError, SessionReport,
    SimulatedDurableObjectNamespace, SimulatedDurableObjectRequest, SimulatedDurableObjectState,
    SimulatedDurableObjectStub, SimulatedExecutionContext, SimulatedFaultPoints, SimulatedRequest,
    SimulationFaults, WAIT_UNTIL_LIMIT, WaitUntilOutcome, WaitUntilReport,
};
