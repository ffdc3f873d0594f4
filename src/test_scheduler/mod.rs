//! [`TestScheduler`]: a deterministic scheduler for tests, on every target (wasm32 included).
//!
//! Everything runs on the test thread. Which ready runnable runs next is a random choice drawn
//! from a seeded PCG generator (a fixed algorithm), so a seed fixes the interleaving, the task ids, the virtual
//! times and therefore the output. Nothing reads the wall clock: [`now`](Scheduler::now) is a
//! fixed epoch plus virtual time, which only moves when the test advances it or when a blocked
//! future waits for the next timer and nothing else can run.

mod cancel;
mod harness;
mod inbox;
mod owner_cell;
mod ready_queue;
mod registry;
mod report;
mod timer_queue;
mod trace;

pub use harness::run_seeds;
pub use trace::{TaskSummary, TraceEvent};

use crate::block::BlockWaker;
use crate::{
    Instant, Runnable, Scheduler, TaskId, TaskKind, TaskLabel, TaskMetadata, TaskOutcome, Unparker,
};
use inbox::{Inbound, Inbox};
use owner_cell::{OwnerCell, OwnerGuard};
use rand::{RngExt, SeedableRng};
use ready_queue::ReadyQueue;
use registry::Registry;
use rustc_hash::FxHashSet;
use std::future::Future;
use std::ops::{Range, RangeInclusive};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;
use std::time::Duration;
use timer_queue::TimerQueue;

/// The scheduler's random source: PCG XSL 128/64 (MCG), a fixed algorithm, so a seed means the
/// same stream on every target and every version of this crate's dependencies.
type Rng = rand_pcg::Pcg64Mcg;

/// How a [`TestScheduler`] behaves. `TestSchedulerConfig::default()` is seed 0 with random
/// interleaving on.
#[derive(Clone, Debug)]
pub struct TestSchedulerConfig {
    /// The seed of the random choices.
    pub seed: u64,
    /// Pick a random ready runnable (the default) instead of the oldest one.
    pub randomize_order: bool,
    /// Whether a blocked thread may park for real, waiting for other OS threads.
    pub allow_parking: bool,
    /// How many ticks `block_with_timeout` may run before it times out (a random draw).
    pub block_tick_range: RangeInclusive<usize>,
    /// What [`Scheduler::num_cpus`] reports.
    pub num_cpus: usize,
    /// Record a [`TraceEvent`] for every spawn, run and end.
    pub trace: bool,
}

impl Default for TestSchedulerConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            randomize_order: true,
            allow_parking: false,
            block_tick_range: 10..=1000,
            num_cpus: 4,
            trace: false,
        }
    }
}

impl TestSchedulerConfig {
    /// The default configuration with `seed`.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }
}

/// A deterministic [`Scheduler`] for tests.
///
/// Everything runs on the thread that created it (the test thread); calling its driving methods
/// (`tick`, `run_until_parked`, `block`, …) from another thread is a clear panic. Wakes, spawns
/// and drops from other OS threads are accepted but, unless parking is allowed, reported as
/// non-determinism at the next tick (or when the scheduler is dropped).
///
/// ```
/// use scheduler::{Scheduler, TestScheduler};
/// use std::sync::{Arc, Mutex};
///
/// fn order(seed: u64) -> Vec<u32> {
///     let test = Arc::new(TestScheduler::with_seed(seed));
///     let scheduler: Arc<dyn Scheduler> = test.clone();
///     let log = Arc::new(Mutex::new(Vec::new()));
///     for i in 0..5 {
///         let log = log.clone();
///         scheduler.spawn(async move { log.lock().unwrap().push(i) }).detach();
///     }
///     test.run_until_parked();
///     let order = log.lock().unwrap().clone();
///     order
/// }
/// assert_eq!(order(7), order(7)); // same seed, same interleaving
/// ```
pub struct TestScheduler {
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
}

struct State {
    rng: Rng,
    ready: ReadyQueue,
    timers: TimerQueue,
    live: Registry,
    deprioritized: FxHashSet<TaskLabel>,
    block_tick_range: RangeInclusive<usize>,
    foreign_wakes: Vec<String>,
    trace: Option<Vec<TraceEvent>>,
    ticks: u64,
    /// Tasks cancelled by [`TestScheduler::cancel_tasks`] that have not ended yet.
    cancelled: FxHashSet<TaskId>,
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

impl Default for TestScheduler {
    fn default() -> Self {
        Self::new(TestSchedulerConfig::default())
    }
}

impl TestScheduler {
    /// A scheduler configured by `config`. The calling thread becomes its test (main) thread.
    pub fn new(config: TestSchedulerConfig) -> Self {
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
        }
    }

    /// A scheduler with the default configuration and `seed`.
    pub fn with_seed(seed: u64) -> Self {
        Self::new(TestSchedulerConfig::with_seed(seed))
    }

    /// The seed this scheduler was made with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Virtual time since the scheduler was created.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos.load(Ordering::Relaxed))
    }

    /// Runs one ready runnable. Returns `false` if none was ready. Never moves the clock.
    ///
    /// Panics if a task was woken from another OS thread while parking is forbidden.
    pub fn tick(&self) -> bool {
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

    /// Runs ready runnables until none is left. Never moves the clock.
    pub fn run_until_parked(&self) {
        while self.tick() {}
    }

    /// Runs what is ready now, then moves the clock forward by `duration`, firing each timer
    /// that comes due in deadline order, at its own deadline, and running what it wakes.
    pub fn advance_clock(&self, duration: Duration) {
        self.run_until_parked();
        let target = self.elapsed() + duration;
        while self.fire_next_timer(target) {
            self.run_until_parked();
        }
        self.advance_to(target);
    }

    /// A future that yields a random number of times (0 to 9, drawn now), letting other tasks
    /// run in between: sprinkle it where real code would take a variable amount of time.
    pub fn simulate_random_delay(&self) -> impl Future<Output = ()> + Send + 'static {
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

    /// Makes tasks spawned with `label` run only when nothing else can (before the clock jumps
    /// to the next timer). Applies to runnables scheduled from now on.
    pub fn deprioritize(&self, label: TaskLabel) {
        self.state("deprioritize").deprioritized.insert(label);
    }

    /// Whether the task is still alive: true until it completes, panics or is cancelled.
    pub fn is_task_running(&self, id: TaskId) -> bool {
        self.drain_inbox();
        self.state("is_task_running").live.contains(id)
    }

    /// Lets a blocked thread park for real, waiting for wakes from other OS threads (and stops
    /// reporting such wakes as non-determinism).
    pub fn allow_parking(&self) {
        self.allow_parking.store(true, Ordering::SeqCst);
    }

    /// Makes blocking with nothing to do a deadlock panic, and wakes from other OS threads a
    /// non-determinism panic (the default).
    pub fn forbid_parking(&self) {
        self.allow_parking.store(false, Ordering::SeqCst);
    }

    /// How many ticks a `block_with_timeout` may run before timing out: a random draw from
    /// `range` for each call.
    pub fn set_block_tick_range(&self, range: RangeInclusive<usize>) {
        assert!(!range.is_empty(), "block_tick_range must not be empty");
        self.state("set_block_tick_range").block_tick_range = range;
    }

    /// A number drawn from the scheduler's seeded generator.
    pub fn random_range(&self, range: Range<u64>) -> u64 {
        self.state("random_range").rng.random_range(range)
    }

    /// How many runnables are ready now.
    pub fn ready_count(&self) -> usize {
        self.drain_inbox();
        self.state("ready_count").ready.len()
    }

    /// How many timers are pending.
    pub fn pending_timer_count(&self) -> usize {
        self.drain_inbox();
        self.state("pending_timer_count").timers.len()
    }

    /// How many ticks have run so far.
    pub fn tick_count(&self) -> u64 {
        self.state("tick_count").ticks
    }

    /// How many tasks are alive (spawned, not yet ended).
    pub fn live_task_count(&self) -> usize {
        self.drain_inbox();
        self.state("live_task_count").live.len()
    }

    /// Metadata of every live task (spawned, not yet ended), ordered by id.
    pub fn live_tasks(&self) -> Vec<TaskMetadata> {
        self.drain_inbox();
        self.state("live_tasks").live.live()
    }

    /// Starts recording [`TraceEvent`]s (if not already recording).
    pub fn enable_trace(&self) {
        let mut state = self.state("enable_trace");
        if state.trace.is_none() {
            state.trace = Some(Vec::new());
        }
    }

    /// The events recorded so far, leaving the record empty (tracing stays on).
    pub fn take_trace(&self) -> Vec<TraceEvent> {
        let mut state = self.state("take_trace");
        state.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    #[inline]
    /// The scheduling state, for the test thread only (`what` names the caller in the panic).
    fn state(&self, what: &str) -> OwnerGuard<'_, State> {
        self.state.borrow_mut(current_thread_id(), what)
    }

    fn on_test_thread(&self) -> bool {
        self.state.is_owner(current_thread_id())
    }

    fn advance_to(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.elapsed_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    /// Applies what other threads handed in (a single relaxed load when nothing was).
    #[inline]
    fn drain_inbox(&self) {
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

impl Scheduler for TestScheduler {
    fn schedule(&self, runnable: Runnable) {
        self.enqueue(runnable);
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.enqueue(runnable);
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
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
        mut future: Pin<&mut dyn Future<Output = ()>>,
        timeout: Option<Duration>,
    ) -> bool {
        let (mut budget, deadline) = {
            let mut guard = self.state("block");
            let state = &mut *guard;
            let budget = timeout.map(|_| state.rng.random_range(state.block_tick_range.clone()));
            let deadline = timeout.map(|timeout| self.elapsed().saturating_add(timeout));
            (budget, deadline)
        };
        let block_waker = BlockWaker::new(self.unparker.clone());
        let waker = Waker::from(block_waker.clone());
        let mut cx = Context::from_waker(&waker);
        loop {
            if future.as_mut().poll(&mut cx).is_ready() {
                return true;
            }
            while !block_waker.take_wake() {
                if let Some(budget) = &mut budget {
                    if *budget == 0 {
                        return false;
                    }
                    *budget -= 1;
                }
                match self.step(deadline) {
                    Step::Progressed => {}
                    Step::ReachedDeadline => return false,
                    Step::Deadlocked => self.deadlock(),
                }
            }
        }
    }
}

impl Drop for TestScheduler {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let ready = state.ready.take_all();
        let timers = state.timers.take_all();
        let graveyard = std::mem::take(&mut state.graveyard);
        let mut foreign_wakes = std::mem::take(&mut state.foreign_wakes);
        let inbound = self.inbox.take().unwrap_or_default();
        // Dropping runnables drops their futures; their callbacks find this scheduler gone
        // (their `Weak` no longer upgrades), so nothing re-enters it.
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
