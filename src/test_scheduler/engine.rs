//! The simulation engine behind a [`TestScheduler`](super::TestScheduler): its state, its
//! clock (`clock.rs`), and how it makes progress (ticks, timers, blocking). What comes in (spawns, wakes,
//! timers, ends, work from other threads) is in `intake.rs`.

use super::choice::Chooser;
use super::clock::VirtualClock;
use super::config::TestSchedulerConfig;
use super::context::{Directions, Recording, Report};
use super::draws::Draws;
use super::inbox::Inbox;
use super::owner_cell::{OwnerCell, OwnerGuard};
use super::ready_queue::ReadyQueue;
use super::registry::Registry;
use super::report;
use super::rng::Rng;
use super::state::State;
use super::strategy::Strategy;
use super::timeline::{Timeline, What};
use super::timer_queue::TimerQueue;
use crate::scheduler::block;
use crate::{Instant, Runnable, SystemTime, TaskId, TaskKind};
use rand::{RngExt, SeedableRng};
use rustc_hash::FxHashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::Duration;

/// Everything a TestScheduler knows; see the module docs.
pub(super) struct Engine {
    /// Scheduling state, touched by the test thread only (no atomics on the hot path).
    pub(super) state: OwnerCell<State>,
    /// What other OS threads hand in; applied by the test thread at its next step.
    pub(super) inbox: Inbox,
    pub(super) seed: u64,
    pub(super) strategy: Strategy,
    next_task_id: AtomicU64,
    next_session_id: AtomicU64,
    /// Virtual time and the fake wall clock (readable from any thread).
    clock: VirtualClock,
    pub(super) allow_parking: AtomicBool,
    /// Whether the runnable being run on the test thread is a background one: the test thread
    /// is "the main thread" only while it runs foreground work or the test itself.
    running_background: AtomicBool,
    /// Id of the task whose runnable the test thread is running (0: none), for keying the
    /// random values it draws.
    running_task: AtomicU64,
    parker: Mutex<parking::Parker>,
    pub(super) unparker: parking::Unparker,
    pub(super) num_cpus: usize,
    /// Set when the TestScheduler is dropped: from then on every runnable handed in is
    /// discarded, never queued.
    pub(super) closed: AtomicBool,
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
    pub(super) fn new(config: TestSchedulerConfig, directions: Directions) -> Self {
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

    pub(super) fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    pub(super) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The fake wall clock (see `clock.rs`).
    pub(super) fn utc_now(&self) -> SystemTime {
        self.clock.utc_now()
    }

    /// Makes the fake wall clock read `now` at the current virtual time.
    pub(super) fn set_utc_now(&self, now: SystemTime) {
        self.clock.set_utc_now(now)
    }

    pub(super) fn next_task_id(&self) -> TaskId {
        TaskId::from_raw(self.next_task_id.fetch_add(1, Ordering::Relaxed))
    }

    pub(super) fn next_session_id(&self) -> u64 {
        self.next_session_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The id of the task whose runnable the test thread runs now (0: none).
    #[inline]
    pub(super) fn running_task(&self) -> u64 {
        self.running_task.load(Ordering::Relaxed)
    }

    pub(super) fn is_main_thread(&self) -> bool {
        self.on_test_thread() && !self.running_background.load(Ordering::Relaxed)
    }

    /// Runs one ready runnable; if none is ready, fires one timer that is already due. Returns
    /// `false` if there was neither. Never moves the clock.
    pub(super) fn tick(&self) -> bool {
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
    pub(super) fn record(&self, record: impl FnOnce(&mut Timeline)) {
        self.state("timeline").timeline(record);
    }

    /// Virtual time since creation, in nanoseconds.
    #[inline]
    pub(super) fn elapsed_nanos(&self) -> u64 {
        self.clock.elapsed_nanos()
    }

    pub(super) fn run_until_parked(&self) {
        while self.tick() {}
    }

    pub(super) fn advance_clock(&self, duration: Duration) {
        self.run_until_parked();
        let target = self.elapsed().saturating_add(duration);
        while self.fire_next_timer(target) {
            self.run_until_parked();
        }
        self.clock.advance_to(target);
    }

    /// A number drawn from the seeded generator (or a replay file), keyed by the running task.
    pub(super) fn random_range(&self, range: std::ops::Range<u64>) -> u64 {
        let task = self.running_task.load(Ordering::Relaxed);
        let mut state = self.state("random_range");
        let value = state.rng.random_range(range.clone());
        state.drawn(task, range.start, range.end, value)
    }

    /// What this scheduler chose, drew and (for the determinism check) traced so far, for the
    /// seed harness; takes the records.
    pub(super) fn report(&self) -> Report {
        let mut state = self.state("report");
        Report {
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
    pub(super) fn state(&self, what: &str) -> OwnerGuard<'_, State> {
        self.state.borrow_mut(current_thread_id(), what)
    }

    #[inline]
    pub(super) fn on_test_thread(&self) -> bool {
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
    pub(super) fn park(&self, timeout: Option<Duration>) -> bool {
        let parker = self.parker.lock().unwrap_or_else(PoisonError::into_inner);
        if crate::sync::park_timeout(&parker, Duration::ZERO) {
            return true;
        }
        drop(parker);
        if timeout.is_some() && self.block_budget_spent() {
            return false;
        }
        let deadline = timeout.map(|timeout| self.elapsed().saturating_add(timeout));
        match self.step(deadline) {
            Step::Progressed => true,
            Step::ReachedDeadline => false,
            Step::Deadlocked => self.deadlock(),
        }
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
        let pending = self.state("block").live.live();
        panic!("{}", report::deadlock(self.seed, pending));
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
pub(super) fn current_thread_id() -> ThreadId {
    thread_local! {
        static ID: ThreadId = std::thread::current().id();
    }
    ID.try_with(|id| *id)
        .unwrap_or_else(|_| std::thread::current().id())
}
