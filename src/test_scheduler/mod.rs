//! [`TestScheduler`]: a deterministic scheduler for tests, on every target (wasm32 included).
//!
//! Everything runs on the test thread. Which ready runnable runs next is chosen by the
//! [`Strategy`] (by default a random choice) from seeded PCG generators (a fixed algorithm), so
//! a seed fixes the interleaving, the task ids, the virtual times and therefore the output.
//! Nothing reads the wall clock: [`now`](crate::Scheduler::now) is a fixed epoch plus virtual
//! time, which only moves when the test advances it or when a blocked future waits for the next
//! timer and nothing else can run.
//!
//! Layout (imports only point down this list; `scripts/check-modules.py` checks it):
//! - this file: [`TestScheduler`], its whole public API (driving, the clock, inspection,
//!   cancelling, the timeline, the seed harness's entry points) and its [`Scheduler`] impl, and
//!   [`TestSchedulerConfig`];
//! - `harness/`: the seed harness ([`run_seeds`], the schedules of a run, the frame every
//!   scheduler of a schedule takes its directions from, replay files, the determinism check,
//!   the environment);
//! - `engine/`: the simulation (its state, what comes in from spawns, wakes and other threads,
//!   the ready queue, timers and the virtual clock, the live-task registry, the trace); it
//!   imports only `explore/` and the timeline's recorder;
//! - `explore/`: the choices ([`Strategy`], the chooser, PCT, the exhaustive search, random
//!   draws recorded and replayed, the seeded generator and its picks), pure decisions over
//!   candidates;
//! - `timeline/`: the record of a run and its Chrome trace writer.

mod config;
mod engine;
mod explore;
mod harness;
mod timeline;

pub use config::TestSchedulerConfig;
pub use engine::trace::{TaskSummary, TraceEvent};
pub use explore::{
    DEFAULT_PCT_DEPTH, DEFAULT_PCT_STEPS, MAX_PCT_DEPTH, MAX_PCT_STEPS, ParseStrategyError,
    Strategy,
};
pub use harness::{SearchOutcome, run_seeds};
pub use timeline::{InstantKind, TIMELINE_LIMIT};

use crate::scheduler::{Role, handle_pair};
use crate::{
    BackgroundExecutor, DedicatedThread, ForegroundExecutor, Instant, Runnable, Scheduler,
    SessionId, SystemTime, Task, TaskId, TaskLabel, TaskMetadata, TaskOutcome, Timer, Unparker,
    session,
};
use engine::Engine;
use harness::frame;
use std::fmt;
use std::fmt::Display;
use std::future::Future;
use std::ops::{Range, RangeInclusive};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use timeline::chrome_trace::{self, Process};
use timeline::{Mark, Timeline, What};

// [`TestScheduler`]: the handle a test holds, its two roles, and its conveniences (spawning,
// blocking, executors).

/// A deterministic [`Scheduler`] for tests.
///
/// Everything runs on the thread that created it (the test thread); calling its driving methods
/// (`tick`, `run_until_parked`, `block`, …) from another thread is a clear panic. Wakes, spawns
/// and drops from other OS threads are accepted but, unless parking is allowed, reported as
/// non-determinism at the next tick (or when the scheduler is dropped). A task that panics with
/// nobody awaiting it fails the test the same way.
///
/// One handle is all a test needs: [`many`](Self::many) runs an async test body over many
/// seeds, and the handle spawns, blocks, makes executors and drives the simulation.
///
/// ```
/// use scheduler::TestScheduler;
/// use std::sync::{Arc, Mutex};
///
/// let orders = TestScheduler::many(20, async |test| {
///     let log = Arc::new(Mutex::new(Vec::new()));
///     let tasks: Vec<_> = (0..5)
///         .map(|i| {
///             let log = log.clone();
///             test.spawn(async move { log.lock().unwrap().push(i) })
///         })
///         .collect();
///     futures::future::join_all(tasks).await;
///     let order = log.lock().unwrap().clone();
///     order
/// });
/// assert!(orders.iter().any(|order| order != &orders[0]), "seeds interleave differently");
/// ```
pub struct TestScheduler {
    pub(crate) engine: Arc<Engine>,
    /// Which handle this is (see [`Scheduler::task_handle`]): dropping the test's closes the
    /// engine; its tasks hold the other one.
    pub(crate) role: Role<TestScheduler>,
}

impl TestScheduler {
    /// Where the fake wall clock ([`utc_now`](Scheduler::utc_now)) of every TestScheduler
    /// starts, since the Unix epoch: 2026-01-01T00:00:00Z. It moves with virtual time, and
    /// [`set_utc_now`](Self::set_utc_now) moves it.
    pub const UTC_START: Duration = engine::UTC_START;

    /// A scheduler configured by `config`. The calling thread becomes its test (main) thread.
    ///
    /// Created while the seed harness ([`many`](Self::many), [`run_seeds`](crate::run_seeds))
    /// runs a seed on this thread, it also follows the harness: `STRATEGY=` replaces
    /// `config.strategy`, a `REPLAY=` file's choices are followed, and its choices are recorded
    /// for a replay file.
    pub fn new(mut config: TestSchedulerConfig) -> Arc<Self> {
        let directions = frame::directions(&mut config);
        let engine = Arc::new(Engine::new(config, directions));
        frame::register(&engine);
        handle_pair(|role| Self {
            engine: engine.clone(),
            role,
        })
    }

    /// A scheduler with the default configuration and `seed`.
    pub fn with_seed(seed: u64) -> Arc<Self> {
        Self::new(TestSchedulerConfig::with_seed(seed))
    }

    /// This scheduler as the `Arc<dyn Scheduler>` that the spawn helpers and executors take.
    pub fn as_dyn(self: &Arc<Self>) -> Arc<dyn Scheduler> {
        self.clone()
    }

    /// A [`BackgroundExecutor`] on this scheduler.
    pub fn background(self: &Arc<Self>) -> BackgroundExecutor {
        BackgroundExecutor::new(self.as_dyn())
    }

    /// A [`ForegroundExecutor`] on this scheduler (tasks of the session current now, if any).
    pub fn foreground(self: &Arc<Self>) -> ForegroundExecutor {
        ForegroundExecutor::new(self.as_dyn())
    }

    /// Spawns a background task (see `spawn` on `dyn Scheduler`).
    #[track_caller]
    pub fn spawn<F>(self: &Arc<Self>, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.as_dyn().spawn(future)
    }

    /// Spawns a `!Send` task on the test thread, which is the main thread (see
    /// `spawn_foreground` on `dyn Scheduler`).
    #[track_caller]
    pub fn spawn_foreground<F>(self: &Arc<Self>, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.as_dyn().spawn_foreground(future)
    }

    /// A future that completes after `duration` of virtual time.
    #[track_caller]
    pub fn timer(self: &Arc<Self>, duration: Duration) -> Timer {
        self.as_dyn().timer(duration)
    }

    /// Runs the simulation until `future` completes, and returns its output (see `block` on
    /// `dyn Scheduler`): a future that can never complete panics with a deadlock report.
    #[track_caller]
    pub fn block<F: Future>(&self, future: F) -> F::Output {
        (self as &dyn Scheduler).block(future)
    }

    /// The seed this scheduler was made with.
    pub fn seed(&self) -> u64 {
        self.engine.seed
    }

    /// The exploration strategy it follows.
    pub fn strategy(&self) -> Strategy {
        self.engine.strategy
    }

    /// Virtual time since the scheduler was created.
    pub fn elapsed(&self) -> Duration {
        self.engine.elapsed()
    }

    // The seed harness.

    /// Runs the async test body `test` once per seed, each time on a fresh `TestScheduler` of
    /// that seed, and returns the outputs in seed order. Seeds are `0..iterations`, or
    /// `0..ITERATIONS` when that environment variable is set, or only `SEED` when that is set.
    /// When a seed fails, runs it once more, quietly, recording its choices and its timeline (a
    /// passing seed records neither), writes them to a replay file and a timeline file under
    /// the target directory, prints the seed and the exact command that reruns it, then
    /// re-raises the first run's panic.
    /// `STRATEGY=random|pct[:depth[:steps]]|exhaustive` picks the strategy, `REPLAY=<file>`
    /// reruns a recorded schedule, `CHECK_DETERMINISM=1` runs every seed twice and fails where
    /// the two traces differ.
    ///
    /// The body runs on the test thread, which is the main thread: it may spawn foreground and
    /// background tasks and await them; the scheduler runs everything else meanwhile.
    ///
    /// ```
    /// use scheduler::TestScheduler;
    /// TestScheduler::many(10, async |test| {
    ///     let task = test.background().spawn(async { 1 + 1 });
    ///     assert_eq!(task.await, 2);
    /// });
    /// ```
    pub fn many<R>(iterations: u64, test: impl AsyncFnMut(Arc<TestScheduler>) -> R) -> Vec<R> {
        Self::many_with(TestSchedulerConfig::default(), iterations, test)
    }

    /// [`many`](Self::many) with every scheduler made from `config` (its seed replaced by each
    /// schedule's): its [`strategy`](TestSchedulerConfig::strategy) picks the schedules (the
    /// exhaustive search runs at most `iterations` and stops early once it ran them all), and
    /// [`check_determinism`](TestSchedulerConfig::check_determinism) runs each one twice.
    pub fn many_with<R>(
        config: TestSchedulerConfig,
        iterations: u64,
        mut test: impl AsyncFnMut(Arc<TestScheduler>) -> R,
    ) -> Vec<R> {
        let check = config.check_determinism;
        harness::run(iterations, check, |seed| {
            let scheduler = TestScheduler::new(TestSchedulerConfig {
                seed,
                ..config.clone()
            });
            let output = scheduler.block(test(scheduler.clone()));
            drop(scheduler);
            output
        })
    }

    /// Runs `body` on one fresh scheduler per schedule of `config.strategy` (seeds
    /// `config.seed`, `config.seed + 1`, … or the exhaustive search's schedules) until it
    /// returns `true` or `limit` schedules ran: how many schedules it took to find what `body`
    /// looks for. Reads no environment variable; a panic in `body` propagates.
    ///
    /// ```
    /// use scheduler::{Strategy, TestScheduler, TestSchedulerConfig};
    /// use std::sync::{Arc, Mutex};
    /// let config = TestSchedulerConfig { strategy: Strategy::Exhaustive, ..Default::default() };
    /// let outcome = TestScheduler::search(config, 100, |test| {
    ///     let order = Arc::new(Mutex::new(Vec::new()));
    ///     for name in ["a", "b"] {
    ///         let order = order.clone();
    ///         test.spawn(async move { order.lock().unwrap().push(name) }).detach();
    ///     }
    ///     test.run_until_parked();
    ///     let order = order.lock().unwrap().clone();
    ///     order == ["b", "a"]
    /// });
    /// assert!(outcome.found && outcome.schedules <= 2);
    /// ```
    pub fn search(
        config: TestSchedulerConfig,
        limit: u64,
        mut body: impl FnMut(&Arc<TestScheduler>) -> bool,
    ) -> SearchOutcome {
        harness::search(config.seed, limit, |seed| {
            body(&TestScheduler::new(TestSchedulerConfig {
                seed,
                ..config.clone()
            }))
        })
    }

    // Driving the simulation, shaping its choices, looking inside.

    /// Runs one ready runnable; if none is ready, fires one timer that is already due (its
    /// deadline is not after the virtual now, e.g. a `timer(Duration::ZERO)`). Returns `false`
    /// if there was neither. Never moves the clock.
    ///
    /// Panics if a task was woken from another OS thread while parking is forbidden, or if a
    /// task panicked with nobody awaiting it.
    pub fn tick(&self) -> bool {
        self.engine.tick()
    }

    /// Runs ready runnables (and fires timers already due) until none is left. Never moves the
    /// clock.
    pub fn run_until_parked(&self) {
        self.engine.run_until_parked()
    }

    /// Runs what is ready now, then moves the clock forward by `duration`, firing each timer
    /// that comes due in deadline order, at its own deadline, and running what it wakes.
    /// `Duration::MAX` is allowed: every pending timer fires.
    pub fn advance_clock(&self, duration: Duration) {
        self.engine.advance_clock(duration)
    }

    /// A future that yields a random number of times (0 to 9, drawn now), letting other tasks
    /// run in between: sprinkle it where real code would take a variable amount of time.
    pub fn simulate_random_delay(&self) -> impl Future<Output = ()> + Send + 'static + use<> {
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

    /// Sets the fake wall clock ([`utc_now`](crate::Scheduler::utc_now)) to `now`; it moves on
    /// with virtual time from there. For testing date rollovers, expiry, time zones:
    ///
    /// ```
    /// use scheduler::{Scheduler, TestScheduler};
    /// use std::time::{Duration, SystemTime};
    ///
    /// let test = TestScheduler::with_seed(0);
    /// let midnight = SystemTime::UNIX_EPOCH + TestScheduler::UTC_START; // 2026-01-01T00:00Z
    /// assert_eq!(test.utc_now(), midnight);
    /// test.set_utc_now(midnight - Duration::from_secs(1)); // 2025-12-31T23:59:59Z
    /// test.advance_clock(Duration::from_secs(1));
    /// assert_eq!(test.utc_now(), midnight);
    /// ```
    pub fn set_utc_now(&self, now: SystemTime) {
        self.engine.set_utc_now(now);
    }

    /// Makes tasks spawned with `label` run only when nothing else can (before the clock jumps
    /// to the next timer). Applies to runnables scheduled from now on.
    pub fn deprioritize(&self, label: TaskLabel) {
        self.engine
            .state("deprioritize")
            .deprioritized
            .insert(label);
    }

    /// Whether the task is still alive: true until it completes, panics or is cancelled.
    pub fn is_task_running(&self, id: TaskId) -> bool {
        self.engine.drain_inbox();
        self.engine.state("is_task_running").live.contains(id)
    }

    /// Lets a blocked thread park for real, waiting for wakes from other OS threads (and stops
    /// reporting such wakes as non-determinism).
    pub fn allow_parking(&self) {
        self.engine.allow_parking.store(true, Ordering::SeqCst);
    }

    /// Makes blocking with nothing to do a deadlock panic, and wakes from other OS threads a
    /// non-determinism panic (the default).
    pub fn forbid_parking(&self) {
        self.engine.allow_parking.store(false, Ordering::SeqCst);
    }

    /// How many ticks a `block_with_timeout` may run before timing out: a random draw from
    /// `range` for each call, made when it first has to wait.
    pub fn set_block_tick_range(&self, range: RangeInclusive<usize>) {
        assert!(!range.is_empty(), "block_tick_range must not be empty");
        self.engine.state("set_block_tick_range").block_tick_range = range;
    }

    /// A number drawn from the scheduler's seeded generator.
    pub fn random_range(&self, range: Range<u64>) -> u64 {
        self.engine.random_range(range)
    }

    /// How many runnables are ready now.
    pub fn ready_count(&self) -> usize {
        self.engine.drain_inbox();
        self.engine.state("ready_count").ready.len()
    }

    /// How many timers are pending.
    pub fn pending_timer_count(&self) -> usize {
        self.engine.drain_inbox();
        self.engine.state("pending_timer_count").timers.len()
    }

    /// How many ticks have run so far.
    pub fn tick_count(&self) -> u64 {
        self.engine.state("tick_count").ticks
    }

    /// How many of those ticks were *choice points*: more than one runnable could run, so the
    /// [strategy](crate::Strategy) chose. A good `steps` for [`Strategy::Pct`](crate::Strategy::Pct)
    /// is about this count at the end of a typical run of the test.
    pub fn choice_count(&self) -> u64 {
        self.engine.state("choice_count").chooser.choice_points()
    }

    /// How many tasks are alive (spawned, not yet ended).
    pub fn live_task_count(&self) -> usize {
        self.engine.drain_inbox();
        self.engine.state("live_task_count").live.len()
    }

    /// Metadata of every live task (spawned, not yet ended), ordered by id.
    pub fn live_tasks(&self) -> Vec<TaskMetadata> {
        self.engine.drain_inbox();
        self.engine.state("live_tasks").live.live()
    }

    /// Starts recording [`TraceEvent`]s (if not already recording).
    pub fn enable_trace(&self) {
        let mut state = self.engine.state("enable_trace");
        if state.trace.is_none() {
            state.trace = Some(Vec::new());
            state.update_recording();
        }
    }

    /// The events recorded so far, leaving the record empty (tracing stays on).
    pub fn take_trace(&self) -> Vec<TraceEvent> {
        let mut state = self.engine.state("take_trace");
        state.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// A session id not handed out before by this scheduler: simulated requests
    /// ([`SimulatedExecutionContext`](crate::cloud::SimulatedExecutionContext)) take theirs
    /// here, so two simulations on one scheduler never share a session.
    pub fn create_session(&self) -> crate::SessionId {
        crate::SessionId::from_raw(self.engine.next_session_id())
    }

    // Cancelling tasks from outside (the cloud simulation ends a request's leftovers so).

    /// Cancels the live tasks among `ids` (ids of ended or unknown tasks are ignored) and
    /// returns how many it cancelled.
    ///
    /// A cancelled task is never polled again: its queued runnable is dropped now, and a
    /// runnable that a later wake would queue is dropped at the next tick instead. Dropping the
    /// runnable drops the future, which ends the task as
    /// [`Cancelled`](crate::TaskOutcome::Cancelled). A cancelled task that waits for a wake
    /// (a timer, a channel) stays live until that wake comes; [`is_task_running`] reports it
    /// until then.
    ///
    /// ```
    /// use scheduler::{Scheduler, TestScheduler};
    /// use std::{sync::Arc, time::Duration};
    /// let test = TestScheduler::with_seed(0);
    /// let scheduler: Arc<dyn Scheduler> = test.clone();
    /// let task = scheduler.spawn(async { 1 });
    /// let id = task.id().unwrap();
    /// task.detach();
    /// assert_eq!(test.cancel_tasks([id]), 1);
    /// test.run_until_parked();
    /// assert!(!test.is_task_running(id));
    /// ```
    ///
    /// [`is_task_running`]: TestScheduler::is_task_running
    pub fn cancel_tasks(&self, ids: impl IntoIterator<Item = TaskId>) -> usize {
        self.engine.drain_inbox();
        let (count, dropped) = {
            let mut guard = self.engine.state("cancel_tasks");
            let state = &mut *guard;
            let mut count = 0;
            for id in ids {
                if state.live.contains(id) && state.cancelled.insert(id) {
                    count += 1;
                }
            }
            let cancelled = &state.cancelled;
            let dropped = state
                .ready
                .remove_matching(|runnable| cancelled.contains(&runnable.metadata().id()));
            (count, dropped)
        };
        // Outside the state borrow: dropping a runnable drops its future, whose end report
        // updates the scheduler's state.
        drop(dropped);
        count
    }

    /// Cancels every live task that belongs to `session` (see [`cancel_tasks`]) and returns
    /// how many it cancelled.
    ///
    /// [`cancel_tasks`]: TestScheduler::cancel_tasks
    pub fn cancel_session(&self, session: SessionId) -> usize {
        let ids: Vec<TaskId> = self
            .live_tasks()
            .into_iter()
            .filter(|task| task.session() == Some(session))
            .map(|task| task.id())
            .collect();
        self.cancel_tasks(ids)
    }

    // The timeline: recording it, marking instants, writing it as a Chrome trace.

    /// Starts recording the timeline (if not already recording): every poll, spawn, wake,
    /// timer, task end and [marked instant](Self::record_instant), for
    /// [`timeline_json`](Self::timeline_json). `TestSchedulerConfig { timeline: true, .. }`
    /// records from the start.
    pub fn enable_timeline(&self) {
        let mut state = self.engine.state("enable_timeline");
        if state.timeline.is_none() {
            state.timeline = Some(Timeline::default());
            state.update_recording();
        }
    }

    /// Marks an instant on the timeline (if one is recorded and this is the test thread;
    /// otherwise does nothing), with `args` shown beside it. It is drawn on the track of the current session if there is one,
    /// else on the track of the task being polled, else on the `test code` track.
    ///
    /// The simulated Worker marks its requests' lives with [`InstantKind::Note`]s; code that
    /// injects faults marks each with [`InstantKind::Fault`], so a failing seed's timeline shows
    /// which fault came before the failure:
    ///
    /// ```
    /// use scheduler::{InstantKind, TestScheduler, TestSchedulerConfig};
    /// let test = TestScheduler::new(TestSchedulerConfig { timeline: true, ..Default::default() });
    /// let key = "events/7";
    /// test.record_instant(InstantKind::Fault, "KV put failed", &[("key", &key), ("attempt", &1)]);
    /// assert!(test.timeline_json().contains(r#""name":"fault: KV put failed""#));
    /// ```
    pub fn record_instant(&self, kind: InstantKind, name: &str, args: &[(&str, &dyn Display)]) {
        if !self.engine.on_test_thread() {
            return; // the timeline belongs to the test thread
        }
        let (at, by) = (self.engine.elapsed_nanos(), self.engine.running_task());
        self.engine.drain_inbox();
        self.engine.record(|timeline| {
            let mark = Mark {
                kind,
                name: name.to_string(),
                args: args
                    .iter()
                    .map(|(key, value)| (key.to_string(), value.to_string()))
                    .collect(),
                session: session::current(),
            };
            timeline.record_plain(at, by, What::Mark(Box::new(mark)));
        });
    }

    /// Draws `session` (its tasks and marks) on the track of `owner` instead of its own, if a
    /// timeline is recorded: every session with the same owner shares that track, named
    /// `owner`. The simulated Durable Objects name each event's session after its object, so
    /// each object has one track. Applies to the whole record when it is written.
    ///
    /// ```
    /// use scheduler::{Scheduler, TestScheduler, TestSchedulerConfig, session};
    /// use std::sync::Arc;
    /// let test = TestScheduler::new(TestSchedulerConfig { timeline: true, ..Default::default() });
    /// let scheduler: Arc<dyn Scheduler> = test.clone();
    /// for _ in 0..2 {
    ///     let event = test.create_session();
    ///     test.set_session_owner(event, "durable object Counter:click");
    ///     let task = session::with(Some(event), || scheduler.spawn(async {}));
    ///     test.block(task);
    /// }
    /// let json = test.timeline_json();
    /// assert_eq!(json.matches(r#""name":"durable object Counter:click""#).count(), 1);
    /// assert!(!json.contains(r#""name":"session#1""#));
    /// ```
    pub fn set_session_owner(&self, session: SessionId, owner: &str) {
        let mut state = self.engine.state("set_session_owner");
        if let Some(timeline) = state.timeline.as_mut() {
            timeline.set_session_owner(session, owner);
        }
    }

    /// The timeline recorded so far as a Chrome trace event file (JSON; open it in
    /// <https://ui.perfetto.dev> or `chrome://tracing`). Empty of events if no timeline is
    /// recorded. The record is kept (call it again later for a longer one).
    ///
    /// One process, this scheduler; one track per session and per executor without a session
    /// (`test code`, `timers`, `background`, `foreground (main thread)`, `dedicated
    /// executors`); a slice per poll on
    /// the virtual clock, stretched by 1 µs per recorded event so that polls, which take no
    /// virtual time, have a width; spawn → first-poll flow arrows; instants for wakes, timers,
    /// task ends and marks.
    ///
    /// ```
    /// use scheduler::{TestScheduler, TestSchedulerConfig};
    /// let test = TestScheduler::new(TestSchedulerConfig { timeline: true, ..Default::default() });
    /// test.block(test.spawn(async { 1 + 1 }));
    /// let json = test.timeline_json();
    /// assert!(json.starts_with(r#"{"traceEvents":["#));
    /// assert!(json.contains(r#""name":"task#1""#)); // its poll
    /// ```
    pub fn timeline_json(&self) -> String {
        self.engine.drain_inbox();
        let timeline = self
            .engine
            .state("timeline_json")
            .timeline
            .clone()
            .unwrap_or_default();
        let name = format!(
            "TestScheduler (seed {}, strategy {})",
            self.seed(),
            self.strategy()
        );
        let process = Process {
            name,
            timeline: &timeline,
            failure: None,
        };
        chrome_trace::document(&[process], &[("seed", self.seed().to_string())])
    }

    /// Writes [`timeline_json`](Self::timeline_json) to `path`, creating its directory.
    pub fn write_timeline(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.timeline_json())
    }
}

impl fmt::Debug for TestScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestScheduler")
            .field("seed", &self.engine.seed)
            .field("strategy", &self.engine.strategy)
            .field("elapsed", &self.engine.elapsed())
            .field("owner", &self.role.is_owner())
            .finish_non_exhaustive()
    }
}

impl Drop for TestScheduler {
    /// Dropping the handle the test holds closes the engine: queued runnables and timers are
    /// dropped (cancelling their tasks), later wakes are dropped too, and a failure not yet
    /// raised (a wake from another thread, a panic nobody awaited) panics here.
    fn drop(&mut self) {
        if self.role.release() {
            self.engine.close();
        }
    }
}

// The [`Scheduler`] impl of [`TestScheduler`]: every call goes to its engine.

impl Scheduler for TestScheduler {
    /// One step of the simulation instead of sleeping (see [`TestScheduler::tick`]); a
    /// deadlock (nothing can ever happen, parking forbidden) panics with a report.
    fn park(&self, timeout: Option<Duration>) -> bool {
        self.engine.park(timeout)
    }

    fn unparker(&self) -> Unparker {
        self.engine.unparker.clone()
    }

    /// `true` on the test thread, except while it runs a background task.
    fn is_main_thread(&self) -> bool {
        self.engine.is_main_thread()
    }

    /// The virtual clock.
    fn now(&self) -> Instant {
        self.engine.now()
    }

    /// A fake wall clock: [`UTC_START`](TestScheduler::UTC_START) (2026-01-01T00:00:00Z), or
    /// what the test [set](TestScheduler::set_utc_now), plus the virtual time since. It never
    /// reads the system clock.
    fn utc_now(&self) -> SystemTime {
        self.engine.utc_now()
    }

    /// No thread: a dedicated executor's tasks (and a realtime task) run on the test thread,
    /// FIFO per executor and interleaved with the rest by the seed.
    fn dedicated_thread(&self, _realtime: bool) -> Option<DedicatedThread> {
        None
    }

    /// Queued with the others; a [deprioritized](TestScheduler::deprioritize) label makes it
    /// wait until nothing else is ready.
    fn schedule(&self, runnable: Runnable) {
        self.engine.enqueue(runnable);
    }

    /// A virtual timer: fires when the clock reaches `now + delay`.
    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        self.engine.schedule_after(delay, runnable);
    }

    /// The test thread is the main thread: foreground runnables are queued like the others
    /// (in FIFO order per session).
    fn schedule_foreground(&self, runnable: Runnable) {
        self.engine.enqueue(runnable);
    }

    /// The test holds this handle; its tasks hold a second one on the same engine, so
    /// dropping the test's handle closes the engine however many tasks are still alive.
    fn task_handle(&self, spawned_on: &Arc<dyn Scheduler>) -> Arc<dyn Scheduler> {
        self.role.task_handle(spawned_on)
    }

    /// Ids numbered 1, 2, 3… per scheduler, so a seed gives the same ids on every run.
    fn next_task_id(&self) -> TaskId {
        self.engine.next_task_id()
    }

    fn num_cpus(&self) -> usize {
        self.engine.num_cpus
    }

    /// Registers the task (for `live_tasks`, deadlock and leak reports) and queues it.
    fn schedule_spawned(&self, runnable: Runnable) {
        self.engine.schedule_spawned(runnable);
    }

    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        self.engine.task_ended(metadata, outcome);
    }

    /// Fails the test at the next tick (or when the scheduler is dropped).
    fn unobserved_panic(&self, task: &TaskMetadata, message: &str) {
        self.engine.unobserved_panic(task, message);
    }

    fn timer_cancelled(&self, timer: &TaskMetadata) {
        self.engine.timer_cancelled(timer);
    }
}
