//! [`State`]: what a [`TestScheduler`](super::TestScheduler)'s engine keeps on the test thread
//! (queues, registry, generator, choices, traces), and the bookkeeping every spawn, end, wake
//! and random draw goes through.

use super::choice::Chooser;
use super::draws::Draws;
use super::ready_queue::ReadyQueue;
use super::registry::Registry;
use super::rng::Rng;
use super::timeline::{Timeline, What};
use super::timer_queue::TimerQueue;
use super::trace::TraceEvent;
use crate::{Runnable, TaskId, TaskKind, TaskLabel, TaskMetadata, TaskOutcome};
use rustc_hash::{FxHashMap, FxHashSet};
use std::ops::RangeInclusive;
use std::time::Duration;

pub(super) struct State {
    pub(super) rng: Rng,
    pub(super) ready: ReadyQueue,
    /// Which ready runnable runs next (the strategy), and the record of those choices.
    pub(super) chooser: Chooser,
    /// Random values drawn by the test, recorded or replayed.
    pub(super) draws: Draws,
    pub(super) timers: TimerQueue,
    pub(super) live: Registry,
    pub(super) deprioritized: FxHashSet<TaskLabel>,
    pub(super) block_tick_range: RangeInclusive<usize>,
    /// Failures found outside the test thread's control flow (wakes from other OS threads, panics
    /// nobody awaited), raised at the next tick or when the scheduler is dropped.
    pub(super) failures: Vec<String>,
    /// The trace the test asked for (`enable_trace`, `take_trace`).
    pub(super) trace: Option<Vec<TraceEvent>>,
    /// The trace the determinism check compares (kept apart from the test's own).
    pub(super) audit: Option<Vec<TraceEvent>>,
    /// The timeline for a Chrome trace file (`enable_timeline`, the seed harness), if recorded.
    pub(super) timeline: Option<Timeline>,
    /// Whether `trace`, `audit` or `timeline` is kept: the one check on the hot paths (kept up
    /// to date by [`State::update_recording`]).
    pub(super) recording: bool,
    pub(super) ticks: u64,
    /// Tasks cancelled by [`TestScheduler::cancel_tasks`](super::TestScheduler::cancel_tasks)
    /// that have not ended yet.
    pub(super) cancelled: FxHashSet<TaskId>,
    /// Runnables of cancelled tasks, dropped at the next tick (outside the state borrow and
    /// outside whatever code woke them).
    pub(super) graveyard: Vec<Runnable>,
    /// The lane (its root task's id) of each live task of a simulated dedicated executor.
    pub(super) dedicated: FxHashMap<u64, u64>,
}

impl State {
    /// A task was spawned, while task `running` ran on the test thread (0: none). A dedicated
    /// executor's task joins the lane of the dedicated task that spawned it, or (its root)
    /// opens its own.
    #[inline]
    pub(super) fn record_spawn(
        &mut self,
        metadata: &TaskMetadata,
        elapsed: Duration,
        running: u64,
    ) {
        self.live.insert(*metadata);
        if metadata.kind() == TaskKind::Dedicated {
            let id = metadata.id().as_u64();
            let lane = self.dedicated.get(&running).copied().unwrap_or(id);
            self.dedicated.insert(id, lane);
        }
        self.chooser.task_spawned(metadata.id().as_u64());
        if self.recording && self.tracing() {
            self.push_event(TraceEvent::Spawned {
                elapsed,
                task: metadata.into(),
            });
        }
    }

    #[inline]
    pub(super) fn record_end(
        &mut self,
        metadata: &TaskMetadata,
        outcome: TaskOutcome,
        elapsed: Duration,
    ) {
        self.live.remove(metadata.id());
        self.chooser.task_ended(metadata.id().as_u64());
        if metadata.kind() == TaskKind::Dedicated {
            self.dedicated.remove(&metadata.id().as_u64());
        }
        if !self.cancelled.is_empty() {
            self.cancelled.remove(&metadata.id());
        }
        if self.recording && self.tracing() {
            self.push_event(TraceEvent::Ended {
                elapsed,
                task: metadata.into(),
                outcome,
            });
        }
    }

    #[inline]
    pub(super) fn push_ready(&mut self, runnable: Runnable) {
        if !self.cancelled.is_empty() && self.cancelled.contains(&runnable.metadata().id()) {
            self.graveyard.push(runnable);
            return;
        }
        let metadata = runnable.metadata();
        let deprioritized = metadata
            .label()
            .is_some_and(|label| self.deprioritized.contains(&label));
        let lane = if metadata.kind() == TaskKind::Dedicated {
            let id = metadata.id().as_u64();
            self.dedicated.get(&id).copied().unwrap_or(id)
        } else {
            0
        };
        self.ready.push(runnable, deprioritized, lane);
    }

    /// Recomputes [`recording`](Self::recording) after a trace or the timeline was turned on.
    pub(super) fn update_recording(&mut self) {
        self.recording = self.tracing() || self.timeline.is_some();
    }

    /// Runs `record` on the timeline, if one is kept (one flag check otherwise).
    #[inline]
    pub(super) fn timeline(&mut self, record: impl FnOnce(&mut Timeline)) {
        if self.recording
            && let Some(timeline) = &mut self.timeline
        {
            record(timeline);
        }
    }

    /// Records the poll starting now (tick `tick`, of `task`) in the trace and the timeline
    /// being kept; returns whether the timeline is kept (its end is recorded then too).
    #[cold]
    pub(super) fn record_poll(
        &mut self,
        tick: u64,
        elapsed: Duration,
        task: &TaskMetadata,
    ) -> bool {
        if self.tracing() {
            self.push_event(TraceEvent::Ran {
                tick,
                elapsed,
                task: task.into(),
            });
        }
        let Some(timeline) = &mut self.timeline else {
            return false;
        };
        let at = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        timeline.record(at, task.id().as_u64(), task, What::Poll(tick));
        true
    }

    /// Whether events are being recorded (for the test, or for the determinism check).
    #[inline]
    pub(super) fn tracing(&self) -> bool {
        self.trace.is_some() || self.audit.is_some()
    }

    /// Records `event` in each trace being kept.
    #[cold]
    pub(super) fn push_event(&mut self, event: TraceEvent) {
        if let Some(audit) = &mut self.audit {
            audit.push(event.clone());
        }
        if let Some(trace) = &mut self.trace {
            trace.push(event);
        }
    }

    /// `value` was drawn from `start..end` by `task` (0: no task): the value to use (a replay
    /// file's, when replaying), recorded for a replay file.
    #[inline]
    pub(super) fn drawn(&mut self, task: u64, start: u64, end: u64, value: u64) -> u64 {
        self.draws.drawn(task, start, end, value)
    }
}
