//! [`TestScheduler`]: a deterministic scheduler for tests, on every target (wasm32 included).
//!
//! Everything runs on the test thread. Which ready runnable runs next is a random choice drawn
//! from a seeded PCG generator (a fixed algorithm), so a seed fixes the interleaving, the task ids, the virtual
//! times and therefore the output. Nothing reads the wall clock: [`now`](Scheduler::now) is a
//! fixed epoch plus virtual time, which only moves when the test advances it or when a blocked
//! future waits for the next timer and nothing else can run.

mod cancel;
mod engine;
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

use crate::TaskSink;
use crate::{Instant, Runnable, Scheduler, TaskId, TaskLabel, TaskMetadata, TaskOutcome, Unparker};
use engine::Engine;
use std::future::Future;
use std::ops::{Range, RangeInclusive};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

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
    engine: Arc<Engine>,
}

impl Default for TestScheduler {
    fn default() -> Self {
        Self::new(TestSchedulerConfig::default())
    }
}

impl TestScheduler {
    /// A scheduler configured by `config`. The calling thread becomes its test (main) thread.
    pub fn new(config: TestSchedulerConfig) -> Self {
        Self {
            engine: Arc::new(Engine::new(config)),
        }
    }

    /// A scheduler with the default configuration and `seed`.
    pub fn with_seed(seed: u64) -> Self {
        Self::new(TestSchedulerConfig::with_seed(seed))
    }

    /// The seed this scheduler was made with.
    pub fn seed(&self) -> u64 {
        self.engine.seed()
    }

    /// Virtual time since the scheduler was created.
    pub fn elapsed(&self) -> Duration {
        self.engine.elapsed()
    }

    /// Runs one ready runnable. Returns `false` if none was ready. Never moves the clock.
    ///
    /// Panics if a task was woken from another OS thread while parking is forbidden.
    pub fn tick(&self) -> bool {
        self.engine.tick()
    }

    /// Runs ready runnables until none is left. Never moves the clock.
    pub fn run_until_parked(&self) {
        self.engine.run_until_parked()
    }

    /// Runs what is ready now, then moves the clock forward by `duration`, firing each timer
    /// that comes due in deadline order, at its own deadline, and running what it wakes.
    pub fn advance_clock(&self, duration: Duration) {
        self.engine.advance_clock(duration)
    }

    /// A future that yields a random number of times (0 to 9, drawn now), letting other tasks
    /// run in between: sprinkle it where real code would take a variable amount of time.
    pub fn simulate_random_delay(&self) -> impl Future<Output = ()> + Send + 'static {
        self.engine.simulate_random_delay()
    }

    /// Makes tasks spawned with `label` run only when nothing else can (before the clock jumps
    /// to the next timer). Applies to runnables scheduled from now on.
    pub fn deprioritize(&self, label: TaskLabel) {
        self.engine.deprioritize(label)
    }

    /// Whether the task is still alive: true until it completes, panics or is cancelled.
    pub fn is_task_running(&self, id: TaskId) -> bool {
        self.engine.is_task_running(id)
    }

    /// Lets a blocked thread park for real, waiting for wakes from other OS threads (and stops
    /// reporting such wakes as non-determinism).
    pub fn allow_parking(&self) {
        self.engine.allow_parking()
    }

    /// Makes blocking with nothing to do a deadlock panic, and wakes from other OS threads a
    /// non-determinism panic (the default).
    pub fn forbid_parking(&self) {
        self.engine.forbid_parking()
    }

    /// How many ticks a `block_with_timeout` may run before timing out: a random draw from
    /// `range` for each call.
    pub fn set_block_tick_range(&self, range: RangeInclusive<usize>) {
        self.engine.set_block_tick_range(range)
    }

    /// A number drawn from the scheduler's seeded generator.
    pub fn random_range(&self, range: Range<u64>) -> u64 {
        self.engine.random_range(range)
    }

    /// How many runnables are ready now.
    pub fn ready_count(&self) -> usize {
        self.engine.ready_count()
    }

    /// How many timers are pending.
    pub fn pending_timer_count(&self) -> usize {
        self.engine.pending_timer_count()
    }

    /// How many ticks have run so far.
    pub fn tick_count(&self) -> u64 {
        self.engine.tick_count()
    }

    /// How many tasks are alive (spawned, not yet ended).
    pub fn live_task_count(&self) -> usize {
        self.engine.live_task_count()
    }

    /// Metadata of every live task (spawned, not yet ended), ordered by id.
    pub fn live_tasks(&self) -> Vec<TaskMetadata> {
        self.engine.live_tasks()
    }

    /// Starts recording [`TraceEvent`]s (if not already recording).
    pub fn enable_trace(&self) {
        self.engine.enable_trace()
    }

    /// The events recorded so far, leaving the record empty (tracing stays on).
    pub fn take_trace(&self) -> Vec<TraceEvent> {
        self.engine.take_trace()
    }
}

/// Every call goes to the engine; tasks get the engine itself as their handle.
impl Scheduler for TestScheduler {
    fn schedule(&self, runnable: Runnable) {
        Scheduler::schedule(&*self.engine, runnable);
    }

    fn schedule_labeled(&self, runnable: Runnable, label: TaskLabel) {
        Scheduler::schedule_labeled(&*self.engine, runnable, label);
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        Scheduler::schedule_foreground(&*self.engine, runnable);
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        self.engine.schedule_after(delay, runnable);
    }

    fn park(&self, timeout: Option<Duration>) -> bool {
        self.engine.park(timeout)
    }

    fn unparker(&self) -> Unparker {
        self.engine.unparker()
    }

    fn is_main_thread(&self) -> bool {
        self.engine.is_main_thread()
    }

    fn now(&self) -> Instant {
        self.engine.now()
    }

    fn next_task_id(&self) -> TaskId {
        self.engine.next_task_id()
    }

    fn num_cpus(&self) -> usize {
        self.engine.num_cpus()
    }

    fn timer_cancelled(&self, timer: &TaskMetadata) {
        self.engine.timer_cancelled(timer);
    }

    fn task_spawned(&self, metadata: &TaskMetadata) {
        self.engine.task_spawned(metadata);
    }

    fn schedule_spawned(&self, runnable: Runnable) {
        self.engine.schedule_spawned(runnable);
    }

    fn task_handle(&self) -> Option<Arc<dyn TaskSink>> {
        Some(self.engine.clone())
    }

    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        Scheduler::task_ended(&*self.engine, metadata, outcome);
    }

    fn block_on_future(
        &self,
        future: Pin<&mut dyn Future<Output = ()>>,
        timeout: Option<Duration>,
    ) -> bool {
        self.engine.block_on_future(future, timeout)
    }
}

impl Drop for TestScheduler {
    /// Closes the engine: queued runnables and timers are dropped (cancelling their tasks),
    /// later wakes are dropped too, and an unreported wake from another thread panics here.
    fn drop(&mut self) {
        self.engine.close();
    }
}
