//! [`WasmScheduler`]: the [`Scheduler`] of single-threaded wasm32 hosts (browsers, Node,
//! Cloudflare Workers), on JS microtasks, macrotasks and `setTimeout`; and what it does on the
//! shared state besides queueing (`drain.rs`): ending a session, arming, firing and cancelling
//! timers.

use super::drain::{Shared, WasmSchedulerConfig};
use super::host;
use super::sessions::{SchedulerStats, SessionEnd, TaskCounters};
use super::timers::PendingTimer;
use crate::scheduler::{Role, deadline_after, handle_pair};
use crate::{Instant, Runnable, Scheduler, SessionId, TaskId, TaskMetadata, TaskOutcome, Unparker};
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen::closure::Closure;

/// The scheduler of a single-threaded wasm32 host.
///
/// - [`schedule`](Scheduler::schedule) queues the runnable and arranges one `queueMicrotask`
///   drain for the batch (a resolved promise where `queueMicrotask` is missing).
/// - Fairness: a drain runs a bounded batch; when work remains after a time slice (see
///   [`WasmSchedulerConfig`]) it waits for a macrotask (`scheduler.postTask`, `setImmediate`
///   or `setTimeout(0)`), one *continuation* per session armed in the current context, so a
///   task that wakes itself forever cannot starve timers, I/O or other requests, and in
///   workerd each request's work resumes in its own I/O context (see
///   [`running_continuation`](Self::running_continuation)).
/// - Sessions: each session has its own queue and the queues take turns, so one request's burst
///   cannot starve another's; [`end_session`](Self::end_session) cancels what a request left
///   running; [`stats`](Self::stats) counts tasks per session.
/// - [`schedule_after`](Scheduler::schedule_after) arms a `setTimeout` (in chunks of about 24.8
///   days for longer delays); a dropped [`Timer`](crate::Timer) clears it.
/// - Re-entrancy: runnables may spawn, wake and drop tasks while they run; the scheduler never
///   holds a borrow of its state while running or dropping a runnable, and a drain never nests.
/// - Panics: under `panic = "unwind"` (see the [module docs](super)) a panicking task is caught
///   in its wrapper and re-raised where its [`Task`](crate::Task) is awaited, naming the task and
///   its spawn location; a panic nobody awaits goes to `console.error`; the scheduler keeps
///   running. Under `panic = "abort"` (stable Rust's only choice for wasm32) a panic traps the
///   instance.
/// - There is one thread: [`schedule_foreground`](Scheduler::schedule_foreground) is `schedule`
///   and [`is_main_thread`](Scheduler::is_main_thread) is `true`. Blocking is impossible:
///   `block`, `block_with_timeout` and [`park`](Scheduler::park) panic; `.await` instead.
///
/// ```no_run
/// use scheduler::platform::wasm::WasmScheduler;
/// use scheduler::Scheduler;
/// use std::sync::Arc;
/// let scheduler: Arc<dyn Scheduler> = WasmScheduler::new();
/// scheduler.spawn(async { 1 + 1 }).detach();
/// ```
pub struct WasmScheduler {
    shared: Rc<Shared>,
    /// Which handle this is (see [`Scheduler::task_handle`]): dropping the app's closes the
    /// scheduler.
    role: Role<WasmScheduler>,
}

// SAFETY: wasm32 without the `atomics` target feature has exactly one thread (the module refuses
// to compile with `atomics`, see `mod.rs`), so a `WasmScheduler` can never be reached from a
// second thread: no two threads can touch its `Rc`, `RefCell` or JS handles at once. The
// `Send`/`Sync` bounds of `Scheduler` only exist for the native multi-threaded backends.
unsafe impl Send for WasmScheduler {}
// SAFETY: as for `Send` above: there is no second thread to share it with.
unsafe impl Sync for WasmScheduler {}

impl WasmScheduler {
    /// A scheduler with the default [`WasmSchedulerConfig`].
    pub fn new() -> Arc<Self> {
        Self::with_config(WasmSchedulerConfig::default())
    }

    /// A scheduler tuned by `config`.
    ///
    /// Panics if `batch_size` or `slice_max_runs` is 0 (no drain could make progress).
    pub fn with_config(config: WasmSchedulerConfig) -> Arc<Self> {
        assert!(
            config.batch_size > 0,
            "WasmSchedulerConfig::batch_size must be at least 1"
        );
        assert!(
            config.slice_max_runs > 0,
            "WasmSchedulerConfig::slice_max_runs must be at least 1"
        );
        let shared = Shared::new(config);
        handle_pair(|role| Self {
            shared: shared.clone(),
            role,
        })
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
        self.shared.end_session(session, exempt, exempt.is_empty())
    }

    /// [`end_session`](Self::end_session) that cancels the session's timers even though some
    /// tasks are exempt: for exempt tasks that never wait on a timer (the Worker's `wait_until`
    /// settle tasks, one of which is the caller).
    #[cfg(workerd)]
    pub(crate) fn end_session_cancelling_timers(
        &self,
        session: SessionId,
        exempt: &[TaskId],
    ) -> SessionEnd {
        self.shared.end_session(session, exempt, true)
    }

    /// The counters of `session`, if it has running tasks or has not been ended.
    pub fn session_counters(&self, session: SessionId) -> Option<TaskCounters> {
        self.shared
            .with_state(|state| state.sessions.session_counters(session))
    }

    /// Counters of all tasks and of each session, the queue, pending timers and the drain loop.
    pub fn stats(&self) -> SchedulerStats {
        self.shared.with_state(|state| SchedulerStats {
            queued: state.queue.len(),
            pending_timers: state.timers.len(),
            live_timer_closures: self.shared.timer_closures.live(),
            drains: state.drains,
            macrotask_yields: state.slice.yields(),
            continuations: state.continuations,
            early_timeouts: state.early_timeouts,
            early_rechecks: state.early_rechecks,
            macrotask_kind: self.shared.host.macrotask_kind(),
            ..state.sessions.stats()
        })
    }

    /// The configuration this scheduler was made with.
    pub fn config(&self) -> &WasmSchedulerConfig {
        &self.shared.config
    }

    /// The session whose yield continuation is running now, if one is (`Some(None)`: the
    /// continuation of the work of no session). When a slice runs out, the queued work leaves
    /// the queue by session, and each session's continuation (a macrotask) runs that session's
    /// runnables and nothing else: a task polled inside one always belongs to its session.
    pub fn running_continuation(&self) -> Option<Option<SessionId>> {
        self.shared.continuing()
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
        self.shared.arm_timer(delay, runnable);
    }

    /// Panics: a wasm host's only thread cannot block. `.await` instead.
    fn park(&self, _timeout: Option<Duration>) -> bool {
        panic!("{CANNOT_BLOCK}");
    }

    /// Panics, like [`park`](Scheduler::park): asked for only by code about to block.
    fn unparker(&self) -> Unparker {
        panic!("{CANNOT_BLOCK}");
    }

    /// Always `true`: the JS thread is the only thread.
    fn is_main_thread(&self) -> bool {
        true
    }

    /// Real time from the host's monotonic clock (`performance.now()`).
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// The app holds the owning handle; tasks hold one that only reaches the shared state.
    fn task_handle(&self, spawned_on: &Arc<dyn Scheduler>) -> Arc<dyn Scheduler> {
        self.role.task_handle(spawned_on)
    }

    fn num_cpus(&self) -> usize {
        1
    }

    /// The no-session lane: while it is open (no sessions or priorities in use, nothing
    /// doomed, a drain running or pending), a wake pushes its runnable there directly.
    fn local_queue(&self) -> Option<crate::LocalQueue> {
        Some(self.shared.local_queue().clone())
    }

    /// Records the new task and queues it in one step (every kind goes to the same queue).
    fn schedule_spawned(&self, runnable: Runnable) {
        self.shared.enqueue_spawned(runnable);
    }

    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        self.shared.task_ended(metadata, outcome);
    }

    /// Logs the panic with `console.error` (`scheduler: task#4 … panicked and nobody awaited
    /// it: …`); the scheduler carries on. Reached under `panic = "unwind"` only: with `abort`
    /// a panic ends the instance first.
    fn unobserved_panic(&self, task: &TaskMetadata, message: &str) {
        host::unobserved_panic(task, message);
    }

    /// Clears the timer's JS timeout and frees its closure.
    fn timer_cancelled(&self, timer: &TaskMetadata) {
        self.shared.cancel_timer(timer.id());
    }
}

impl fmt::Debug for WasmScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmScheduler")
            .field("config", &self.shared.config)
            .field("owner", &self.role.is_owner())
            .finish_non_exhaustive()
    }
}

const CANNOT_BLOCK: &str = "WasmScheduler cannot block: a wasm host has a single JS thread, and \
    blocking it would stop the very event loop the future waits for. `.await` the future (or \
    the Task) instead of calling block / block_with_timeout / park";

impl Drop for WasmScheduler {
    fn drop(&mut self) {
        if self.role.release() {
            self.shared.close();
        }
    }
}

// ---- ending a session -------------------------------------------------------------------
// Its live tasks (but the exempt ones) are doomed, reported with `console.error`, and dropped
// now if queued or when next woken; its timers are cleared.

impl Shared {
    /// See [`WasmScheduler::end_session`](super::WasmScheduler::end_session); the session's
    /// timers are cancelled if `cancel_timers`.
    pub(super) fn end_session(
        &self,
        session: SessionId,
        exempt: &[TaskId],
        cancel_timers: bool,
    ) -> SessionEnd {
        self.sessions_ended.set(self.sessions_ended.get() + 1);
        self.attend();
        let (cancelled, exempt_running, dropped, timers, counters) = self.with_state(|state| {
            let counters = state.sessions.session_counters(session).unwrap_or_default();
            let (cancelled, exempt_running) = state.sessions.end_session(session, exempt);
            let sessions = &state.sessions;
            let dropped = state
                .queue
                .remove_from_session(session, |task| sessions.is_doomed(task));
            let timers = if cancel_timers {
                state.timers.take_session(session)
            } else {
                Vec::new()
            };
            (cancelled, exempt_running, dropped, timers, counters)
        });
        host::cancelled_tasks(session, &cancelled);
        #[cfg(feature = "tracing")]
        crate::tracing_events::session_ended(session, cancelled.len());
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
            counters,
        }
    }
}

// ---- timers ------------------------------------------------------------------------------
// Arming a timer (a JS timeout whose closure fires it), firing due timers in deadline order
// when a timeout comes back, and cancelling a dropped timer.

/// How early a timeout may come back and still be checked again with `setImmediate` rather
/// than re-armed (see `PendingTimer::recheck_soon`).
const SUBMILLISECOND: Duration = Duration::from_millis(1);

impl Shared {
    /// Arms a JS timeout that runs `runnable` once `delay` has passed on [`Instant`] (never
    /// early, even if the host fires the timeout early).
    pub(super) fn arm_timer(&self, delay: Duration, runnable: Runnable) {
        if self.closed.get() {
            drop(runnable);
            return;
        }
        let id = runnable.metadata().id();
        let deadline = deadline_after(Instant::now(), delay);
        let target = self.weak_self.clone();
        let token = self.timer_closures.token();
        // Unwind-safe as asserted: firing runs timer runnables (which only wake their awaiter)
        // and keeps the scheduler's state consistent between calls.
        let callback = Closure::own_assert_unwind_safe(move || {
            let _alive = &token;
            if let Some(shared) = target.upgrade() {
                shared.fire_timers(id);
            }
        });
        let timer = PendingTimer::start(runnable, deadline, delay, callback);
        self.with_state(|state| state.timers.insert(id, timer));
    }

    /// The JS timeout (or re-check) of timer `id` ran. Every timer of its session due by now
    /// fires, in deadline order (hosts may run timeouts out of that order, e.g. Node rounds 0 ms
    /// up to 1 ms); firing runs the timer's runnable, which wakes whoever awaits the timer. If
    /// the host fired this timeout before its deadline (or it was armed for one chunk of a
    /// longer delay), it is re-armed for the rest; less than a millisecond early, on a host with
    /// `setImmediate`, it is checked again right after the current turn instead (a re-armed
    /// `setTimeout` takes at least a millisecond; the re-checks of that last millisecond keep
    /// the host's loop from sleeping, as a due timer would).
    pub(super) fn fire_timers(&self, id: TaskId) {
        let due = self.with_state(|state| {
            let now = Instant::now();
            // Only this timer's session: see `TimerBook::take_due`.
            let Some(session) = state.timers.session_of(id) else {
                return Vec::new();
            };
            let due = state.timers.take_due(now, session);
            if let Some(mut early) = state.timers.remove(id) {
                let remaining = early.deadline - now;
                if !early.is_recheck() {
                    state.early_timeouts += 1;
                }
                if remaining < SUBMILLISECOND && self.host.has_set_immediate() {
                    state.early_rechecks += 1;
                    early.recheck_soon();
                } else {
                    early.restart(remaining);
                }
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

    /// A `Timer` was dropped before it fired: clears its JS timeout and frees its closure.
    pub(super) fn cancel_timer(&self, id: TaskId) {
        let pending = self.with_state(|state| state.timers.remove(id));
        if let Some(pending) = pending {
            pending.cancel();
            // Dropping the runnable wakes the timer's awaiter once; that wake is harmless.
            drop(pending);
        }
    }
}

/// The instance's scheduler for [`current`](crate::platform::current).
pub(in crate::platform) fn default_scheduler() -> Arc<dyn Scheduler> {
    WasmScheduler::new()
}
