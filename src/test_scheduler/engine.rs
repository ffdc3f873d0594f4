//! The simulation engine behind a [`TestScheduler`](super::TestScheduler): its queues, clock,
//! registry and random choices. Tasks hold the engine strongly (see
//! [`Scheduler::task_handle`]); the user-facing `TestScheduler` closes it when dropped, so no
//! task keeps it alive for long.

use super::inbox::{Inbound, Inbox};
use super::owner_cell::{OwnerCell, OwnerGuard};
use super::ready_queue::ReadyQueue;
use super::registry::Registry;
use super::timer_queue::TimerQueue;
use crate::{
    Instant, Runnable, Scheduler, TaskId, TaskKind, TaskLabel, TaskMetadata, TaskOutcome, TaskSink,
    Unparker,
};
use rand::{RngExt, SeedableRng};
use rustc_hash::FxHashSet;
use std::future::Future;
use std::ops::{Range, RangeInclusive};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::thread::ThreadId;
use std::time::Duration;

use super::{TestSchedulerConfig, TraceEvent, report};

/// The scheduler's random source: PCG XSL 128/64 (MCG), a fixed algorithm, so a seed means the
/// same stream on every target and every version of this crate's dependencies.
pub(super) type Rng = rand_pcg::Pcg64Mcg;

/// Everything a TestScheduler knows; see the module docs.
pub(super) struct Engine {
    /// Scheduling state, touched by the test thread only (no atomics on the hot path).
    state: OwnerCell<State>,
    /// What other OS threads hand in; applied by the test thread at its next step.
    inbox: Inbox,
    seed: u64,
    next_task_id: AtomicU64,
    epoch: Instant,
    /// Virtual time since creation, in nanoseconds (readable from any thread).
    elapsed_nanos: AtomicU64,
    allow_parking: AtomicBool,
    running_background: AtomicBool,
    parker: Mutex<parking::Parker>,
    unparker: Unparker,
    num_cpus: usize,
    /// Set when the TestScheduler is dropped: from then on every runnable handed in is dropped.
    closed: AtomicBool,
}

pub(super) struct State {
    rng: Rng,
    pub(super) ready: ReadyQueue,
    timers: TimerQueue,
    pub(super) live: Registry,
    deprioritized: FxHashSet<TaskLabel>,
    block_tick_range: RangeInclusive<usize>,
    foreign_wakes: Vec<String>,
    trace: Option<Vec<TraceEvent>>,
    ticks: u64,
    /// Tasks cancelled by [`TestScheduler::cancel_tasks`] that have not ended yet.
    pub(super) cancelled: FxHashSet<TaskId>,
    /// Runnables of cancelled tasks, dropped at the next tick (outside the state borrow and
    /// outside whatever code woke them).
    graveyard: Vec<Runnable>,
}

impl State {
    fn record_spawn(&mut self, metadata: &TaskMetadata, elapsed: Duration) {
        self.live.insert(*metadata);
        if let Some(trace) = &mut self.trace {
            trace.push(TraceEvent::Spawned {
                elapsed,
                task: metadata.into(),
            });
        }
    }

    fn record_end(&mut self, metadata: &TaskMetadata, outcome: TaskOutcome, elapsed: Duration) {
        self.live.remove(metadata.id());
        if !self.cancelled.is_empty() {
            self.cancelled.remove(&metadata.id());
        }
        if let Some(trace) = &mut self.trace {
            trace.push(TraceEvent::Ended {
                elapsed,
                task: metadata.into(),
                outcome,
            });
        }
    }

    fn push_ready(&mut self, runnable: Runnable) {
        if !self.cancelled.is_empty() && self.cancelled.contains(&runnable.metadata().id()) {
            self.graveyard.push(runnable);
            return;
        }
        let deprioritized = runnable
            .metadata()
            .label()
            .is_some_and(|label| self.deprioritized.contains(&label));
        self.ready.push(runnable, deprioritized);
    }
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
    pub(super) fn new(config: TestSchedulerConfig) -> Self {
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
                    timers: TimerQueue::default(),
                    live: Registry::default(),
                    deprioritized: FxHashSet::default(),
                    block_tick_range: config.block_tick_range,
                    foreign_wakes: Vec::new(),
                    trace: config.trace.then(Vec::new),
                    ticks: 0,
                    cancelled: FxHashSet::default(),
                    graveyard: Vec::new(),
                },
            ),
            inbox: Inbox::default(),
            seed: config.seed,
            next_task_id: AtomicU64::new(1),
            epoch: epoch(),
            elapsed_nanos: AtomicU64::new(0),
            allow_parking: AtomicBool::new(config.allow_parking),
            running_background: AtomicBool::new(false),
            parker: Mutex::new(parker),
            unparker,
            num_cpus: config.num_cpus.max(1),
            closed: AtomicBool::new(false),
        }
    }

    pub(super) fn seed(&self) -> u64 {
        self.seed
    }

    pub(super) fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos.load(Ordering::Relaxed))
    }

    pub(super) fn tick(&self) -> bool {
        self.drain_inbox();
        let (runnable, buried) = {
            let mut guard = self.state("tick");
            if !guard.foreign_wakes.is_empty() {
                let message = guard.foreign_wakes.join("\n");
                guard.foreign_wakes.clear();
                drop(guard);
                panic!("{message}");
            }
            let state = &mut *guard;
            let buried =
                (!state.graveyard.is_empty()).then(|| std::mem::take(&mut state.graveyard));
            let Some(runnable) = state.ready.pop(&mut state.rng) else {
                drop(guard);
                // Dropping cancelled runnables ends their tasks, which may queue others.
                let progressed = buried.is_some();
                drop(buried);
                return progressed;
            };
            let tick = state.ticks;
            state.ticks += 1;
            if let Some(trace) = &mut state.trace {
                trace.push(TraceEvent::Ran {
                    tick,
                    elapsed: self.elapsed(),
                    task: runnable.metadata().into(),
                });
            }
            (runnable, buried)
        };
        drop(buried);
        self.run(runnable);
        true
    }

    pub(super) fn run_until_parked(&self) {
        while self.tick() {}
    }

    pub(super) fn advance_clock(&self, duration: Duration) {
        self.run_until_parked();
        let target = self.elapsed() + duration;
        while self.fire_next_timer(target) {
            self.run_until_parked();
        }
        self.advance_to(target);
    }

    pub(super) fn simulate_random_delay(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut yields = self.random_range(0..10);
        std::future::poll_fn(move |cx: &mut Context<'_>| {
            if yields == 0 {
                Poll::Ready(())
            } else {
                yields -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
    }

    pub(super) fn deprioritize(&self, label: TaskLabel) {
        self.state("deprioritize").deprioritized.insert(label);
    }

    pub(super) fn is_task_running(&self, id: TaskId) -> bool {
        self.drain_inbox();
        self.state("is_task_running").live.contains(id)
    }

    pub(super) fn allow_parking(&self) {
        self.allow_parking.store(true, Ordering::SeqCst);
    }

    pub(super) fn forbid_parking(&self) {
        self.allow_parking.store(false, Ordering::SeqCst);
    }

    pub(super) fn set_block_tick_range(&self, range: RangeInclusive<usize>) {
        assert!(!range.is_empty(), "block_tick_range must not be empty");
        self.state("set_block_tick_range").block_tick_range = range;
    }

    pub(super) fn random_range(&self, range: Range<u64>) -> u64 {
        self.state("random_range").rng.random_range(range)
    }

    pub(super) fn ready_count(&self) -> usize {
        self.drain_inbox();
        self.state("ready_count").ready.len()
    }

    pub(super) fn pending_timer_count(&self) -> usize {
        self.drain_inbox();
        self.state("pending_timer_count").timers.len()
    }

    pub(super) fn tick_count(&self) -> u64 {
        self.state("tick_count").ticks
    }

    pub(super) fn live_task_count(&self) -> usize {
        self.drain_inbox();
        self.state("live_task_count").live.len()
    }

    pub(super) fn live_tasks(&self) -> Vec<TaskMetadata> {
        self.drain_inbox();
        self.state("live_tasks").live.live()
    }

    pub(super) fn enable_trace(&self) {
        let mut state = self.state("enable_trace");
        if state.trace.is_none() {
            state.trace = Some(Vec::new());
        }
    }

    pub(super) fn take_trace(&self) -> Vec<TraceEvent> {
        let mut state = self.state("take_trace");
        state.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    #[inline]
    /// The scheduling state, for the test thread only (`what` names the caller in the panic).
    pub(super) fn state(&self, what: &str) -> OwnerGuard<'_, State> {
        self.state.borrow_mut(current_thread_id(), what)
    }

    pub(super) fn on_test_thread(&self) -> bool {
        self.state.is_owner(current_thread_id())
    }

    fn advance_to(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.elapsed_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    /// Applies what other threads handed in (a single relaxed load when nothing was).
    #[inline]
    pub(super) fn drain_inbox(&self) {
        if self.inbox.has_pending() {
            self.apply_inbox();
        }
    }

    #[cold]
    fn apply_inbox(&self) {
        let Some(items) = self.inbox.take() else {
            return;
        };
        let elapsed = self.elapsed();
        let mut state = self.state("drain_inbox");
        for item in items {
            match item {
                Inbound::Ready(runnable) => state.push_ready(runnable),
                Inbound::Timer { delay, runnable } => {
                    state.timers.push(elapsed.saturating_add(delay), runnable)
                }
                Inbound::Spawned(metadata) => state.record_spawn(&metadata, elapsed),
                Inbound::Ended(metadata, outcome) => state.record_end(&metadata, outcome, elapsed),
                Inbound::TimerCancelled(id) => state.timers.cancel(id),
                Inbound::ForeignWake(message) => state.foreign_wakes.push(message),
            }
        }
    }

    /// Hands `items` in from another thread, reporting the runnable's wake as non-determinism
    /// unless parking is allowed, and wakes the test thread if it is parked.
    fn post_foreign(&self, metadata: &TaskMetadata, items: impl IntoIterator<Item = Inbound>) {
        let report = (!self.allow_parking.load(Ordering::SeqCst))
            .then(|| Inbound::ForeignWake(report::foreign_wake(metadata)));
        self.inbox.post(report.into_iter().chain(items));
        self.unparker.unpark();
    }

    fn run(&self, runnable: Runnable) {
        let background = runnable.metadata().kind() != TaskKind::Foreground;
        let _restore = RestoreForeground(&self.running_background);
        self.running_background.store(background, Ordering::Relaxed);
        runnable.run();
    }

    /// Fires the earliest timer due at or before `limit` (virtual time since start), moving the
    /// clock to its deadline. Returns `false` if there was none.
    fn fire_next_timer(&self, limit: Duration) -> bool {
        self.drain_inbox();
        let Some((deadline, runnable)) = self.state("advance_clock").timers.pop_due(limit) else {
            return false;
        };
        self.advance_to(deadline);
        self.run(runnable);
        true
    }

    /// One unit of simulated progress toward `deadline`.
    fn step(&self, deadline: Option<Duration>) -> Step {
        if self.tick() {
            return Step::Progressed;
        }
        let next_timer = self.state("block").timers.next_deadline();
        let limit = deadline.unwrap_or(Duration::MAX);
        if next_timer.is_some_and(|timer| timer <= limit) && self.fire_next_timer(limit) {
            return Step::Progressed;
        }
        if self.allow_parking.load(Ordering::SeqCst) {
            let parker = self.parker.lock().unwrap_or_else(PoisonError::into_inner);
            // With real threads in play the wait is real too, bounded by the virtual remainder.
            match deadline {
                None => parker.park(),
                Some(deadline) => {
                    let remaining = deadline.saturating_sub(self.elapsed());
                    if !parker.park_timeout(remaining) {
                        self.advance_to(deadline);
                        return Step::ReachedDeadline;
                    }
                }
            }
            return Step::Progressed;
        }
        match deadline {
            Some(deadline) => {
                self.advance_to(deadline);
                Step::ReachedDeadline
            }
            None => Step::Deadlocked,
        }
    }

    fn deadlock(&self) -> ! {
        let pending = self.state("block").live.live();
        panic!("{}", report::deadlock(self.seed, pending));
    }

    fn enqueue(&self, runnable: Runnable) {
        if self.on_test_thread() {
            self.state("schedule").push_ready(runnable);
        } else {
            let metadata = *runnable.metadata();
            self.post_foreign(&metadata, [Inbound::Ready(runnable)]);
        }
    }
}

impl Scheduler for Engine {
    fn schedule(&self, runnable: Runnable) {
        self.enqueue(runnable);
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.enqueue(runnable);
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        let Some(runnable) = self.refuse_if_closed(runnable) else {
            return;
        };
        if self.on_test_thread() {
            let deadline = self.elapsed().saturating_add(delay);
            self.state("schedule_after").timers.push(deadline, runnable);
        } else {
            let metadata = *runnable.metadata();
            self.post_foreign(&metadata, [Inbound::Timer { delay, runnable }]);
        }
    }

    /// One unit of simulated progress: returns `true` once unparked, or after running a
    /// runnable or firing a timer; `false` when `timeout` (virtual) passed with nothing to do.
    /// Panics with a deadlock report when nothing can ever happen.
    fn park(&self, timeout: Option<Duration>) -> bool {
        let parker = self.parker.lock().unwrap_or_else(PoisonError::into_inner);
        if parker.park_timeout(Duration::ZERO) {
            return true;
        }
        drop(parker);
        let deadline = timeout.map(|timeout| self.elapsed().saturating_add(timeout));
        match self.step(deadline) {
            Step::Progressed => true,
            Step::ReachedDeadline => false,
            Step::Deadlocked => self.deadlock(),
        }
    }

    fn unparker(&self) -> Unparker {
        self.unparker.clone()
    }

    fn is_main_thread(&self) -> bool {
        self.on_test_thread() && !self.running_background.load(Ordering::Relaxed)
    }

    fn now(&self) -> Instant {
        self.epoch + self.elapsed()
    }

    fn next_task_id(&self) -> TaskId {
        TaskId::from_raw(self.next_task_id.fetch_add(1, Ordering::Relaxed))
    }

    fn num_cpus(&self) -> usize {
        self.num_cpus
    }

    fn timer_cancelled(&self, timer: &TaskMetadata) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        if self.on_test_thread() {
            self.state("timer_cancelled").timers.cancel(timer.id());
        } else {
            self.inbox.post([Inbound::TimerCancelled(timer.id())]);
        }
    }

    fn task_spawned(&self, metadata: &TaskMetadata) {
        if self.on_test_thread() {
            let elapsed = self.elapsed();
            self.state("spawn").record_spawn(metadata, elapsed);
        } else {
            self.post_foreign(metadata, [Inbound::Spawned(*metadata)]);
        }
    }

    fn schedule_spawned(&self, runnable: Runnable) {
        let Some(runnable) = self.refuse_if_closed(runnable) else {
            return;
        };
        if self.on_test_thread() {
            let elapsed = self.elapsed();
            let mut state = self.state("spawn");
            state.record_spawn(runnable.metadata(), elapsed);
            state.push_ready(runnable);
        } else {
            let metadata = *runnable.metadata();
            self.post_foreign(
                &metadata,
                [Inbound::Spawned(metadata), Inbound::Ready(runnable)],
            );
        }
    }

    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        if self.on_test_thread() {
            let elapsed = self.elapsed();
            self.state("task_ended")
                .record_end(metadata, outcome, elapsed);
        } else {
            // Ending is not a wake: a task dropped on another thread is not scheduled there.
            self.inbox.post([Inbound::Ended(*metadata, outcome)]);
        }
    }

    /// Runs other tasks (and jumps to timers) instead of parking. With a timeout, gives up
    /// after a random number of ticks drawn from the block tick range, or when virtual time
    /// reaches the timeout, whichever comes first.
    fn block_on_future(
        &self,
        future: Pin<&mut dyn Future<Output = ()>>,
        timeout: Option<Duration>,
    ) -> bool {
        let (mut budget, deadline) = {
            let mut guard = self.state("block");
            let state = &mut *guard;
            let budget = timeout.map(|_| state.rng.random_range(state.block_tick_range.clone()));
            let deadline = timeout.map(|timeout| self.elapsed().saturating_add(timeout));
            (budget, deadline)
        };
        crate::block::poll_until_complete(future, self.unparker.clone(), || {
            if let Some(budget) = &mut budget {
                if *budget == 0 {
                    return false;
                }
                *budget -= 1;
            }
            match self.step(deadline) {
                Step::Progressed => true,
                Step::ReachedDeadline => false,
                Step::Deadlocked => self.deadlock(),
            }
        })
    }
}

/// What the TestScheduler's tasks hold (see [`Scheduler::task_handle`]): the engine itself.
impl TaskSink for Engine {
    fn schedule(&self, runnable: Runnable) {
        self.enqueue(runnable);
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.enqueue(runnable);
    }

    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        Scheduler::task_ended(self, metadata, outcome);
    }
}

impl Engine {
    /// Called when the [`TestScheduler`](super::TestScheduler) is dropped: drops every queued
    /// runnable and timer (cancelling their tasks) and, from now on, every runnable handed in,
    /// so no task keeps the engine alive. Panics with any unreported wake from another thread.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if !self.on_test_thread() {
            // The state belongs to the test thread and cannot be touched here. What is queued
            // stays until the engine goes; what arrives from now on is dropped.
            return;
        }
        let (ready, timers, graveyard, mut foreign_wakes) = {
            let mut state = self.state("drop");
            (
                state.ready.take_all(),
                state.timers.take_all(),
                std::mem::take(&mut state.graveyard),
                std::mem::take(&mut state.foreign_wakes),
            )
        };
        let inbound = self.inbox.take().unwrap_or_default();
        // Outside the state borrow: dropping runnables drops their futures, whose end reports
        // and cancellations call back into this (closed) engine.
        drop(ready);
        drop(timers);
        drop(graveyard);
        for item in inbound {
            if let Inbound::ForeignWake(message) = item {
                foreign_wakes.push(message);
            }
        }
        if !foreign_wakes.is_empty() && !std::thread::panicking() {
            panic!("{}", foreign_wakes.join("\n"));
        }
    }

    /// Whether the TestScheduler was dropped; the runnable is dropped if so.
    #[inline]
    fn refuse_if_closed(&self, runnable: Runnable) -> Option<Runnable> {
        if self.closed.load(Ordering::Relaxed) {
            drop(runnable);
            None
        } else {
            Some(runnable)
        }
    }
}

/// Clears the "running a background task" flag when a run ends, also by panic.
struct RestoreForeground<'a>(&'a AtomicBool);

impl Drop for RestoreForeground<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

#[inline]
fn current_thread_id() -> ThreadId {
    thread_local! {
        static ID: ThreadId = std::thread::current().id();
    }
    ID.try_with(|id| *id)
        .unwrap_or_else(|_| std::thread::current().id())
}

/// The fixed anchor of every TestScheduler's virtual clock. `Instant` has no constructor that
/// does not read a clock, so the clock is read exactly once per process, here; only differences
/// from it are ever observable, and those are purely virtual.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}
