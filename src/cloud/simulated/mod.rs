//! [`SimulatedExecutionContext`]: Worker request sessions replayed deterministically over a
//! [`TestScheduler`](crate::TestScheduler).

mod fault_config;
mod fault_record;
mod faults;
mod inner;
mod isolate;
mod report;
mod state;
mod tracked;

pub use fault_config::SimulationFaults;
pub use fault_record::{FaultCounts, FaultKind, InjectedFault};
pub use faults::SimulatedFaultPoints;
pub use isolate::IsolateState;
pub use report::{
    DanglingState, DanglingTask, RequestFailed, RequestFailure, SessionCleanupError, SessionReport,
    WaitUntilOutcome, WaitUntilReport,
};

use super::{ExecutionContext, LocalFuture, SchedulerRuntime};
use crate::{InstantKind, Scheduler, SessionId, Task, TaskId, session};
use inner::{Inner, register};
use state::{Sessions, WaitUntilEntry};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tracked::{Handler, TrackedWaitUntil};

pub use inner::WAIT_UNTIL_LIMIT;

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
                faults: Mutex::default(),
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
        self.inner.lock().expect_mut(session, "serve").handler = Some(id);
        SimulatedRequest { session, task }
    }

    /// Marks the response of a session driven by hand: its `wait_until` window starts now.
    /// Sessions from [`serve`](Self::serve) respond by themselves. Does nothing if the session
    /// already responded.
    pub fn respond(&self, session: SessionId) {
        self.inner.respond(session);
    }

    /// Blocks on `future`, running the simulation meanwhile (see `Scheduler::block`).
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
        let inner = Arc::downgrade(&self.inner);
        std::future::poll_fn(move |cx| {
            let Some(inner) = inner.upgrade() else {
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

    /// Everything `session` did so far; `None` if this context did not create it.
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
