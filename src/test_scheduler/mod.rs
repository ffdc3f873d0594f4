//! [`TestScheduler`]: a deterministic scheduler for tests, on every target (wasm32 included).
//!
//! Everything runs on the test thread. Which ready runnable runs next is a random choice drawn
//! from a seeded ChaCha8 generator, so a seed fixes the interleaving, the task ids, the virtual
//! times and therefore the output. Nothing reads the wall clock: [`now`](Scheduler::now) is a
//! fixed epoch plus virtual time, which only moves when the test advances it or when a blocked
//! future waits for the next timer and nothing else can run.

mod cancel;
mod harness;
mod ready_queue;
mod report;
mod timer_queue;
mod trace;

pub use harness::run_seeds;
pub use trace::{TaskSummary, TraceEvent};

use crate::block::BlockWaker;
use crate::{
    Instant, Runnable, Scheduler, TaskId, TaskKind, TaskLabel, TaskMetadata, TaskOutcome, Unparker,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ready_queue::ReadyQueue;
use rustc_hash::{FxHashMap, FxHashSet};
use std::future::Future;
use std::ops::{Range, RangeInclusive};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;
use std::time::Duration;
use timer_queue::TimerQueue;

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
    state: Mutex<State>,
    seed: u64,
    next_task_id: AtomicU64,
    owner: ThreadId,
    epoch: Instant,
    running_background: AtomicBool,
    parker: Mutex<parking::Parker>,
    unparker: Unparker,
    num_cpus: usize,
}

struct State {
    rng: ChaCha8Rng,
    ready: ReadyQueue,
    timers: TimerQueue,
    elapsed: Duration,
    live: FxHashMap<TaskId, TaskMetadata>,
    deprioritized: FxHashSet<TaskLabel>,
    allow_parking: bool,
    block_tick_range: RangeInclusive<usize>,
    foreign_wakes: Vec<String>,
    trace: Option<Vec<TraceEvent>>,
    ticks: u64,
    /// Tasks cancelled by [`TestScheduler::cancel_tasks`] that have not ended yet.
    cancelled: FxHashSet<TaskId>,
    /// Runnables of cancelled tasks, dropped at the next tick (outside the lock and outside
    /// whatever code woke them).
    graveyard: Vec<Runnable>,
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
            state: Mutex::new(State {
                rng: ChaCha8Rng::seed_from_u64(config.seed),
                ready: ReadyQueue::new(config.randomize_order),
                timers: TimerQueue::default(),
                elapsed: Duration::ZERO,
                live: FxHashMap::default(),
                deprioritized: FxHashSet::default(),
                allow_parking: config.allow_parking,
                block_tick_range: config.block_tick_range,
                foreign_wakes: Vec::new(),
                trace: config.trace.then(Vec::new),
                ticks: 0,
                cancelled: FxHashSet::default(),
                graveyard: Vec::new(),
            }),
            seed: config.seed,
            next_task_id: AtomicU64::new(1),
            owner: current_thread_id(),
            epoch: epoch(),
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
        self.lock().elapsed
    }

    /// Runs one ready runnable. Returns `false` if none was ready. Never moves the clock.
    ///
    /// Panics if a task was woken from another OS thread while parking is forbidden.
    pub fn tick(&self) -> bool {
        let (runnable, buried) = {
            let mut guard = self.lock();
            let state = &mut *guard;
            if !state.foreign_wakes.is_empty() {
                let message = state.foreign_wakes.join("\n");
                state.foreign_wakes.clear();
                drop(guard);
                panic!("{message}");
            }
            let buried = std::mem::take(&mut state.graveyard);
            let Some(runnable) = state.ready.pop(&mut state.rng) else {
                drop(guard);
                // Dropping cancelled runnables ends their tasks, which may queue others.
                let progressed = !buried.is_empty();
                drop(buried);
                return progressed;
            };
            let tick = state.ticks;
            state.ticks += 1;
            if let Some(trace) = &mut state.trace {
                trace.push(TraceEvent::Ran {
                    tick,
                    elapsed: state.elapsed,
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
        let mut state = self.lock();
        state.elapsed = state.elapsed.max(target);
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
        self.lock().deprioritized.insert(label);
    }

    /// Whether the task is still alive: true until it completes, panics or is cancelled.
    pub fn is_task_running(&self, id: TaskId) -> bool {
        self.lock().live.contains_key(&id)
    }

    /// Lets a blocked thread park for real, waiting for wakes from other OS threads (and stops
    /// reporting such wakes as non-determinism).
    pub fn allow_parking(&self) {
        self.lock().allow_parking = true;
    }

    /// Makes blocking with nothing to do a deadlock panic, and wakes from other OS threads a
    /// non-determinism panic (the default).
    pub fn forbid_parking(&self) {
        self.lock().allow_parking = false;
    }

    /// How many ticks a `block_with_timeout` may run before timing out: a random draw from
    /// `range` for each call.
    pub fn set_block_tick_range(&self, range: RangeInclusive<usize>) {
        assert!(!range.is_empty(), "block_tick_range must not be empty");
        self.lock().block_tick_range = range;
    }

    /// A number drawn from the scheduler's seeded generator.
    pub fn random_range(&self, range: Range<u64>) -> u64 {
        self.lock().rng.random_range(range)
    }

    /// How many runnables are ready now.
    pub fn ready_count(&self) -> usize {
        self.lock().ready.len()
    }

    /// How many timers are pending.
    pub fn pending_timer_count(&self) -> usize {
        self.lock().timers.len()
    }

    /// How many ticks have run so far.
    pub fn tick_count(&self) -> u64 {
        self.lock().ticks
    }

    /// Metadata of every live task (spawned, not yet ended), ordered by id.
    pub fn live_tasks(&self) -> Vec<TaskMetadata> {
        let mut tasks: Vec<_> = self.lock().live.values().copied().collect();
        tasks.sort_by_key(TaskMetadata::id);
        tasks
    }

    /// Starts recording [`TraceEvent`]s (if not already recording).
    pub fn enable_trace(&self) {
        let mut state = self.lock();
        if state.trace.is_none() {
            state.trace = Some(Vec::new());
        }
    }

    /// The events recorded so far, leaving the record empty (tracing stays on).
    pub fn take_trace(&self) -> Vec<TraceEvent> {
        self.lock()
            .trace
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic inside the scheduler (a deadlock report) must not make later calls fail.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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
        let runnable = {
            let mut state = self.lock();
            let Some((deadline, runnable)) = state.timers.pop_due(limit) else {
                return false;
            };
            state.elapsed = state.elapsed.max(deadline);
            runnable
        };
        self.run(runnable);
        true
    }

    /// One unit of simulated progress toward `deadline`.
    fn step(&self, deadline: Option<Duration>) -> Step {
        if self.tick() {
            return Step::Progressed;
        }
        let (next_timer, allow_parking) = {
            let state = self.lock();
            (state.timers.next_deadline(), state.allow_parking)
        };
        let limit = deadline.unwrap_or(Duration::MAX);
        if next_timer.is_some_and(|timer| timer <= limit) && self.fire_next_timer(limit) {
            return Step::Progressed;
        }
        if allow_parking {
            let parker = self.parker.lock().unwrap_or_else(PoisonError::into_inner);
            // With real threads in play the wait is real too, bounded by the virtual remainder.
            match deadline {
                None => parker.park(),
                Some(deadline) => {
                    let remaining = deadline.saturating_sub(self.elapsed());
                    if !parker.park_timeout(remaining) {
                        self.lock().elapsed = deadline;
                        return Step::ReachedDeadline;
                    }
                }
            }
            return Step::Progressed;
        }
        match deadline {
            Some(deadline) => {
                let mut state = self.lock();
                state.elapsed = state.elapsed.max(deadline);
                Step::ReachedDeadline
            }
            None => Step::Deadlocked,
        }
    }

    fn deadlock(&self) -> ! {
        let pending = self.lock().live.values().copied().collect();
        panic!("{}", report::deadlock(self.seed, pending));
    }

    fn enqueue(&self, runnable: Runnable) {
        let foreign = current_thread_id() != self.owner;
        {
            let mut state = self.lock();
            if foreign && !state.allow_parking {
                let message = report::foreign_wake(runnable.metadata());
                state.foreign_wakes.push(message);
            }
            if state.cancelled.contains(&runnable.metadata().id()) {
                state.graveyard.push(runnable);
            } else {
                let deprioritized = runnable
                    .metadata()
                    .label()
                    .is_some_and(|label| state.deprioritized.contains(&label));
                state.ready.push(runnable, deprioritized);
            }
        }
        if foreign {
            self.unparker.unpark();
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
        let foreign = current_thread_id() != self.owner;
        let mut state = self.lock();
        if foreign && !state.allow_parking {
            let message = report::foreign_wake(runnable.metadata());
            state.foreign_wakes.push(message);
        }
        let deadline = state.elapsed.saturating_add(delay);
        state.timers.push(deadline, runnable);
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
        current_thread_id() == self.owner && !self.running_background.load(Ordering::Relaxed)
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
        self.lock().timers.cancel(timer.id());
    }

    fn task_spawned(&self, metadata: &TaskMetadata) {
        let mut state = self.lock();
        state.live.insert(metadata.id(), *metadata);
        let elapsed = state.elapsed;
        if let Some(trace) = &mut state.trace {
            trace.push(TraceEvent::Spawned {
                elapsed,
                task: metadata.into(),
            });
        }
    }

    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        let mut state = self.lock();
        state.live.remove(&metadata.id());
        state.cancelled.remove(&metadata.id());
        let elapsed = state.elapsed;
        if let Some(trace) = &mut state.trace {
            trace.push(TraceEvent::Ended {
                elapsed,
                task: metadata.into(),
                outcome,
            });
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
            let mut guard = self.lock();
            let state = &mut *guard;
            let budget = timeout.map(|_| state.rng.random_range(state.block_tick_range.clone()));
            let deadline = timeout.map(|timeout| state.elapsed.saturating_add(timeout));
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
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let ready = state.ready.take_all();
        let timers = state.timers.take_all();
        let graveyard = std::mem::take(&mut state.graveyard);
        let foreign_wakes = std::mem::take(&mut state.foreign_wakes);
        // Dropping runnables drops their futures; their callbacks find this scheduler gone
        // (their `Weak` no longer upgrades), so nothing re-enters it.
        drop(ready);
        drop(timers);
        drop(graveyard);
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
