//! `scheduler`: one async scheduler for a desktop app (a main thread plus background threads) and
//! its Cloudflare Worker backend (one single-threaded wasm isolate), with a deterministic
//! [`TestScheduler`] that makes tests of both reproducible from a seed.
//!
//! Backends implement the object-safe [`Scheduler`] trait and only move [`Runnable`]s. Everything
//! generic lives once, on `dyn Scheduler`: `spawn`, `spawn_labeled`, `spawn_foreground`, `timer`,
//! `block`, `block_with_timeout`, `downcast_ref`. Apps use the GPUI-style
//! [`BackgroundExecutor`] and [`ForegroundExecutor`]. `ARCHITECTURE.md` (at the repository root)
//! describes the layers, the contract and where each mechanism lives.
//!
//! ```
//! use scheduler::TestScheduler;
//! use std::time::Duration;
//!
//! TestScheduler::many(10, async |test| {
//!     let executor = test.background();
//!     let tick = executor.spawn({
//!         let executor = executor.clone();
//!         async move {
//!             executor.timer(Duration::from_secs(1)).await;
//!             "tick"
//!         }
//!     });
//!     assert_eq!(tick.await, "tick");
//!     assert_eq!(test.elapsed(), Duration::from_secs(1)); // virtual time
//! });
//! ```
#![warn(missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod cloud;
mod executor;
pub mod platform;
mod scheduler;
mod sync;
mod task;
mod test_scheduler;
#[cfg(feature = "tracing")]
mod tracing_events;

#[cfg(all(doctest, not(wasm)))]
mod readme_doctests;

pub use executor::{BackgroundExecutor, ForegroundExecutor};
#[cfg(wasm)]
pub use scheduler::LocalQueue;
pub use scheduler::{
    DedicatedExecutor, DedicatedThread, Instant, Runnable, Scheduler, SystemTime, TaskHeader,
    TaskOutcome, Timer, Unparker,
};
pub use task::session;
pub use task::{
    FallibleTask, Priority, SessionId, Task, TaskId, TaskKind, TaskLabel, TaskMetadata,
};
pub use test_scheduler::{
    DEFAULT_PCT_DEPTH, DEFAULT_PCT_STEPS, InstantKind, MAX_PCT_DEPTH, MAX_PCT_STEPS,
    ParseStrategyError, SearchOutcome, Strategy, TIMELINE_LIMIT, TaskSummary, TestScheduler,
    TestSchedulerConfig, TraceEvent, run_seeds,
};
