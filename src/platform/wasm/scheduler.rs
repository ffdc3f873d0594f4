//! [`WasmScheduler`]: the [`Scheduler`] of single-threaded wasm32 hosts (browsers, Node,
//! Cloudflare Workers), on JS microtasks, macrotasks and `setTimeout`.

use super::fairness::{NextDrain, Slice, WasmSchedulerConfig};
use super::host::Host;
use super::report;
use super::run_queue::RunQueue;
use super::sessions::SessionBook;
use super::stats::{SchedulerStats, SessionEnd, TaskCounters};
use super::timers::{ClosureCounter, PendingTimer, TimerBook};
use crate::{
    Instant, Runnable, Scheduler, SessionId, TaskId, TaskMetadata, TaskOutcome, TaskSink, Unparker,
};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// The scheduler of a single-threaded wasm32 host.
///
/// - [`schedule`](Scheduler::schedule) queues the runnable and arranges one `queueMicrotask`
///   drain for the batch (a resolved promise where `queueMicrotask` is missing).
/// - Fairness: a drain runs a bounded batch; when work remains after a time slice (see
///   [`WasmSchedulerConfig`]) the next drain waits for a macrotask (`scheduler.postTask`,
///   `setImmediate` or `setTimeout(0)`), so a task that wakes itself forever cannot starve
///   timers, I/O or other requests.
/// - Sessions: each session has its own queue and the queues take turns, so one request's burst
///   cannot starve another's; [`end_session`](Self::end_session) cancels what a request left
///   running; [`stats`](Self::stats) counts tasks per session.
/// - [`schedule_after`](Scheduler::schedule_after) arms a `setTimeout`; a dropped
///   [`Timer`](crate::Timer) clears it.
/// - Re-entrancy: runnables may spawn, wake and drop tasks while they run; the scheduler never
///   holds a borrow of its state while running or dropping a runnable, and a drain never nests.
/// - There is one thread: [`schedule_foreground`](Scheduler::schedule_foreground) is `schedule`
///   and [`is_main_thread`](Scheduler::is_main_thread) is `true`. Blocking is impossible:
///   `block`, `block_with_timeout` and [`park`](Scheduler::park) panic; `.await` instead.
///
/// ```no_run
/// use scheduler::platform::wasm::WasmScheduler;
/// use scheduler::Scheduler;
/// use std::sync::Arc;
/// let scheduler: Arc<dyn Scheduler> = Arc::new(WasmScheduler::new());
/// scheduler.spawn(async { 1 + 1 }).detach();
/// ```
pub struct WasmScheduler {
    shared: Rc<Shared>,
    /// What every task holds (see `Scheduler::task_handle`): made once, cloned per spawn.
    sink: Arc<WasmTaskSink>,
    unparker: Unparker,
}

/// What the tasks of a [`WasmScheduler`] hold to reach it: wakes and end reports are plain calls
/// into its shared state. Once the scheduler is dropped the state is closed and refuses (drops)
/// every runnable, as the [`TaskSink`] contract requires.
struct WasmTaskSink(Rc<Shared>);

// SAFETY: as for `WasmScheduler` below: wasm32 without `atomics` has a single thread, so the
// `Rc` inside can never be touched from two threads.
unsafe impl Send for WasmTaskSink {}
// SAFETY: as for `Send` above.
unsafe impl Sync for WasmTaskSink {}

impl TaskSink for WasmTaskSink {
    fn schedule(&self, runnable: Runnable) {
        self.0.enqueue(runnable);
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.0.enqueue(runnable);
    }

    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        self.0.task_ended(metadata, outcome);
    }
}

// SAFETY: wasm32 without the `atomics` target feature has exactly one thread (the module refuses
// to compile with `atomics`, see `mod.rs`), so a `WasmScheduler` can never be reached from a
// second thread: no two threads can touch its `Rc`, `RefCell` or JS handles at once. The
// `Send`/`Sync` bounds of `Scheduler` only exist for the native multi-threaded backends.
unsafe impl Send for WasmScheduler {}
// SAFETY: as for `Send` above: there is no second thread to share it with.
unsafe impl Sync for WasmScheduler {}

/// What the JS callbacks reach through a `Weak`.
struct Shared {
    state: RefCell<State>,
    host: Host,
    config: WasmSchedulerConfig,
    timer_closures: ClosureCounter,
    /// Counts `end_session` calls, so a drain notices (cheaply) that a runnable of its batch may
    /// have been doomed since the batch was taken from the queue.
    sessions_ended: Cell<u64>,
    /// Set when the `WasmScheduler` is dropped: from then on every runnable handed in is dropped.
    closed: Cell<bool>,
    /// The callback of every drain (microtask or macrotask). `None` only while being dropped.
    drain_callback: Option<Closure<dyn FnMut(JsValue)>>,
    weak_self: Weak<Shared>,
}

struct State {
    queue: RunQueue,
    /// A drain is queued (as a microtask or a macrotask) and has not started yet.
    drain_pending: bool,
    /// A drain is running now.
    draining: bool,
    slice: Slice,
    timers: TimerBook,
    sessions: SessionBook,
    drains: u64,
    /// The buffer of the batch being run, kept between drains to reuse its allocation.
    spare_batch: VecDeque<Runnable>,
}

impl Default for WasmScheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl WasmScheduler {
    /// A scheduler with the default [`WasmSchedulerConfig`]. Wrap it in an `Arc` to spawn.
    pub fn new() -> Self {
        Self::with_config(WasmSchedulerConfig::default())
    }

    /// A scheduler tuned by `config`.
    ///
    /// Panics if `batch_size` or `slice_max_runs` is 0 (no drain could make progress).
    pub fn with_config(config: WasmSchedulerConfig) -> Self {
        assert!(
            config.batch_size > 0,
            "WasmSchedulerConfig::batch_size must be at least 1"
        );
        assert!(
            config.slice_max_runs > 0,
            "WasmSchedulerConfig::slice_max_runs must be at least 1"
        );
        let shared = Rc::new_cyclic(|weak: &Weak<Shared>| {
            let drain_target = weak.clone();
            Shared {
                state: RefCell::new(State {
                    queue: RunQueue::new(),
                    drain_pending: false,
                    draining: false,
                    slice: Slice::default(),
                    timers: TimerBook::default(),
                    sessions: SessionBook::default(),
                    drains: 0,
                    spare_batch: VecDeque::new(),
                }),
                sessions_ended: Cell::new(0),
                closed: Cell::new(false),
                host: Host::detect(),
                config,
                timer_closures: ClosureCounter::default(),
                drain_callback: Some(Closure::new(move |_: JsValue| {
                    if let Some(shared) = drain_target.upgrade() {
                        shared.drain();
                    }
                })),
                weak_self: weak.clone(),
            }
        });
        Self {
            sink: Arc::new(WasmTaskSink(shared.clone())),
            shared,
            unparker: parking::pair().1,
        }
    }

    /// A session id not handed out before by this scheduler, for
    /// [`session::with`](crate::session::with) / [`ForegroundExecutor::for_session`](crate::ForegroundExecutor::for_session).
    pub fn create_session(&self) -> SessionId {
        self.shared
            .with_state(|state| state.sessions.create_session())
    }

    /// Ends `session`: every task of the session still running, except those in `exempt`
    /// (typically the `wait_until` work), is cancelled and reported with `console.error`
    /// (id, label, session, spawn location).
    ///
    /// A cancelled task whose runnable is queued is dropped now; one waiting for a wake is
    /// dropped when it is woken, instead of running. When `exempt` is empty the session's
    /// pending timers are cancelled too, which wakes (and so drops) the tasks waiting on them.
    /// Awaiting a cancelled task's [`Task`](crate::Task) panics; use
    /// [`Task::fallible`](crate::Task::fallible) where that can happen.
    ///
    /// Tasks spawned in the session afterwards (by exempt tasks) run normally. The session's
    /// counters disappear from [`stats`](Self::stats) once none of its tasks is running.
    pub fn end_session(&self, session: SessionId, exempt: &[TaskId]) -> SessionEnd {
        self.shared
            .sessions_ended
            .set(self.shared.sessions_ended.get() + 1);
        let (cancelled, exempt_running, dropped, timers) = self.shared.with_state(|state| {
            let (cancelled, exempt_running) = state.sessions.end_session(session, exempt);
            let sessions = &state.sessions;
            let dropped = state
                .queue
                .remove_from_session(session, |task| sessions.is_doomed(task));
            let timers = if exempt.is_empty() {
                state.timers.take_session(session)
            } else {
                Vec::new()
            };
            (cancelled, exempt_running, dropped, timers)
        });
        report::cancelled_tasks(session, &cancelled);
        let dropped_now = dropped.len();
        // Outside the borrow: dropping runs destructors that may wake, spawn or end tasks.
        drop(dropped);
        for timer in &timers {
            timer.cancel();
        }
        drop(timers);
        SessionEnd {
            session,
            cancelled,
            dropped_now,
            exempt_running,
        }
    }

    /// The counters of `session`, if it has running tasks or has not been ended.
    pub fn session_counters(&self, session: SessionId) -> Option<TaskCounters> {
        self.shared
            .with_state(|state| state.sessions.session_counters(session))
    }

    /// Counters of all tasks and of each session, plus the queue length and pending timers.
    pub fn stats(&self) -> SchedulerStats {
        self.shared.with_state(|state| SchedulerStats {
            queued: state.queue.len(),
            pending_timers: state.timers.len(),
            ..state.sessions.stats()
        })
    }

    /// How many timer closures are alive (handed to `setTimeout` and not yet freed). Falls back
    /// to 0 once every timer has fired or been dropped.
    pub fn live_timer_closures(&self) -> usize {
        self.shared.timer_closures.live()
    }

    /// How many drains have run so far.
    pub fn drain_count(&self) -> u64 {
        self.shared.with_state(|state| state.drains)
    }

    /// How many times a time slice ran out and the scheduler yielded to the macrotask queue.
    pub fn macrotask_yields(&self) -> u64 {
        self.shared.with_state(|state| state.slice.yields())
    }

    /// The macrotask primitive in use: `"postTask"`, `"setImmediate"` or `"setTimeout"`.
    pub fn macrotask_kind(&self) -> &'static str {
        self.shared.host.macrotask_kind()
    }

    /// The configuration this scheduler was made with.
    pub fn config(&self) -> &WasmSchedulerConfig {
        &self.shared.config
    }
}

impl Shared {
    /// Runs `f` with the state borrowed. `f` must not run or drop runnables, nor call out to
    /// code that could re-enter the scheduler: it returns such things for the caller to handle.
    #[inline]
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    fn drain_function(&self) -> &js_sys::Function {
        self.drain_callback
            .as_ref()
            .expect("the drain callback lives as long as the scheduler")
            .as_ref()
            .unchecked_ref()
    }

    /// Queues `runnable`, arranging a drain if none is pending or running. The runnable of a
    /// task doomed by an ended session is dropped instead (which cancels the task).
    fn enqueue(&self, runnable: Runnable) {
        if self.closed.get() {
            drop(runnable);
            return;
        }
        let outcome = self.with_state(|state| {
            if state.sessions.any_doomed() && state.sessions.is_doomed(runnable.metadata().id()) {
                return Err(runnable);
            }
            Ok(state.push(runnable))
        });
        match outcome {
            Ok(true) => self.host.queue_microtask(self.drain_function()),
            Ok(false) => {}
            Err(doomed) => drop(doomed),
        }
    }

    /// Records a new task and queues its first runnable, in one borrow.
    fn enqueue_spawned(&self, runnable: Runnable) {
        if self.closed.get() {
            drop(runnable);
            return;
        }
        let start_drain = self.with_state(|state| {
            state.record_spawn(runnable.metadata());
            state.push(runnable)
        });
        if start_drain {
            self.host.queue_microtask(self.drain_function());
        }
    }

    /// Runs one batch: the runnables queued now, at most `batch_size`. Then queues the next
    /// drain if work remains, as a microtask or, once the slice is used up, as a macrotask.
    fn drain(&self) {
        let batch = self.with_state(|state| {
            state.drain_pending = false;
            if state.draining {
                // Unreachable through JS (a callback never runs inside another); refuse to nest.
                return None;
            }
            state.draining = true;
            state.drains += 1;
            state.slice.begin_drain();
            let mut taken = std::mem::take(&mut state.spare_batch);
            let count = if state
                .queue
                .take_single_lane(self.config.batch_size, &mut taken)
            {
                taken.len()
            } else {
                state.queue.len().min(self.config.batch_size)
            };
            Some((taken, count))
        });
        let Some((mut taken, count)) = batch else {
            return;
        };
        let sessions_ended = self.sessions_ended.get();
        // No borrow is held while a runnable runs: it may schedule, spawn or drop tasks.
        for _ in 0..count {
            if self.closed.get() {
                // The scheduler was dropped by a runnable of this batch: run nothing more.
                taken.clear();
                break;
            }
            let runnable = if taken.is_empty() {
                // Several sessions: one at a time, so each lane gets its turn.
                match self.with_state(|state| state.queue.pop()) {
                    Some(runnable) => runnable,
                    None => break,
                }
            } else {
                let runnable = taken.pop_front().expect("not empty");
                if self.sessions_ended.get() != sessions_ended
                    && self.with_state(|state| {
                        state.sessions.any_doomed()
                            && state.sessions.is_doomed(runnable.metadata().id())
                    })
                {
                    // Its session was ended by an earlier runnable of this batch.
                    drop(runnable);
                    continue;
                }
                runnable
            };
            runnable.run();
        }
        if taken.capacity() > 4 * self.config.batch_size {
            // A burst grew it; a small buffer serves normal batches better.
            taken = VecDeque::new();
        }
        let closed = self.closed.get();
        let next = self.with_state(|state| {
            state.spare_batch = taken;
            state.draining = false;
            if state.drain_pending || closed {
                return None;
            }
            let next = state
                .slice
                .end_drain(count, !state.queue.is_empty(), &self.config);
            state.drain_pending = next.is_some();
            next
        });
        match next {
            Some(NextDrain::Microtask) => self.host.queue_microtask(self.drain_function()),
            Some(NextDrain::Macrotask) => self.host.queue_macrotask(self.drain_function()),
            None => {}
        }
    }

    /// The JS timeout of timer `id` ran. Every timer of its session due by now fires, in
    /// deadline order (hosts may run timeouts out of that order, e.g. Node rounds 0 ms up to
    /// 1 ms); firing runs the
    /// timer's runnable, which wakes whoever awaits the timer. If the host fired this timeout
    /// before its deadline, it is re-armed for the rest.
    fn fire_timers(&self, id: TaskId) {
        let due = self.with_state(|state| {
            let now = Instant::now();
            // Only this timer's session: see `TimerBook::take_due`.
            let Some(session) = state.timers.session_of(id) else {
                return Vec::new();
            };
            let due = state.timers.take_due(now, session);
            if let Some(mut early) = state.timers.remove(id) {
                early.restart(early.deadline - now);
                state.timers.insert(id, early);
            }
            due
        });
        for (due_id, timer) in due {
            if due_id != id {
                // Its own timeout has not run yet: clear it before its closure is freed.
                timer.cancel();
            }
            let (runnable, callback) = timer.into_parts();
            runnable.run();
            // For `id`, this closure is the one running now: wasm-bindgen frees it once the
            // call returns.
            drop(callback);
        }
    }
}

impl Shared {
    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        if !self.closed.get() {
            self.with_state(|state| state.sessions.task_ended(metadata, outcome));
        }
    }

    /// The `WasmScheduler` was dropped: refuse all work from now on, drop what is queued
    /// (cancelling those tasks) and clear every timer. Tasks may keep this value alive a while
    /// (through their sink); it frees itself once the last one lets go.
    fn close(&self) {
        self.closed.set(true);
        let (runnables, timers) = self.with_state(|state| {
            let mut runnables = state.queue.take_all();
            runnables.extend(state.spare_batch.drain(..));
            (runnables, state.timers.take_all())
        });
        for timer in &timers {
            timer.cancel();
        }
        // Outside the borrow: dropping futures may wake or end tasks, which come back here and
        // are refused.
        drop(runnables);
        drop(timers);
    }
}

impl Drop for WasmScheduler {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl State {
    /// Counts a new task (and routes runnables by session once a session appears).
    fn record_spawn(&mut self, metadata: &TaskMetadata) {
        if metadata.session().is_some() {
            self.queue.use_session_lanes();
        }
        self.sessions.task_spawned(metadata);
    }

    /// Queues `runnable`. Returns whether the caller must queue a drain (none is pending or
    /// running); the state then already counts that drain as pending.
    fn push(&mut self, runnable: Runnable) -> bool {
        self.queue.push(runnable);
        let start_drain = !self.drain_pending && !self.draining;
        self.drain_pending |= start_drain;
        start_drain
    }
}

impl Scheduler for WasmScheduler {
    fn schedule(&self, runnable: Runnable) {
        self.shared.enqueue(runnable);
    }

    /// Same as [`schedule`](Scheduler::schedule): the JS thread is the only thread.
    fn schedule_foreground(&self, runnable: Runnable) {
        self.shared.enqueue(runnable);
    }

    /// Arms a `setTimeout`; the runnable runs once the delay has passed on [`Instant`] (never
    /// early, even if the host fires the timeout early).
    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        let id = runnable.metadata().id();
        let deadline = Instant::now() + delay;
        let target = self.shared.weak_self.clone();
        let token = self.shared.timer_closures.token();
        let callback = Closure::new(move || {
            let _alive = &token;
            if let Some(shared) = target.upgrade() {
                shared.fire_timers(id);
            }
        });
        let timer = PendingTimer::start(runnable, deadline, delay, callback);
        self.shared
            .with_state(|state| state.timers.insert(id, timer));
    }

    /// Panics: a wasm host's only thread cannot block. `.await` instead.
    fn park(&self, _timeout: Option<Duration>) -> bool {
        panic!("{CANNOT_BLOCK}");
    }

    fn unparker(&self) -> Unparker {
        self.unparker.clone()
    }

    /// Always `true`: the JS thread is the only thread.
    fn is_main_thread(&self) -> bool {
        true
    }

    /// Real time from the host's monotonic clock (`performance.now()`).
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn num_cpus(&self) -> usize {
        1
    }

    fn task_spawned(&self, metadata: &TaskMetadata) {
        self.shared.with_state(|state| state.record_spawn(metadata));
    }

    /// Records the new task and queues it in one step (every kind goes to the same queue).
    fn schedule_spawned(&self, runnable: Runnable) {
        self.shared.enqueue_spawned(runnable);
    }

    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        self.shared.task_ended(metadata, outcome);
    }

    fn task_handle(&self) -> Option<Arc<dyn TaskSink>> {
        Some(self.sink.clone())
    }

    /// Clears the timer's JS timeout and frees its closure.
    fn timer_cancelled(&self, timer: &TaskMetadata) {
        let pending = self
            .shared
            .with_state(|state| state.timers.remove(timer.id()));
        if let Some(pending) = pending {
            pending.cancel();
            // Dropping the runnable wakes the timer's awaiter once; that wake is harmless.
            drop(pending);
        }
    }

    /// Panics: `block` / `block_with_timeout` cannot work on a wasm host. `.await` instead.
    fn block_on_future(
        &self,
        _future: Pin<&mut dyn Future<Output = ()>>,
        _timeout: Option<Duration>,
    ) -> bool {
        panic!("{CANNOT_BLOCK}");
    }
}

const CANNOT_BLOCK: &str = "WasmScheduler cannot block: a wasm host has a single JS thread, and \
    blocking it would stop the very event loop the future waits for. `.await` the future (or \
    the Task) instead of calling block / block_with_timeout / park";

impl Drop for Shared {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let runnables = state.queue.take_all();
        let timers = state.timers.take_all();
        let drain_pending = state.drain_pending;
        for timer in &timers {
            timer.cancel();
        }
        // Dropping futures may wake tasks of this scheduler: their `Weak` no longer upgrades,
        // so those runnables are dropped too and nothing re-enters this value.
        drop(runnables);
        drop(timers);
        if drain_pending {
            // A queued microtask or macrotask still holds the callback; freeing it would make
            // the host throw when it runs. Leak it: it only holds a dead `Weak`.
            if let Some(callback) = self.drain_callback.take() {
                callback.forget();
            }
        }
    }
}
