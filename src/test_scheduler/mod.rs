//! [`TestScheduler`]: a deterministic scheduler for tests, on every target (wasm32 included).
//!
//! Everything runs on the test thread. Which ready runnable runs next is chosen by the
//! [`Strategy`] (by default a random choice) from seeded PCG generators (a fixed algorithm), so a
//! seed fixes the interleaving, the task ids, the virtual times and therefore the output. Nothing reads the wall clock:
//! [`now`](crate::Scheduler::now) is a fixed epoch plus virtual time, which only moves when the
//! test advances it or when a blocked future waits for the next timer and nothing else can run.
//!
//! Layout: `handle.rs` (the handle a test holds, and its conveniences), `control.rs` (what a test calls:
//! ticks, the clock, parking, inspection), `cancel.rs` (cancelling tasks from outside),
//! `scheduler_impl.rs` (the [`Scheduler`] impl), `engine.rs` (progress) and `state.rs` (the
//! state and its bookkeeping), `intake.rs` (what comes in: spawns, wakes, timers, ends, other
//! threads), and the data structures (`ready_queue`, `timer_queue`, `registry`, `inbox`,
//! `owner_cell`, `rng`, `bands` (priority bands and the weighted pick)); exploration:
//! `strategy.rs` ([`Strategy`]), `choice.rs` (the choice at
//! each tick), `pct.rs`, `exhaustive.rs`, `draws.rs` (random values, recorded and replayed);
//! the seed harness: `harness.rs`, `harness_env.rs`, `schedules.rs`, `context.rs` (what the
//! schedulers of one seed are asked to do), `replay_file.rs`, `check.rs` (the determinism
//! check); `report.rs` and `trace.rs` (what it tells); the timeline file: `timeline.rs` (the
//! record), `timeline_json.rs` (the Chrome trace JSON, via `json.rs`), `timeline_control.rs`
//! (the test's calls).

mod bands;
mod cancel;
mod check;
mod choice;
mod clock;
mod config;
mod context;
mod control;
mod draws;
mod engine;
mod exhaustive;
mod handle;
mod harness;
mod harness_env;
mod inbox;
mod intake;
mod json;
mod owner_cell;
mod pct;
mod quiet;
mod ready_queue;
mod registry;
mod replay_file;
mod report;
mod rng;
mod scheduler_impl;
mod schedules;
mod state;
mod strategy;
mod timeline;
mod timeline_control;
mod timeline_json;
mod timeline_tracks;
mod timer_queue;
mod trace;

pub use config::TestSchedulerConfig;
pub use handle::TestScheduler;
pub use harness::run_seeds;
pub use schedules::SearchOutcome;
pub use strategy::{DEFAULT_PCT_DEPTH, DEFAULT_PCT_STEPS, ParseStrategyError, Strategy};
pub use timeline::{InstantKind, TIMELINE_LIMIT};
pub use trace::{TaskSummary, TraceEvent};
