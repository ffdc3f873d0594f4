//! The wasm32 backend: [`WasmScheduler`], on JS microtasks, macrotasks and `setTimeout`, for
//! browsers, Node and Cloudflare Workers.
//!
//! Layout: `scheduler` (the [`Scheduler`](crate::Scheduler) impl and the drain loop), `host` (JS
//! bindings, detected once), `run_queue` (the session-fair ready queue), `fairness` (time
//! slices), `timers` (JS timeouts), `sessions` and `stats` (per-session counters and ending a
//! session), `report` (`console.error` lines).
//!
//! On wasm32 a panic aborts the instance (`panic = "abort"` is the only strategy of
//! `wasm32-unknown-unknown` on stable Rust): a panicking task cannot be caught and re-raised
//! where it is awaited as on native targets. The host sees a `RuntimeError: unreachable` and the
//! panic message is printed by the panic hook; the instance must be recreated.

// The `unsafe impl Send/Sync` of `WasmScheduler` rely on wasm32 having one thread. With the
// `atomics` feature wasm can run threads (web workers sharing memory), and that would be unsound.
#[cfg(target_feature = "atomics")]
compile_error!(
    "scheduler's WasmScheduler is single-threaded and unsound with wasm threads: build for \
     wasm32 without the `atomics` target feature"
);

mod fairness;
mod host;
mod report;
mod run_queue;
mod scheduler;
mod sessions;
mod stats;
mod timers;

pub use fairness::WasmSchedulerConfig;
pub use scheduler::WasmScheduler;
pub use stats::{SchedulerStats, SessionEnd, TaskCounters};
