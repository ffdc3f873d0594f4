//! The wasm32 backend: [`WasmScheduler`], on JS microtasks, macrotasks and `setTimeout`, for
//! browsers, Node and Cloudflare Workers.
//!
//! Layout: `scheduler` (the [`WasmScheduler`] handle and its [`Scheduler`](crate::Scheduler)
//! impl), `drain` (the shared state, the drain loop and its time slices), `run_queue` (the
//! session-fair ready queue in priority bands; its no-session lane is the
//! [`LocalQueue`](crate::LocalQueue) wakes push into directly in the common case), `sessions`
//! (counters per session and priority, what is reported, ending a session), `timers` (JS
//! timeouts: arming, firing, cancelling), `host` (JS bindings, detected once, and the
//! `console.error` lines), `instance` (callbacks never enter a dead instance; what a reset
//! leaves for the next one), and, inside workerd (feature `cloudflare`), `workerd`
//! ([`WorkerdScheduler`]: wakes routed into each request's I/O context).
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
//! # Panics: `panic = "unwind"` or `panic = "abort"`
//!
//! Built with `panic = "unwind"` (nightly Rust, std rebuilt with `-Zbuild-std=std,panic_unwind`
//! and `-Cpanic=unwind`: wasm exception handling, which V8 runs, so Node, browsers and workerd),
//! the scheduler behaves as on native targets: a panicking task is caught in its wrapper and
//! re-raised where its [`Task`](crate::Task) is awaited, naming the task and its spawn location;
//! a panic nobody awaits goes to `console.error` (`Scheduler::unobserved_panic`); every other
//! task and session carries on. In a Worker,
//! [`CloudflareExecutionContext::serve`](crate::cloud::CloudflareExecutionContext::serve)
//! answers a panicking handler's request with a 500 and the panic, and nothing else fails.
//!
//! Built with `panic = "abort"` (stable Rust's only strategy for `wasm32-unknown-unknown`), a
//! panic traps the instance: the host sees a `RuntimeError: unreachable`, the panic hook prints
//! the message, and the instance is dead. wasm-bindgen can replace it with a fresh instance of
//! the module (workers-rs's `worker-build` does so on the next request). Every callback the
//! scheduler handed to JS is guarded so that it never enters a dead instance (`instance.rs`),
//! and the next instance learns how many earlier instances died with how many requests in
//! flight ([`take_reset`]).

// The `unsafe impl Send/Sync` of `WasmScheduler` rely on wasm32 having one thread. With the
// `atomics` feature wasm can run threads (web workers sharing memory), and that would be unsound.
#[cfg(target_feature = "atomics")]
compile_error!(
    "scheduler's WasmScheduler is single-threaded and unsound with wasm threads: build for \
     wasm32 without the `atomics` target feature"
);

mod drain;
mod host;
mod instance;
mod run_queue;
mod scheduler;
mod sessions;
mod timers;
#[cfg(workerd)]
mod workerd;

pub use drain::WasmSchedulerConfig;
pub use instance::{InstanceReset, InstanceTotals, instance_totals, take_reset};
#[cfg(workerd)]
pub(crate) use instance::{request_ended_here, request_started_here};
pub use scheduler::WasmScheduler;
pub(super) use scheduler::default_scheduler;
pub use sessions::{SchedulerStats, SessionEnd, TaskCounters};
#[cfg(workerd)]
pub use workerd::WorkerdScheduler;
