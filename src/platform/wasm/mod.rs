//! The wasm32 backend: [`WasmScheduler`], on JS microtasks, macrotasks and `setTimeout`, for
//! browsers, Node and Cloudflare Workers.
//!
//! Layout: `scheduler` (the [`WasmScheduler`] handle and its [`Scheduler`](crate::Scheduler)
//! impl), `drain` (the shared state and the drain loop), `host` (JS bindings, detected once),
//! `run_queue` (the session-fair ready queue), `fairness` (time slices), `timers` (pending JS
//! timeouts) and `timer_firing` (arming and firing them), `sessions` (per-session counters),
//! `session_end` (ending a session), `stats` (what is reported), `console` (the `console.error`
//! lines), and, inside workerd (feature `cloudflare`), `workerd` ([`WorkerdScheduler`]: wakes
//! routed into each request's I/O context).
//!
//! # Per-request sessions (Cloudflare Workers)
//!
//! One isolate serves many requests. Give each request a session: its tasks (and the tasks
//! they spawn) belong to it, the ready queue lets sessions take turns, and ending the session
//! cancels whatever the request left running (reported with `console.error`).
//!
//! ```no_run
//! use scheduler::platform::wasm::WasmScheduler;
//! use scheduler::{Scheduler, session};
//! use std::sync::Arc;
//!
//! # async fn handle() {
//! let wasm = WasmScheduler::new();
//! let scheduler: Arc<dyn Scheduler> = wasm.clone();
//! let request = wasm.create_session();
//! // Everything spawned here (and by these tasks) belongs to `request`.
//! let response = session::with(Some(request), || scheduler.spawn(async { "ok" }));
//! let background = session::with(Some(request), || scheduler.spawn(async { /* wait_until */ }));
//! let _body = response.await;
//! // Once the response is sent: cancel leftovers, but let the wait_until work finish.
//! let end = wasm.end_session(request, &[background.id().unwrap()]);
//! assert!(end.exempt_running.len() <= 1);
//! background.await;
//! let stats = wasm.stats(); // spawned / completed / cancelled / running, total and per session
//! # let _ = stats;
//! # }
//! ```
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

mod console;
mod drain;
mod fairness;
mod host;
mod run_queue;
mod scheduler;
mod session_end;
mod sessions;
mod stats;
mod timer_firing;
mod timers;
#[cfg(workerd)]
mod workerd;

pub use fairness::WasmSchedulerConfig;
pub use scheduler::WasmScheduler;
pub(super) use scheduler::default_scheduler;
pub use stats::{SchedulerStats, SessionEnd, TaskCounters};
#[cfg(workerd)]
pub use workerd::WorkerdScheduler;
