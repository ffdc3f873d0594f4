//! How long the WasmScheduler may keep the JS thread before yielding to the host:
//! [`WasmSchedulerConfig`] and the bookkeeping of one time slice.
//!
//! A *drain* runs a batch: the runnables queued when it starts, at most
//! [`batch_size`](WasmSchedulerConfig::batch_size). If work remains, the next drain is queued as
//! a microtask while the current *slice* (consecutive drains without a pause) is within budget;
//! once it is not, the work waits for macrotasks (one continuation per session, see `drain.rs`),
//! so that due timers, I/O and other requests get a turn even while a task keeps waking itself.

use crate::Instant;
use std::time::Duration;

/// Tuning of a [`WasmScheduler`](super::WasmScheduler). `Default` suits browsers, Node and
/// Workers.
#[derive(Clone, Debug)]
pub struct WasmSchedulerConfig {
    /// Most runnables one microtask drain runs before queueing the next drain.
    pub batch_size: usize,
    /// After this much time running drains back to back, the queued work waits for a macrotask.
    pub slice_budget: Duration,
    /// After this many runnables in one slice, the queued work waits for a macrotask even if
    /// the clock did not move (Workers freeze the clock while JS runs).
    pub slice_max_runs: usize,
}

impl Default for WasmSchedulerConfig {
    fn default() -> Self {
        Self {
            batch_size: 1024,
            slice_budget: Duration::from_millis(4),
            slice_max_runs: 50_000,
        }
    }
}

/// Where the next drain runs, if any.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum NextDrain {
    Microtask,
    Macrotask,
}

/// One slice: drains that followed each other with work always pending.
#[derive(Default)]
pub(super) struct Slice {
    started: Option<Instant>,
    runs: usize,
    /// Slices ended by the budget (observability for tests and stats).
    yields: u64,
}

impl Slice {
    /// Called when a drain starts.
    pub(super) fn begin_drain(&mut self) {
        if self.started.is_none() {
            self.started = Some(Instant::now());
            self.runs = 0;
        }
    }

    /// Called when a drain that ran `ran` runnables ends; `more` tells whether work is queued.
    pub(super) fn end_drain(
        &mut self,
        ran: usize,
        more: bool,
        config: &WasmSchedulerConfig,
    ) -> Option<NextDrain> {
        self.runs += ran;
        if !more {
            self.started = None;
            return None;
        }
        let over_budget = self.runs >= config.slice_max_runs
            || self
                .started
                .is_some_and(|started| started.elapsed() >= config.slice_budget);
        if over_budget {
            self.started = None;
            self.yields += 1;
            Some(NextDrain::Macrotask)
        } else {
            Some(NextDrain::Microtask)
        }
    }

    /// How many slices ended because they ran out of budget.
    pub(super) fn yields(&self) -> u64 {
        self.yields
    }
}
