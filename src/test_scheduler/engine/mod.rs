//! The simulation engine behind a [`TestScheduler`](crate::TestScheduler): its state (`State`,
//! touched by the test thread only, in an owner-thread cell: `owner_cell.rs`), and how it makes
//! progress (ticks, timers, blocking, deadlocks). What comes in (spawns, wakes, timers, ends,
//! work from other threads through `inbox.rs`) is in `intake.rs`; the data structures are the
//! ready queue (`ready_queue.rs`), timers and the virtual clock (`timers.rs`), the live tasks
//! (`registry.rs`) and the trace (`trace.rs`). It takes its choices from `explore/` and records
//! into the timeline (`timeline/`); it knows nothing of the harness or the handle.

mod inbox;
mod intake;
mod owner_cell;
mod ready_queue;
mod registry;
mod timers;
pub(crate) mod trace;

use crate::scheduler::block;
use crate::test_scheduler::config::TestSchedulerConfig;
use crate::test_scheduler::explore::draws::Draws;
use crate::test_scheduler::explore::pick::Rng;
use crate::test_scheduler::explore::{Chooser, Directions, Recording, Strategy};
use crate::test_scheduler::timeline::{Timeline, What};
use crate::{
    Instant, Runnable, SystemTime, TaskId, TaskKind, TaskLabel, TaskMetadata, TaskOutcome,
};
use inbox::Inbox;
use owner_cell::{OwnerCell, OwnerGuard};
use rand::{RngExt, SeedableRng};
use ready_queue::ReadyQueue;
use registry::Registry;
use rustc_hash::{FxHashMap, FxHashSet};
use std::fmt::Write;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::Duration;
pub(crate) use timers::UTC_START;
use timers::{TimerQueue, VirtualClock};
use trace::TraceEvent;

/// Everything a TestScheduler knows; see the module docs.
pub(crate) struct Engine {
    /// Scheduling state, touched by the test thread only (no atomics on the hot path).
    pub(crate) state: OwnerCell<State>,
    /// What other OS threads hand in; applied by the test thread at its next step.
    pub(crate) inbox: Inbox,
    pub(crate) seed: u64,
    pub(crate) strategy: Strategy,
    next_task_id: AtomicU64,
    next_session_id: AtomicU64,
    /// Virtual time and the fake wall clock (readable from any thread).
    clock: VirtualClock,
    pub(crate) allow_parking: AtomicBool,
    /// Whether the runnable being run on the test thread is a background one: the test thread
    /// is "the main thread" only while it runs foreground work or the test itself.
    running_background: AtomicBool,
    /// Id of the task whose runnable the test thread is running (0: none), for keying the
    /// random values it draws.
    running_task: AtomicU64,
    parker: Mutex<parking::Parker>,
    pub(crate) unparker: parking::Unparker,
    pub(crate) num_cpus: usize,
    /// Set when the TestScheduler is dropped: from then on every runnable handed in is
    /// discarded, never queued.
    pub(crate) closed: AtomicBool,
}

/// What one scheduler did, read back by the seed harness after a schedule: its choices and
/// draws (for a replay file), the exhaustive search's path, the determinism check's trace and
/// the timeline.
#[derive(Debug)]
pub(crate) struct Transcript {
    pub(crate) strategy: Strategy,
    pub(crate) recording: Recording,
    /// The exhaustive search's `(index, candidates)` per choice point.
    pub(crate) taken: Option<Vec<(u32, u32)>>,
    pub(crate) audit: Vec<TraceEvent>,
    /// The timeline, if one was recorded.
    pub(crate) timeline: Option<Timeline>,
    /// `TestScheduler (seed 17, strategy random)`: its process name in a timeline file.
    pub(crate) name: String,
}

/// What one step of simulated progress did.
enum Step {
    /// Ran a runnable or fired a timer.
    Progressed,
    /// Virtual time reached the deadline with nothing left to do before it.
    ReachedDeadline,
    /// Nothing can ever happen: no runnable, no timer, no deadline, parking forbidden.
    Deadlocked,
}

impl Engine {
    pub(crate) fn new(config: TestSchedulerConfig, directions: Directions) -> Self {
        assert!(
            !config.block_tick_range.is_empty(),
            "block_tick_range must not be empty"
        );
        let (parker, unparker) = parking::pair();
        Self {
            state: OwnerCell::new(
                current_thread_id(),
                State {
                    rng: Rng::seed_from_u64(config.seed),
                    ready: ReadyQueue::new(config.randomize_order),
                    chooser: Chooser::new(config.strategy, config.seed, &directions),
                    draws: Draws::new(
                        directions.record,
                        directions.replay.as_ref().map(|replay| &replay.draws[..]),
                    ),
                    timers: TimerQueue::default(),
                    live: Registry::default(),
                    deprioritized: FxHashSet::default(),
                    block_tick_range: config.block_tick_range,
                    failures: Vec::new(),
                    trace: config.trace.then(Vec::new),
                    audit: directions.audit.then(Vec::new),
                    timeline: (config.timeline || directions.timeline).then(Timeline::default),
                    recording: config.trace
                        || directions.audit
                        || config.timeline
                        || directions.timeline,
                    ticks: 0,
                    cancelled: FxHashSet::default(),
                    graveyard: Vec::new(),
                    dedicated: Default::default(),
                },
            ),
            inbox: Inbox::default(),
            seed: config.seed,
            strategy: config.strategy,
            next_task_id: AtomicU64::new(1),
            next_session_id: AtomicU64::new(1),
            clock: VirtualClock::new(),
            allow_parking: AtomicBool::new(config.allow_parking),
            running_background: AtomicBool::new(false),
            running_task: AtomicU64::new(0),
            parker: Mutex::new(parker),
            unparker,
            num_cpus: config.num_cpus.max(1),
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The fake wall clock (see `clock.rs`).
    pub(crate) fn utc_now(&self) -> SystemTime {
        self.clock.utc_now()
    }

    /// Makes the fake wall clock read `now` at the current virtual time.
    pub(crate) fn set_utc_now(&self, now: SystemTime) {
        self.clock.set_utc_now(now)
    }

    pub(crate) fn next_task_id(&self) -> TaskId {
        TaskId::from_raw(self.next_task_id.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn next_session_id(&self) -> u64 {
        self.next_session_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The id of the task whose runnable the test thread runs now (0: none).
    #[inline]
    pub(crate) fn running_task(&self) -> u64 {
        self.running_task.load(Ordering::Relaxed)
    }

    pub(crate) fn is_main_thread(&self) -> bool {
        self.on_test_thread() && !self.running_background.load(Ordering::Relaxed)
    }

    /// Runs one ready runnable; if none is ready, fires one timer that is already due. Returns
    /// `false` if there was neither. Never moves the clock.
    pub(crate) fn tick(&self) -> bool {
        self.drain_inbox();
        let (runnable, buried, timeline) = {
            let mut guard = self.state("tick");
            if !guard.failures.is_empty() {
                let message = guard.failures.join("\n");
                guard.failures.clear();
                drop(guard);
                panic!("{message}");
            }
            let state = &mut *guard;
            let buried =
                (!state.graveyard.is_empty()).then(|| std::mem::take(&mut state.graveyard));
            let Some(runnable) = state.ready.pop(&mut state.rng, &mut state.chooser) else {
                drop(guard);
                // Dropping cancelled runnables ends their tasks, which may queue others.
                let progressed = buried.is_some();
                drop(buried);
                return progressed || self.fire_next_timer(self.elapsed());
            };
            let tick = state.ticks;
            state.ticks += 1;
            let timeline =
                state.recording && state.record_poll(tick, self.elapsed(), runnable.metadata());
            (runnable, buried, timeline)
        };
        drop(buried);
        self.run(runnable);
        if timeline {
            let at = self.elapsed_nanos();
            self.record(|timeline| timeline.record_plain(at, 0, What::PollEnd));
        }
        true
    }

    /// Runs `record` on the timeline, if one is kept (test thread only).
    #[inline]
    pub(crate) fn record(&self, record: impl FnOnce(&mut Timeline)) {
        self.state("timeline").timeline(record);
    }

    /// Virtual time since creation, in nanoseconds.
    #[inline]
    pub(crate) fn elapsed_nanos(&self) -> u64 {
        self.clock.elapsed_nanos()
    }

    pub(crate) fn run_until_parked(&self) {
        while self.tick() {}
    }

    pub(crate) fn advance_clock(&self, duration: Duration) {
        self.run_until_parked();
        let target = self.elapsed().saturating_add(duration);
        while self.fire_next_timer(target) {
            self.run_until_parked();
        }
        self.clock.advance_to(target);
    }

    /// A number drawn from the seeded generator (or a replay file), keyed by the running task.
    pub(crate) fn random_range(&self, range: std::ops::Range<u64>) -> u64 {
        let task = self.running_task.load(Ordering::Relaxed);
        let mut state = self.state("random_range");
        let value = state.rng.random_range(range.clone());
        state.drawn(task, range.start, range.end, value)
    }

    /// What this scheduler chose, drew and (for the determinism check) traced so far, for the
    /// seed harness; takes the records.
    pub(crate) fn transcript(&self) -> Transcript {
        let mut state = self.state("report");
        Transcript {
            strategy: self.strategy,
            recording: Recording {
                choices: state.chooser.take_record(),
                draws: state.draws.take_record(),
            },
            taken: state.chooser.exhaustive_taken().map(<[_]>::to_vec),
            audit: state.audit.as_mut().map(std::mem::take).unwrap_or_default(),
            timeline: state.timeline.as_mut().map(std::mem::take),
            name: format!(
                "TestScheduler (seed {}, strategy {})",
                self.seed, self.strategy
            ),
        }
    }

    /// The scheduling state, for the test thread only (`what` names the caller in the panic).
    #[inline]
    pub(crate) fn state(&self, what: &str) -> OwnerGuard<'_, State> {
        self.state.borrow_mut(current_thread_id(), what)
    }

    #[inline]
    pub(crate) fn on_test_thread(&self) -> bool {
        self.state.is_owner(current_thread_id())
    }

    /// Runs `runnable` on the test thread; while it runs, `is_main_thread` says whether it is
    /// foreground work. The previous value comes back afterwards (also on a panic), so a nested
    /// `block` inside a background task leaves it a background task.
    fn run(&self, runnable: Runnable) {
        let background = runnable.metadata().kind() != TaskKind::Foreground;
        // Only the test thread writes these: a load and a store, not a (locked) swap.
        let previous = self.running_background.load(Ordering::Relaxed);
        self.running_background.store(background, Ordering::Relaxed);
        let previous_task = self.running_task.load(Ordering::Relaxed);
        self.running_task
            .store(runnable.metadata().id().as_u64(), Ordering::Relaxed);
        let _restore = RestoreRunning(self, previous, previous_task);
        runnable.run();
    }

    /// Fires the earliest timer due at or before `limit` (virtual time since start), moving the
    /// clock to its deadline. Returns `false` if there was none.
    fn fire_next_timer(&self, limit: Duration) -> bool {
        self.drain_inbox();
        let Some((deadline, runnable)) = ({
            let mut state = self.state("fire timer");
            let due = state.timers.pop_due(limit);
            if let Some((at, runnable)) = &due {
                let at = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
                let timer = runnable.metadata();
                let id = timer.id().as_u64();
                state.timeline(|timeline| timeline.record(at, id, timer, What::TimerFired));
            }
            due
        }) else {
            return false;
        };
        self.clock.advance_to(deadline);
        self.run(runnable);
        true
    }

    /// One unit of simulated progress toward `deadline`.
    fn step(&self, deadline: Option<Duration>) -> Step {
        if self.tick() {
            return Step::Progressed;
        }
        let limit = deadline.unwrap_or(Duration::MAX);
        if self.fire_next_timer(limit) {
            return Step::Progressed;
        }
        if self.allow_parking.load(Ordering::SeqCst) {
            let parker = self.parker.lock().unwrap_or_else(PoisonError::into_inner);
            // With real threads in play the wait is real too, bounded by the virtual remainder.
            match deadline {
                None => parker.park(),
                Some(deadline) => {
                    let remaining = deadline.saturating_sub(self.elapsed());
                    if !crate::sync::park_timeout(&parker, remaining) {
                        self.clock.advance_to(deadline);
                        return Step::ReachedDeadline;
                    }
                }
            }
            return Step::Progressed;
        }
        match deadline {
            Some(deadline) => {
                self.clock.advance_to(deadline);
                Step::ReachedDeadline
            }
            None => Step::Deadlocked,
        }
    }

    /// `Scheduler::park`: one unit of simulated progress. Returns `true` once unparked, or after
    /// running a runnable or firing a timer; `false` when `timeout` (virtual) passed with
    /// nothing to do, or when the tick budget of the `block_with_timeout` it serves ran out.
    /// Panics with a deadlock report when nothing can ever happen.
    pub(crate) fn park(&self, timeout: Option<Duration>) -> bool {
        let parker = self.parker.lock().unwrap_or_else(PoisonError::into_inner);
        if crate::sync::park_timeout(&parker, Duration::ZERO) {
            return true;
        }
        drop(parker);
        if timeout.is_some() && self.block_budget_spent() {
            return false;
        }
        let deadline = timeout.map(|timeout| self.elapsed().saturating_add(timeout));
        // A dedicated executor's task blocking holds that executor's (simulated) thread: its
        // other tasks wait meanwhile, as they would on a real thread.
        let lane = self.blocking_lane();
        if let Some(lane) = lane {
            self.state("block").ready.suspend(lane);
        }
        let _resume = lane.map(|lane| ResumeLane(self, lane));
        match self.step(deadline) {
            Step::Progressed => true,
            Step::ReachedDeadline => false,
            Step::Deadlocked => self.deadlock(),
        }
    }

    /// The dedicated executor (its lane) whose task is running now, on the test thread.
    fn blocking_lane(&self) -> Option<u64> {
        let running = self.running_task.load(Ordering::Relaxed);
        if running == 0 || !self.on_test_thread() {
            return None;
        }
        self.state("block").dedicated.get(&running).copied()
    }

    /// Spends one tick of the budget of the innermost `block_with_timeout` on this thread (drawn
    /// from the block tick range at its first wait). Returns whether it was already spent.
    fn block_budget_spent(&self) -> bool {
        block::with_innermost_block(|budget| {
            let left = match budget {
                Some(left) => left,
                None => {
                    let task = self.running_task.load(Ordering::Relaxed);
                    let mut guard = self.state("block");
                    let state = &mut *guard;
                    let range = state.block_tick_range.clone();
                    let value = state.rng.random_range(range.clone());
                    let (start, end) = (*range.start() as u64, *range.end() as u64);
                    let value = state.drawn(task, start, end.saturating_add(1), value as u64);
                    budget.insert(value as usize)
                }
            };
            if *left == 0 {
                return true;
            }
            *left -= 1;
            false
        })
        .unwrap_or(false)
    }

    fn deadlock(&self) -> ! {
        let (pending, suspended) = {
            let state = self.state("block");
            (state.live.live(), state.ready.suspended())
        };
        let mut report = deadlock_report(self.seed, pending.clone());
        for (lane, queued) in suspended {
            let name = |id: u64| {
                pending
                    .iter()
                    .find(|task| task.id().as_u64() == id)
                    .map_or_else(|| format!("task#{id}"), ToString::to_string)
            };
            let queued: Vec<String> = queued.into_iter().map(name).collect();
            let _ = write!(
                report,
                "\nA task of the dedicated executor of {} blocks its thread (in `block`), so \
                 the executor's other tasks cannot run until it returns: {}. Await them \
                 instead of blocking on them (on a real thread this hangs; desktop schedulers \
                 panic at such a block).",
                name(lane),
                if queued.is_empty() {
                    "none is queued".to_string()
                } else {
                    queued.join(", ")
                }
            );
        }
        panic!("{report}");
    }
}

/// Lets a dedicated executor's runnables run again when its task's `park` returns (also by
/// panic).
struct ResumeLane<'a>(&'a Engine, u64);

impl Drop for ResumeLane<'_> {
    fn drop(&mut self) {
        self.0.state("block").ready.resume(self.1);
    }
}

/// Puts back the "running background work" flag and the running task when a run ends, also by
/// panic.
struct RestoreRunning<'a>(&'a Engine, bool, u64);

impl Drop for RestoreRunning<'_> {
    fn drop(&mut self) {
        self.0.running_background.store(self.1, Ordering::Relaxed);
        self.0.running_task.store(self.2, Ordering::Relaxed);
    }
}

#[inline]
pub(crate) fn current_thread_id() -> ThreadId {
    thread_local! {
        static ID: ThreadId = std::thread::current().id();
    }
    ID.try_with(|id| *id)
        .unwrap_or_else(|_| std::thread::current().id())
}

// ---- state ---------------------------------------------------------------------------------------
// [`State`]: what a [`TestScheduler`](crate::TestScheduler)'s engine keeps on the test thread
// (queues, registry, generator, choices, traces), and the bookkeeping every spawn, end, wake
// and random draw goes through.

pub(crate) struct State {
    pub(crate) rng: Rng,
    pub(crate) ready: ReadyQueue,
    /// Which ready runnable runs next (the strategy), and the record of those choices.
    pub(crate) chooser: Chooser,
    /// Random values drawn by the test, recorded or replayed.
    pub(crate) draws: Draws,
    pub(crate) timers: TimerQueue,
    pub(crate) live: Registry,
    pub(crate) deprioritized: FxHashSet<TaskLabel>,
    pub(crate) block_tick_range: RangeInclusive<usize>,
    /// Failures found outside the test thread's control flow (wakes from other OS threads, panics
    /// nobody awaited), raised at the next tick or when the scheduler is dropped.
    pub(crate) failures: Vec<String>,
    /// The trace the test asked for (`enable_trace`, `take_trace`).
    pub(crate) trace: Option<Vec<TraceEvent>>,
    /// The trace the determinism check compares (kept apart from the test's own).
    pub(crate) audit: Option<Vec<TraceEvent>>,
    /// The timeline for a Chrome trace file (`enable_timeline`, the seed harness), if recorded.
    pub(crate) timeline: Option<Timeline>,
    /// Whether `trace`, `audit` or `timeline` is kept: the one check on the hot paths (kept up
    /// to date by [`State::update_recording`]).
    pub(crate) recording: bool,
    pub(crate) ticks: u64,
    /// Tasks cancelled by [`TestScheduler::cancel_tasks`](crate::TestScheduler::cancel_tasks)
    /// that have not ended yet.
    pub(crate) cancelled: FxHashSet<TaskId>,
    /// Runnables of cancelled tasks, dropped at the next tick (outside the state borrow and
    /// outside whatever code woke them).
    pub(crate) graveyard: Vec<Runnable>,
    /// The lane (its root task's id) of each live task of a simulated dedicated executor.
    pub(crate) dedicated: FxHashMap<u64, u64>,
}

impl State {
    /// A task was spawned, while task `running` ran on the test thread (0: none). A dedicated
    /// executor's task joins the lane of the dedicated task that spawned it, or (its root)
    /// opens its own.
    #[inline]
    pub(crate) fn record_spawn(
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
    pub(crate) fn record_end(
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
    pub(crate) fn push_ready(&mut self, runnable: Runnable) {
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
    pub(crate) fn update_recording(&mut self) {
        self.recording = self.tracing() || self.timeline.is_some();
    }

    /// Runs `record` on the timeline, if one is kept (one flag check otherwise).
    #[inline]
    pub(crate) fn timeline(&mut self, record: impl FnOnce(&mut Timeline)) {
        if self.recording
            && let Some(timeline) = &mut self.timeline
        {
            record(timeline);
        }
    }

    /// Records the poll starting now (tick `tick`, of `task`) in the trace and the timeline
    /// being kept; returns whether the timeline is kept (its end is recorded then too).
    #[cold]
    pub(crate) fn record_poll(
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
    pub(crate) fn tracing(&self) -> bool {
        self.trace.is_some() || self.audit.is_some()
    }

    /// Records `event` in each trace being kept.
    #[cold]
    pub(crate) fn push_event(&mut self, event: TraceEvent) {
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
    pub(crate) fn drawn(&mut self, task: u64, start: u64, end: u64, value: u64) -> u64 {
        self.draws.drawn(task, start, end, value)
    }
}

// ---- the texts it panics with ---------------------------------------------------------------
// The texts a [`TestScheduler`](crate::TestScheduler) panics with: deadlocks, wakes from
// foreign threads, panics nobody awaited.

/// Why a blocked future can never complete, listing every pending task.
pub(crate) fn deadlock_report(seed: u64, mut pending: Vec<TaskMetadata>) -> String {
    pending.sort_by_key(TaskMetadata::id);
    let mut text = format!(
        "TestScheduler (seed {seed}) deadlocked: the blocked future can never complete. Nothing \
         is runnable, no timer is pending, and parking is forbidden.\n"
    );
    if pending.is_empty() {
        text.push_str("No task is pending: the future waits for something no task will do.\n");
    } else {
        let _ = writeln!(
            text,
            "{} pending task(s), each waiting for a wake that cannot come:",
            pending.len()
        );
        for metadata in &pending {
            let _ = writeln!(text, "  {metadata}");
        }
    }
    text.push_str(
        "If the future waits for a real OS thread, call allow_parking() on the TestScheduler.",
    );
    text
}

/// A wake from another OS thread while parking is forbidden.
pub(crate) fn foreign_wake(metadata: &TaskMetadata) -> String {
    let thread = std::thread::current();
    format!(
        "non-determinism: {metadata} was scheduled (woken or spawned) from another OS thread ({:?}, {:?}) while parking \
         is forbidden. A TestScheduler runs every task on the test thread; a wake from a real \
         thread makes the run depend on thread timing. If the test really needs a real thread, \
         call allow_parking() on the TestScheduler.",
        thread.name().unwrap_or("unnamed"),
        thread.id()
    )
}

/// A task panicked and nobody awaited it (it was detached, or its `Task` dropped unawaited).
pub(crate) fn unobserved_panic(task: &TaskMetadata, message: &str) -> String {
    format!(
        "{task} panicked and nobody awaited it: {message}\n(a panic in a detached task fails the \
         test; await the task, or catch the panic inside it, if it is expected)"
    )
}
