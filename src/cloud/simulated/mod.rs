//! [`SimulatedExecutionContext`]: Worker request sessions replayed deterministically over a
//! [`TestScheduler`](crate::TestScheduler).

mod durable_object;
mod faults;
mod isolate;
mod report;
mod sessions;

pub use durable_object::{
    BLOCK_CONCURRENCY_LIMIT, DurableObjectCounts, DurableObjectEventKind,
    DurableObjectEventOutcome, DurableObjectEventReport, DurableObjectFaultKind,
    InjectedObjectFault, SimulatedDurableObjectNamespace, SimulatedDurableObjectRequest,
    SimulatedDurableObjectState, SimulatedDurableObjectStub,
};
pub use faults::{FaultCounts, FaultKind, InjectedFault, SimulationFaults};
pub use isolate::IsolateState;
pub use report::{
    DanglingState, DanglingTask, RequestFailed, RequestFailure, SessionCleanupError, SessionReport,
    WaitUntilOutcome, WaitUntilReport,
};
pub use sessions::WAIT_UNTIL_LIMIT;

use super::{
    ExecutionContext, FaultAction, FaultPoint, FaultPoints, LocalFuture, SchedulerRuntime,
};
use crate::{InstantKind, Scheduler, SessionId, Task, TaskId, session};
use faults::FaultInjector;
use sessions::{Handler, Inner, Sessions, TrackedWaitUntil, WaitUntilEntry, register};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

/// An [`ExecutionContext`] that simulates Worker requests natively, one session per request,
/// over an `Arc<dyn Scheduler>` (normally a [`TestScheduler`](crate::TestScheduler), for seeded, reproducible runs).
///
/// - [`serve`](Self::serve) runs a handler as a new session. Every task spawned while the
///   session is current belongs to it, however it was spawned (the runtime's `spawn`, the
///   executors, tasks spawned by those tasks), because the core carries the current session
///   into every task it spawns.
/// - [`wait_until`](ExecutionContext::wait_until) registers work of the current session that
///   may outlive the response.
/// - The Workers rules hold: the virtual clock never moves while code runs (only at timers);
///   after the response, `wait_until` work gets [`WAIT_UNTIL_LIMIT`] (30 virtual seconds), then
///   is cancelled and reported as [`WaitUntilOutcome::CutOff`]; when the session ends (all its
///   `wait_until` work settled, or the cut-off), its other tasks still running are cancelled
///   and reported.
/// - [`wait_on_execution_context`](Self::wait_on_execution_context) (as `cloudflare:test`'s
///   `waitOnExecutionContext`) drives the scheduler until the session's `wait_until` work
///   settled and returns the outcomes;
///   [`validate_session_cleanup`](Self::validate_session_cleanup) names every task that leaked.
///
/// Listing and cancelling a session's leftover tasks needs a [`TestScheduler`](crate::TestScheduler). Over another
/// scheduler, sessions, `wait_until` and the cut-off still work, but leftover tasks are neither
/// cancelled nor listed, and `validate_session_cleanup` returns
/// [`SessionCleanupError::Untracked`].
///
/// All of a session's bookkeeping lives in this context; two contexts on one
/// [`TestScheduler`](crate::TestScheduler) keep apart (the scheduler numbers their sessions).
#[derive(Clone)]
pub struct SimulatedExecutionContext {
    inner: Arc<Inner>,
}

/// A request started by [`SimulatedExecutionContext::serve`]: await it (or
/// [`block`](SimulatedExecutionContext::block) it) for the handler's response, or the
/// [`RequestFailed`] error if the handler panicked.
#[must_use = "dropping a SimulatedRequest cancels its handler"]
#[derive(Debug)]
pub struct SimulatedRequest<T> {
    session: SessionId,
    task: Task<Result<T, RequestFailed>>,
}

impl<T> SimulatedRequest<T> {
    /// The request's session.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The id of the handler's task.
    pub fn task_id(&self) -> TaskId {
        self.task.id().expect("a handler task is always spawned")
    }
}

impl<T> Future for SimulatedRequest<T> {
    type Output = Result<T, RequestFailed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.task).poll(cx)
    }
}

impl std::fmt::Debug for SimulatedExecutionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedExecutionContext")
            .field("elapsed", &self.elapsed())
            .finish_non_exhaustive()
    }
}

impl SimulatedExecutionContext {
    /// A context over `scheduler` (normally a [`TestScheduler`](crate::TestScheduler); see the type's docs for
    /// others). Its clock starts now: reported times are virtual time since this call.
    pub fn new(scheduler: Arc<dyn Scheduler>) -> Self {
        let start = scheduler.now();
        Self {
            inner: Arc::new(Inner {
                scheduler,
                start,
                sessions: Mutex::new(Sessions::default()),
                next_session: AtomicU64::new(1),
                faults: FaultInjector::default(),
                isolate: AtomicU64::new(0),
            }),
        }
    }

    /// The scheduler behind this context.
    pub fn scheduler(&self) -> &Arc<dyn Scheduler> {
        &self.inner.scheduler
    }

    /// A [`PlatformRuntime`](super::PlatformRuntime) over the same scheduler, for handler code.
    /// Its fault points ([`buggify`](super::PlatformRuntime::buggify),
    /// [`subrequest`](super::PlatformRuntime::subrequest)) ask this context's
    /// [`fault_points`](Self::fault_points).
    pub fn runtime(&self) -> SchedulerRuntime {
        SchedulerRuntime::with_fault_points(
            self.inner.scheduler.clone(),
            Arc::new(self.fault_points()),
        )
    }

    /// Virtual time since the context was created.
    pub fn elapsed(&self) -> Duration {
        self.inner.elapsed()
    }

    /// A new session (one simulated request). Over a [`TestScheduler`](crate::TestScheduler) the scheduler numbers
    /// them (1, 2, 3…), so two contexts on one scheduler never share a session; over another
    /// scheduler this context numbers its own.
    ///
    /// [`serve`](Self::serve) creates one for you; use this to drive a session by hand with
    /// [`with_session`](Self::with_session), then [`respond`](Self::respond).
    pub fn create_session(&self) -> SessionId {
        let session = match self.inner.test_scheduler() {
            Some(test) => test.create_session(),
            None => SessionId::from_raw(self.inner.next_session.fetch_add(1, Ordering::Relaxed)),
        };
        self.inner.lock().create(session);
        session
    }

    /// Runs `f` with `session` current: what it spawns belongs to the session.
    pub fn with_session<R>(&self, session: SessionId, f: impl FnOnce() -> R) -> R {
        session::with(Some(session), f)
    }

    /// Makes `session` current on this thread; returns the previous one. Prefer
    /// [`with_session`](Self::with_session), which restores it.
    pub fn set_current_session(&self, session: Option<SessionId>) -> Option<SessionId> {
        session::set_current(session)
    }

    /// The session current on this thread (inside a task: the task's session).
    pub fn current_session(&self) -> Option<SessionId> {
        session::current()
    }

    /// Simulates one request: creates a session and runs `handler` in it as a local task.
    /// When the handler returns (or panics, or is cancelled) the response is out and the
    /// session's 30-second `wait_until` window starts.
    ///
    /// A panicking handler fails only its own request: awaiting the returned request gives
    /// [`RequestFailed`]; every other session carries on.
    ///
    /// `handler` should do its work when polled (an `async` block or an `async fn` call):
    /// whatever runs while the future is being built runs outside the session.
    #[track_caller]
    pub fn serve<F>(&self, handler: F) -> SimulatedRequest<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let session = self.create_session();
        let location = std::panic::Location::caller();
        self.inner.mark(
            InstantKind::Note,
            session,
            "request",
            &[("served_at", &location)],
        );
        let faults = self.draw_request_faults();
        if let Some(after) = faults.reset_after {
            isolate::schedule_reset(&self.inner, after);
        }
        let future = Handler::new(
            handler,
            Arc::downgrade(&self.inner),
            session,
            faults.disconnect,
        );
        let task = {
            let _session = session::enter(Some(session));
            self.inner.scheduler.spawn_foreground(future)
        };
        let id = task.id().expect("a spawned task has an id");
        let mut sessions = self.inner.lock();
        let state = sessions.expect_mut(session, "serve");
        state.handler = Some(id);
        state.handler_done = task.is_finished();
        drop(sessions);
        SimulatedRequest { session, task }
    }

    /// Marks the response of a session driven by hand: its `wait_until` window starts now.
    /// Sessions from [`serve`](Self::serve) respond by themselves. Does nothing if the session
    /// already responded.
    pub fn respond(&self, session: SessionId) {
        self.inner.respond(session);
    }

    /// Blocks on `future`, running the simulation meanwhile (see `Scheduler::block`).
    #[track_caller]
    pub fn block<F: Future>(&self, future: F) -> F::Output {
        self.inner.scheduler.block(future)
    }

    /// A future that completes once `session` has ended — responded, and every `wait_until`
    /// job settled or was cut off — with the outcome of each job, in registration order.
    /// The async form of [`wait_on_execution_context`](Self::wait_on_execution_context).
    pub fn settled(
        &self,
        session: SessionId,
    ) -> impl Future<Output = Vec<WaitUntilReport>> + use<> {
        self.inner.lock().expect_mut(session, "settled");
        self.inner.watch(session, true);
        let watch = Watch {
            inner: Arc::downgrade(&self.inner),
            session,
        };
        std::future::poll_fn(move |cx| {
            let Some(inner) = watch.inner.upgrade() else {
                return Poll::Ready(Vec::new());
            };
            let mut sessions = inner.lock();
            let state = sessions.expect_mut(session, "settled");
            if state.is_ended() {
                Poll::Ready(state.wait_until_reports())
            } else {
                register(&mut state.waiters, cx.waker());
                Poll::Pending
            }
        })
    }

    /// `waitOnExecutionContext`: drives the scheduler until every `wait_until` job of
    /// `session` has settled (completed, panicked, or cut off 30 virtual seconds after the
    /// response) and the session has ended, then returns each job's outcome in registration
    /// order. The virtual clock jumps from timer to timer while nothing else can run.
    ///
    /// A session driven by hand (not from [`serve`](Self::serve)) that has not responded
    /// responds now. Panics with the scheduler's deadlock report if the session can never end
    /// (a handler waiting forever).
    pub fn wait_on_execution_context(&self, session: SessionId) -> Vec<WaitUntilReport> {
        let manual = {
            let mut sessions = self.inner.lock();
            let state = sessions.expect_mut(session, "wait_on_execution_context");
            state.handler.is_none()
        };
        if manual {
            self.inner.respond(session);
        }
        self.block(self.settled(session))
    }

    /// `Ok` if every task of `session` has finished or is a `wait_until` job; otherwise an
    /// error naming each dangling task (id, label, spawn location): tasks still running now,
    /// and tasks cancelled when the session ended. Call it after the session ended (after
    /// [`wait_on_execution_context`](Self::wait_on_execution_context)): before that, work the
    /// handler has not awaited yet counts as dangling.
    ///
    /// Tasks carry no parent, so after a cut-off the subtasks a cut-off `wait_until` job was
    /// still awaiting are listed too (they were cancelled with it).
    pub fn validate_session_cleanup(&self, session: SessionId) -> Result<(), SessionCleanupError> {
        let Some(test) = self.inner.test_scheduler() else {
            return Err(SessionCleanupError::Untracked(session));
        };
        let live = test.live_tasks();
        let sessions = self.inner.lock();
        let Some(state) = sessions.get(session) else {
            return Err(SessionCleanupError::UnknownSession(session));
        };
        let mut tasks: Vec<DanglingTask> = state
            .cancelled_at_end
            .iter()
            .map(|&task| DanglingTask {
                task,
                state: DanglingState::CancelledAtSessionEnd,
            })
            .collect();
        for task in live {
            let known = tasks.iter().any(|dangling| dangling.task.id() == task.id());
            if task.session() == Some(session) && !state.is_sanctioned(task.id()) && !known {
                tasks.push(DanglingTask {
                    task,
                    state: DanglingState::Running,
                });
            }
        }
        if tasks.is_empty() {
            return Ok(());
        }
        tasks.sort_by_key(|dangling| dangling.task.id());
        Err(SessionCleanupError::Dangling { session, tasks })
    }

    /// Keeps the bookkeeping (reports, `wait_until` outcomes, dangling tasks) of at most
    /// `limit` ended sessions, for a long simulation: once more sessions ended, the oldest are
    /// let go, so memory follows the sessions in flight plus `limit`, not every request ever
    /// served. A session is let go only once nothing holds it: its handler is gone, no
    /// [`settled`](Self::settled) future of it waits, and every task cancelled at its end has
    /// ended. After that, [`session_report`](Self::session_report) gives `None`,
    /// [`validate_session_cleanup`](Self::validate_session_cleanup) an
    /// [`UnknownSession`](SessionCleanupError::UnknownSession) error, and `settled` /
    /// `wait_on_execution_context` panic as for a session this context never created. The
    /// default keeps every session.
    ///
    /// ```
    /// use scheduler::cloud::SimulatedExecutionContext;
    /// use scheduler::TestScheduler;
    /// let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(0));
    /// ctx.keep_reports(10);
    /// let sessions: Vec<_> = (0..100)
    ///     .map(|i| {
    ///         let request = ctx.serve(async move { i });
    ///         let session = request.session();
    ///         assert_eq!(ctx.block(request).unwrap(), i);
    ///         ctx.wait_on_execution_context(session);
    ///         session
    ///     })
    ///     .collect();
    /// assert!(ctx.session_report(sessions[0]).is_none(), "let go");
    /// assert!(ctx.session_report(sessions[99]).is_some(), "among the last 10");
    /// ```
    pub fn keep_reports(&self, limit: usize) {
        self.inner.lock().keep = limit;
        self.inner.let_go();
    }

    /// Everything `session` did so far; `None` if this context did not create it (or let it go:
    /// see [`keep_reports`](Self::keep_reports)).
    pub fn session_report(&self, session: SessionId) -> Option<SessionReport> {
        self.inner
            .lock()
            .get(session)
            .map(|state| state.report(session))
    }

    /// Whether the handler of `session` called
    /// [`pass_through_on_exception`](ExecutionContext::pass_through_on_exception).
    pub fn passes_through_on_exception(&self, session: SessionId) -> bool {
        self.inner
            .lock()
            .get(session)
            .is_some_and(|state| state.pass_through)
    }

    // Faults.

    /// Injects `faults` from now on (replacing the previous configuration; the default injects
    /// nothing). Every decision is drawn from the `TestScheduler`'s seeded generator, so a seed
    /// (or a replay file) replays the same faults. Panics if a rate is not between 0 and 1, or
    /// if faults are on and the scheduler is not a [`TestScheduler`](crate::TestScheduler).
    ///
    /// Applied by the context itself: client disconnects and isolate resets (drawn per
    /// [`serve`](Self::serve)). Applied where the app asks: store faults (its store wrapper
    /// asks [`fault_points`](Self::fault_points)), slow subrequests and `buggify` (through the
    /// [`runtime`](Self::runtime)).
    ///
    /// ```
    /// use scheduler::cloud::{PlatformRuntime, SimulatedExecutionContext, SimulationFaults};
    /// use scheduler::TestScheduler;
    ///
    /// let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(3));
    /// ctx.set_faults(SimulationFaults { buggify: 0.5, ..SimulationFaults::default() });
    /// let runtime = ctx.runtime();
    /// let fired = (0..100).filter(|_| runtime.buggify()).count();
    /// assert!((30..70).contains(&fired));
    /// assert_eq!(ctx.fault_counts().buggify, fired as u64);
    /// ```
    pub fn set_faults(&self, faults: SimulationFaults) {
        self.inner.set_faults(faults);
    }

    /// The faults injected from now on.
    pub fn faults(&self) -> SimulationFaults {
        self.inner.fault_config()
    }

    /// The context's fault points, for the app's own store wrapper: ask
    /// [`decide`](FaultPoints::decide) with [`FaultPoint::Store`] before each call.
    pub fn fault_points(&self) -> SimulatedFaultPoints {
        SimulatedFaultPoints {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// How many faults of each kind were injected so far (each session's are also in its
    /// [`SessionReport::faults`](SessionReport::faults)).
    pub fn fault_counts(&self) -> FaultCounts {
        self.inner.fault_counts()
    }

    /// A new request's faults, drawn when it is served: when it resets the isolate, and the
    /// timer of its client's disconnect.
    pub(super) fn draw_request_faults(&self) -> RequestFaults {
        let config = self.inner.fault_config();
        let reset_after = self.inner.chance(config.isolate_reset).then(|| {
            self.inner
                .draw_time(&(Duration::ZERO..=config.reset_within))
        });
        let disconnect = self.inner.chance(config.client_disconnect).then(|| {
            let after = self
                .inner
                .draw_time(&(Duration::ZERO..=config.disconnect_within));
            // The client's clock, not the request's: the timer belongs to no session.
            let _session = session::enter(None);
            self.inner.scheduler.timer(after)
        });
        RequestFaults {
            reset_after,
            disconnect,
        }
    }

    // The isolate.

    /// Registers app state that lives as long as the simulated isolate (see [`IsolateState`]):
    /// `init` builds it, given the isolate's number (0, then one more after each reset), the
    /// first time [`get`](IsolateState::get) is called in each isolate.
    ///
    /// ```
    /// use scheduler::cloud::SimulatedExecutionContext;
    /// use scheduler::TestScheduler;
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(0));
    /// let hits = ctx.isolate_state(|_isolate| Rc::new(Cell::new(0)));
    /// hits.get().set(hits.get().get() + 1);
    /// assert_eq!(hits.get().get(), 1);
    /// ctx.reset_isolate();
    /// assert_eq!(hits.get().get(), 0, "lost with the isolate");
    /// assert_eq!(ctx.isolate(), 1);
    /// ```
    pub fn isolate_state<T: Clone>(&self, init: impl Fn(u64) -> T + 'static) -> IsolateState<T> {
        IsolateState::new(Arc::downgrade(&self.inner), init)
    }

    /// The current isolate's number: 0, then one more after each reset.
    pub fn isolate(&self) -> u64 {
        self.inner.isolate()
    }

    /// Resets the isolate now, as the [`isolate_reset`](SimulationFaults::isolate_reset)
    /// fault does at a seeded moment: [`IsolateState`]s are built afresh on next use, and every
    /// session not ended yet fails and ends — its handler is dropped (awaiting it gives
    /// [`RequestFailed`](RequestFailed) with
    /// [`RequestFailure::IsolateReset`](RequestFailure::IsolateReset)), its unsettled
    /// `wait_until` jobs are cancelled ([`WaitUntilOutcome::IsolateReset`]) and its other tasks
    /// cancelled. Returns how many sessions it killed.
    pub fn reset_isolate(&self) -> usize {
        self.inner.reset_isolate()
    }

    /// Whether the code running now belongs to a request an isolate reset killed: the
    /// destructors of its dropped futures, which Rust runs although workerd never would. Code
    /// that stands for the world outside the isolate (a log pipeline the app writes to, an
    /// external service) should ignore such calls: they would never have happened.
    pub fn in_reset_isolate(&self) -> bool {
        self.inner.in_reset_isolate()
    }
}

impl ExecutionContext for SimulatedExecutionContext {
    /// Registers `future` with the current session. Panics if no session is current, or if the
    /// session already ended (the Workers runtime rejects `waitUntil` then too).
    #[track_caller]
    fn wait_until_boxed(&self, future: LocalFuture) {
        let session = current_session("wait_until");
        let index = {
            let mut sessions = self.inner.lock();
            let state = sessions.expect_mut(session, "wait_until");
            if state.is_ended() {
                None
            } else {
                state.wait_until.push(WaitUntilEntry {
                    task: None,
                    handle: None,
                    outcome: None,
                });
                Some(state.wait_until.len() - 1)
            }
        };
        let Some(index) = index else {
            panic!(
                "wait_until called for {session} after it ended: its response was sent and its \
                 wait_until work settled or was cut off"
            );
        };
        let tracked = TrackedWaitUntil::new(future, Arc::downgrade(&self.inner), session, index);
        let task = self.inner.scheduler.spawn_foreground(tracked);
        let mut sessions = self.inner.lock();
        let entry = &mut sessions.expect_mut(session, "wait_until").wait_until[index];
        entry.task = task.metadata().copied();
        entry.handle = Some(task);
    }

    fn pass_through_on_exception(&self) {
        let session = current_session("pass_through_on_exception");
        self.inner
            .lock()
            .expect_mut(session, "pass_through_on_exception")
            .pass_through = true;
    }
}

#[track_caller]
fn current_session(call: &str) -> SessionId {
    session::current().unwrap_or_else(|| {
        panic!(
            "SimulatedExecutionContext::{call} was called outside any session; run the handler \
             with serve(), or inside with_session()"
        )
    })
}

/// The simulation's [`FaultPoints`]: hand it to the store wrapper of your app (from
/// [`SimulatedExecutionContext::fault_points`](SimulatedExecutionContext::fault_points));
/// the context's [`runtime`](SimulatedExecutionContext::runtime) asks it too. Decides by
/// the context's current [`SimulationFaults`]; after the context is gone, everything proceeds.
#[derive(Clone, Debug)]
pub struct SimulatedFaultPoints {
    pub(super) inner: Weak<Inner>,
}

impl FaultPoints for SimulatedFaultPoints {
    fn decide(&self, point: FaultPoint<'_>) -> FaultAction {
        match self.inner.upgrade() {
            Some(inner) => inner.decide(point),
            None => FaultAction::Proceed,
        }
    }
}

/// Counts a `settled` future as watching its session while it lives (a session watched is not
/// let go by `keep_reports`).
struct Watch {
    inner: Weak<Inner>,
    session: SessionId,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.watch(self.session, false);
        }
    }
}

/// The faults a request drew when it was served.
pub(super) struct RequestFaults {
    /// Reset the isolate this long after the request started.
    pub(super) reset_after: Option<Duration>,
    /// Fires when the client disconnects.
    pub(super) disconnect: Option<crate::Timer>,
}
