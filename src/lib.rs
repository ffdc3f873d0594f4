//! `scheduler`: one async scheduler for a desktop app (a main thread plus background threads) and
//! its Cloudflare Worker backend (one single-threaded wasm isolate), with a deterministic
//! [`TestScheduler`] that makes tests of both reproducible from a seed.
//!
//! Backends implement the object-safe [`Scheduler`] trait and only move [`Runnable`]s. Everything
//! generic lives once, on `dyn Scheduler`: `spawn`, `spawn_labeled`, `spawn_foreground`, `timer`,
//! `block`, `block_with_timeout`, `downcast_ref`. Apps use the GPUI-style
//! [`BackgroundExecutor`] and [`ForegroundExecutor`].
//!
//! ```
//! use scheduler::{BackgroundExecutor, Scheduler, TestScheduler};
//! use std::{sync::Arc, time::Duration};
//!
//! let test = Arc::new(TestScheduler::with_seed(42));
//! let executor = BackgroundExecutor::new(test.clone());
//! let task = executor.spawn({
//!     let executor = executor.clone();
//!     async move {
//!         executor.timer(Duration::from_secs(1)).await;
//!         "tick"
//!     }
//! });
//! assert_eq!(executor.block(task), "tick");
//! assert_eq!(test.elapsed(), Duration::from_secs(1)); // virtual time
//! ```

mod block;
pub mod cloud;
mod executor;
mod instant;
mod metadata;
pub mod platform;
mod route;
mod scheduler;
pub mod session;
mod spawn;
mod task;
mod task_future;
mod test_scheduler;
mod timer;

#[cfg(all(doctest, not(target_arch = "wasm32")))]
mod readme_doctests;

pub use executor::{BackgroundExecutor, ForegroundExecutor};
pub use instant::Instant;
pub use metadata::{SessionId, TaskId, TaskKind, TaskLabel, TaskMetadata};
pub use scheduler::{Runnable, Scheduler, TaskOutcome, TaskSink, Unparker};
pub use task::{FallibleTask, Task};
pub use test_scheduler::{TaskSummary, TestScheduler, TestSchedulerConfig, TraceEvent, run_seeds};
pub use timer::Timer;
