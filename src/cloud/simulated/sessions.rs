//! The sessions of a [`SimulatedExecutionContext`](super::SimulatedExecutionContext): the state
//! its handle shares with the futures it runs ([`Inner`]: the sessions, the faults, the
//! isolate's number), what happens to a session over its life (responded, settled, ended, cut
//! off), the bookkeeping of each (`SessionState`: plain data), and the wrappers around a
//! request's own futures (the handler, each `wait_until` job) that report to it.

use super::faults::{FaultCounts, FaultInjector, FaultKind, InjectedFault, SimulationFaults};
use super::report::{
    RequestFailed, RequestFailure, SessionReport, WaitUntilOutcome, WaitUntilReport,
};
use crate::cloud::LocalFuture;
use crate::task::panic::panic_message;
use crate::{
    Instant, InstantKind, Scheduler, SessionId, Task, TaskId, TaskMetadata, TestScheduler, Timer,
    session,
};
use futures::future::select;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Display;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// How long `wait_until` work may run after the response before the Workers runtime cancels it.
pub const WAIT_UNTIL_LIMIT: Duration = Duration::from_secs(30);

pub(crate) struct Inner {
    pub(crate) scheduler: Arc<dyn Scheduler>,
    pub(crate) start: Instant,
    pub(crate) sessions: Mutex<Sessions>,
    /// Session ids of this context when its scheduler is not a [`TestScheduler`].
    pub(crate) next_session: AtomicU64,
    /// The faults to inject and what was injected.
    pub(crate) faults: FaultInjector,
    /// The current isolate's number (0, then one more per reset).
    pub(crate) isolate: AtomicU64,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Sessions> {
        // A panicking handler never holds this lock, but a poisoned lock must not hide state.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.scheduler.now().saturating_duration_since(self.start)
    }

    // Faults: drawn by the injector, recorded here (counted, listed in the session's report,
    // marked on its track).

    /// The faults injected from now on.
    pub(crate) fn fault_config(&self) -> SimulationFaults {
        self.faults.config()
    }

    /// How many faults of each kind were injected so far.
    pub(crate) fn fault_counts(&self) -> FaultCounts {
        self.faults.counts()
    }

    /// Sets the faults injected from now on (checked: rates, a `TestScheduler` to draw them).
    pub(crate) fn set_faults(&self, faults: SimulationFaults) {
        self.faults.set(faults, self.test_scheduler().is_some());
    }

    /// True with probability `rate` (a seeded draw); draws nothing when `rate` is 0.
    pub(crate) fn chance(&self, rate: f64) -> bool {
        FaultInjector::chance(self.test_scheduler(), rate)
    }

    /// A time drawn from `range`, in whole milliseconds.
    pub(crate) fn draw_time(&self, range: &std::ops::RangeInclusive<Duration>) -> Duration {
        FaultInjector::draw_time(self.test_scheduler(), range)
    }

    /// What happens at a fault point of the current session's code; an injected fault is
    /// recorded.
    pub(crate) fn decide(&self, point: crate::cloud::FaultPoint<'_>) -> crate::cloud::FaultAction {
        let (action, injected) = self.faults.decide(self.test_scheduler(), point);
        if let Some((kind, what)) = injected {
            self.injected(kind, session::current(), what);
        }
        action
    }

    /// Records an injected fault: counted, listed in `session`'s report (if it is one of this
    /// context's), and marked on the timeline (on the session's track).
    pub(crate) fn injected(&self, kind: FaultKind, session: Option<SessionId>, what: String) {
        self.faults.count(kind);
        let at = self.elapsed();
        let name = format!("{kind}: {what}");
        if let Some(test) = self.test_scheduler() {
            session::with(session, || {
                test.record_instant(InstantKind::Fault, &name, &[]);
            });
        }
        if let Some(session) = session
            && let Some(state) = self.lock().get_mut(session)
        {
            state.faults.push(InjectedFault { kind, what, at });
        }
    }

    pub(crate) fn test_scheduler(&self) -> Option<&TestScheduler> {
        self.scheduler.downcast_ref::<TestScheduler>()
    }

    /// Marks a moment of `session`'s life on the TestScheduler's timeline (its session's
    /// track), if one is recorded: a [`InstantKind::Note`] (request, response, end) or an
    /// injected [`InstantKind::Fault`].
    pub(crate) fn mark(
        &self,
        kind: InstantKind,
        session: SessionId,
        name: &str,
        args: &[(&str, &dyn Display)],
    ) {
        if let Some(test) = self.test_scheduler() {
            session::with(Some(session), || test.record_instant(kind, name, args));
        }
    }

    /// Records how `wait_until` job `index` ended; wakes whoever waits if the session settled.
    pub(crate) fn settle(&self, session: SessionId, index: usize, outcome: WaitUntilOutcome) {
        let at = self.elapsed();
        let wakers = match self.lock().get_mut(session) {
            Some(state) => state.settle(index, outcome, at),
            None => Vec::new(),
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Records a handler panic; returns whether the request passes through to the origin.
    pub(crate) fn record_handler_panic(&self, session: SessionId, message: &str) -> bool {
        let mut sessions = self.lock();
        let state = sessions.expect_mut(session, "serve");
        state.handler_panic = Some(message.to_string());
        state.pass_through
    }

    /// The response is out: start the `wait_until` window.
    pub(crate) fn respond(self: &Arc<Self>, session: SessionId) {
        let at = self.elapsed();
        {
            let mut sessions = self.lock();
            let state = sessions.expect_mut(session, "respond");
            if state.phase != Phase::Handling {
                return;
            }
            state.phase = Phase::Responded { at };
        }
        self.mark(InstantKind::Note, session, "responded", &[]);
        // The supervisor belongs to no session: it is the runtime, not the request.
        let _session = session::enter(None);
        let cutoff = self.scheduler.timer(WAIT_UNTIL_LIMIT);
        let inner = Arc::downgrade(self);
        self.scheduler
            .spawn_foreground(supervise(inner, session, cutoff))
            .detach();
    }

    /// Keeps the waker of `session`'s handler, waiting, so an isolate reset can wake it.
    pub(crate) fn handler_waiting(&self, session: SessionId, waker: &Waker) {
        if let Some(state) = self.lock().get_mut(session) {
            match &mut state.handler_waker {
                Some(known) if known.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        }
    }

    /// Ends the session: unsettled `wait_until` jobs get `unsettled` (a cut-off, or an isolate
    /// reset) and are cancelled, and leftover tasks are cancelled.
    pub(crate) fn end_session(&self, session: SessionId, unsettled: WaitUntilOutcome) {
        let live = self.test_scheduler().map(TestScheduler::live_tasks);
        let at = self.elapsed();
        let (handles, dangling, wakers, cut_off) = {
            let mut sessions = self.lock();
            let Some(state) = sessions.get_mut(session) else {
                return;
            };
            let responded_at = match state.phase {
                Phase::Ended { .. } => return,
                Phase::Responded { at } => Some(at),
                Phase::Handling if state.killed => None,
                Phase::Handling => Some(at),
            };
            let mut handles = Vec::new();
            let mut cut_off = 0;
            for entry in &mut state.wait_until {
                if entry.outcome.is_none() {
                    entry.outcome = Some((unsettled.clone(), at));
                    cut_off += 1;
                }
                handles.extend(entry.handle.take());
            }
            let dangling: Vec<_> = live
                .unwrap_or_default()
                .into_iter()
                .filter(|task| task.session() == Some(session) && !state.is_sanctioned(task.id()))
                .collect();
            state.cancelled_at_end = dangling.clone();
            state.phase = Phase::Ended { responded_at, at };
            let waiters = std::mem::take(&mut state.waiters);
            sessions.ended(session);
            (handles, dangling, waiters, cut_off)
        };
        let (cancelled, cut_off) = (dangling.len(), cut_off);
        #[cfg(feature = "tracing")]
        crate::tracing_events::session_ended(session, cancelled);
        self.mark(
            InstantKind::Note,
            session,
            "session ended",
            &[
                ("tasks_cancelled", &cancelled),
                ("wait_until_cut_off", &cut_off),
            ],
        );
        // Outside the lock: dropping a running job's handle cancels it, and its end report
        // comes back here.
        drop(handles);
        if let Some(test) = self.test_scheduler() {
            test.cancel_tasks(dangling.iter().map(|task| task.id()));
        }
        wakers.into_iter().for_each(Waker::wake);
        self.let_go();
    }

    /// Forgets the oldest ended sessions past the `keep_reports` bound that nothing holds any
    /// more: handler gone, no `settled` future waiting, and every task cancelled at their end
    /// ended (so `in_reset_isolate` stays right for their destructors).
    pub(crate) fn let_go(&self) {
        let candidates = {
            let sessions = self.lock();
            if sessions.keep == usize::MAX {
                return;
            }
            sessions.to_let_go()
        };
        if candidates.is_empty() {
            return;
        }
        // Outside the lock: asking the scheduler may drop runnables, whose futures report here.
        let test = self.test_scheduler();
        let done: Vec<SessionId> = candidates
            .into_iter()
            .filter(|(_, tasks)| {
                test.is_none_or(|test| tasks.iter().all(|&task| !test.is_task_running(task)))
            })
            .map(|(session, _)| session)
            .collect();
        let mut sessions = self.lock();
        for session in done {
            sessions.forget(session);
        }
    }

    /// The handler of `session` is gone (returned, failed or dropped).
    pub(crate) fn handler_done(&self, session: SessionId) {
        if let Some(state) = self.lock().get_mut(session) {
            state.handler_done = true;
        }
        self.let_go();
    }

    /// A `settled` future of `session` was made (`+1`) or dropped (`-1`).
    pub(crate) fn watch(&self, session: SessionId, watching: bool) {
        if let Some(state) = self.lock().get_mut(session) {
            if watching {
                state.watchers += 1;
            } else {
                state.watchers = state.watchers.saturating_sub(1);
            }
        }
        if !watching {
            self.let_go();
        }
    }
}

/// Waits until the session's `wait_until` work settled or the cut-off came, then ends it.
async fn supervise(inner: Weak<Inner>, session: SessionId, cutoff: crate::Timer) {
    let settled = {
        let inner = inner.clone();
        std::future::poll_fn(move |cx| {
            let Some(inner) = inner.upgrade() else {
                return Poll::Ready(());
            };
            let mut sessions = inner.lock();
            match sessions.get_mut(session) {
                Some(state) if !state.all_settled() => {
                    register(&mut state.waiters, cx.waker());
                    Poll::Pending
                }
                _ => Poll::Ready(()),
            }
        })
    };
    // Either way the session ends now; on a cut-off, `end_session` cancels what is left.
    let _ = select(std::pin::pin!(settled), cutoff).await;
    if let Some(inner) = inner.upgrade() {
        inner.end_session(session, WaitUntilOutcome::CutOff);
    }
}

/// Adds `waker` to `waiters` unless an equivalent one is there already.
pub(crate) fn register(waiters: &mut Vec<Waker>, waker: &Waker) {
    if !waiters.iter().any(|known| known.will_wake(waker)) {
        waiters.push(waker.clone());
    }
}

// ---- the bookkeeping of one session -------------------------------------------------------------
// The bookkeeping behind a [`SimulatedExecutionContext`](super::SimulatedExecutionContext):
// one [`SessionState`] per simulated request. Plain data; never wakes, spawns or drops tasks
// (its callers do that after releasing the lock).

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The handler is running: no response yet.
    Handling,
    /// The response is out; `wait_until` work may still run (30 s at most).
    Responded { at: Duration },
    /// Every `wait_until` job settled or was cut off (or the isolate was reset); leftover
    /// tasks were cancelled.
    Ended {
        /// `None`: killed by an isolate reset before it responded.
        responded_at: Option<Duration>,
        at: Duration,
    },
}

/// One `wait_until` job.
pub(crate) struct WaitUntilEntry {
    /// Set right after the spawn (the job cannot run before).
    pub(crate) task: Option<TaskMetadata>,
    /// Held so a cut-off can cancel the job; dropped (outside the lock) once it is over.
    pub(crate) handle: Option<Task<()>>,
    pub(crate) outcome: Option<(WaitUntilOutcome, Duration)>,
}

/// One simulated request.
pub(crate) struct SessionState {
    pub(crate) phase: Phase,
    /// The task `serve` spawned for the handler, if the session came from `serve`.
    pub(crate) handler: Option<TaskId>,
    pub(crate) handler_panic: Option<String>,
    pub(crate) pass_through: bool,
    pub(crate) wait_until: Vec<WaitUntilEntry>,
    /// Tasks cancelled at the session's end because they were neither done nor `wait_until`.
    pub(crate) cancelled_at_end: Vec<TaskMetadata>,
    /// Futures waiting for the session to settle or end.
    pub(crate) waiters: Vec<Waker>,
    /// The handler's task, waiting: woken when an isolate reset kills the session.
    pub(crate) handler_waker: Option<Waker>,
    /// Killed by an isolate reset.
    pub(crate) killed: bool,
    /// The faults injected into this session.
    pub(crate) faults: Vec<InjectedFault>,
    /// Whether the handler's future is gone (always, for a session driven by hand).
    pub(crate) handler_done: bool,
    /// `settled` futures of this session alive now: it is not let go while one waits.
    pub(crate) watchers: usize,
}

impl SessionState {
    fn new() -> Self {
        Self {
            phase: Phase::Handling,
            handler: None,
            handler_panic: None,
            pass_through: false,
            wait_until: Vec::new(),
            cancelled_at_end: Vec::new(),
            waiters: Vec::new(),
            handler_waker: None,
            killed: false,
            faults: Vec::new(),
            handler_done: true,
            watchers: 0,
        }
    }

    /// Responded, and every `wait_until` job settled.
    pub(crate) fn all_settled(&self) -> bool {
        !matches!(self.phase, Phase::Handling)
            && self.wait_until.iter().all(|entry| entry.outcome.is_some())
    }

    pub(crate) fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended { .. })
    }

    /// Ids of every `wait_until` job (settled or not).
    pub(crate) fn wait_until_ids(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.wait_until
            .iter()
            .filter_map(|entry| entry.task.map(|task| task.id()))
    }

    /// Whether `task` is part of the request itself (its handler or a `wait_until` job) rather
    /// than a task the request spawned and left behind.
    pub(crate) fn is_sanctioned(&self, task: TaskId) -> bool {
        self.handler == Some(task) || self.wait_until_ids().any(|id| id == task)
    }

    /// Records how job `index` ended, unless it already has an outcome (a cut-off is final).
    /// Returns the wakers to wake (after the lock is released) if that settled the session.
    /// The job's handle stays until the session ends (it is finished or about to be).
    pub(crate) fn settle(
        &mut self,
        index: usize,
        outcome: WaitUntilOutcome,
        at: Duration,
    ) -> Vec<Waker> {
        let entry = &mut self.wait_until[index];
        if entry.outcome.is_some() {
            return Vec::new();
        }
        entry.outcome = Some((outcome, at));
        if self.all_settled() {
            std::mem::take(&mut self.waiters)
        } else {
            Vec::new()
        }
    }

    /// The settled `wait_until` jobs with their outcomes.
    pub(crate) fn wait_until_reports(&self) -> Vec<WaitUntilReport> {
        self.wait_until
            .iter()
            .filter_map(|entry| {
                let task = entry.task?;
                let (outcome, settled_at) = entry.outcome.clone()?;
                Some(WaitUntilReport {
                    task,
                    outcome,
                    settled_at,
                })
            })
            .collect()
    }

    pub(crate) fn report(&self, session: SessionId) -> SessionReport {
        let (responded_at, ended_at) = match self.phase {
            Phase::Handling => (None, None),
            Phase::Responded { at } => (Some(at), None),
            Phase::Ended { responded_at, at } => (responded_at, Some(at)),
        };
        SessionReport {
            session,
            responded_at,
            ended_at,
            handler_panic: self.handler_panic.clone(),
            pass_through_on_exception: self.pass_through,
            wait_until: self
                .wait_until
                .iter()
                .filter_map(|entry| {
                    Some((entry.task?, entry.outcome.as_ref().map(|(o, _)| o.clone())))
                })
                .collect(),
            cancelled_at_end: self.cancelled_at_end.clone(),
            faults: self.faults.clone(),
            killed_by_isolate_reset: self.killed,
        }
    }
}

/// Every session of one context.
pub(crate) struct Sessions {
    sessions: BTreeMap<SessionId, SessionState>,
    /// How many finished sessions to keep (see `keep_reports`); `usize::MAX`: every one.
    pub(crate) keep: usize,
    /// Ended sessions, in the order they ended: the candidates to let go.
    ended: VecDeque<SessionId>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            sessions: BTreeMap::new(),
            keep: usize::MAX,
            ended: VecDeque::new(),
        }
    }
}

impl Sessions {
    /// `session` ended: a candidate to let go once more than `keep` sessions ended.
    pub(crate) fn ended(&mut self, session: SessionId) {
        if self.keep != usize::MAX {
            self.ended.push_back(session);
        }
    }

    /// The ended sessions past `keep` that nothing holds any more (their handler is gone and no
    /// `settled` future waits), oldest first, with the tasks cancelled at their end: they may
    /// be let go once those have ended too (see `Inner::let_go`).
    pub(crate) fn to_let_go(&self) -> Vec<(SessionId, Vec<TaskId>)> {
        let excess = self.ended.len().saturating_sub(self.keep);
        self.ended
            .iter()
            .filter_map(|session| {
                let state = self.sessions.get(session)?;
                (state.handler_done && state.watchers == 0).then(|| {
                    let tasks = state.cancelled_at_end.iter().map(|task| task.id());
                    (*session, tasks.collect())
                })
            })
            .take(excess)
            .collect()
    }

    /// Forgets `session` (it was in [`to_let_go`](Self::to_let_go)).
    pub(crate) fn forget(&mut self, session: SessionId) {
        self.sessions.remove(&session);
        if let Some(at) = self.ended.iter().position(|&ended| ended == session) {
            self.ended.remove(at);
        }
    }

    /// Starts the bookkeeping of `session`, a fresh id.
    pub(crate) fn create(&mut self, session: SessionId) {
        let previous = self.sessions.insert(session, SessionState::new());
        assert!(previous.is_none(), "{session} was created twice");
    }

    pub(crate) fn get(&self, session: SessionId) -> Option<&SessionState> {
        self.sessions.get(&session)
    }

    pub(crate) fn get_mut(&mut self, session: SessionId) -> Option<&mut SessionState> {
        self.sessions.get_mut(&session)
    }

    /// The sessions not ended yet (in flight), in order.
    pub(crate) fn in_flight(&self) -> Vec<SessionId> {
        self.sessions
            .iter()
            .filter(|(_, state)| !state.is_ended())
            .map(|(session, _)| *session)
            .collect()
    }

    /// The session, or a panic naming the misuse.
    pub(crate) fn expect_mut(&mut self, session: SessionId, call: &str) -> &mut SessionState {
        self.sessions.get_mut(&session).unwrap_or_else(|| {
            panic!("SimulatedExecutionContext::{call}: {session} was not created by this context")
        })
    }
}

// ---- the handler and wait_until futures ---------------------------------------------------------
// The wrappers around a simulated request's own futures: a `wait_until` job reports how it
// ended; a handler turns a panic into a failed request, is dropped when its client disconnects
// or its isolate is reset, and produces the response when it ends, however it ends.

/// A `wait_until` job: reports completion, panic or cancellation to its session exactly once.
pub(crate) struct TrackedWaitUntil {
    future: LocalFuture,
    inner: Weak<Inner>,
    session: SessionId,
    index: usize,
    done: bool,
}

impl TrackedWaitUntil {
    pub(crate) fn new(
        future: LocalFuture,
        inner: Weak<Inner>,
        session: SessionId,
        index: usize,
    ) -> Self {
        Self {
            future,
            inner,
            session,
            index,
            done: false,
        }
    }

    fn settle(&mut self, outcome: WaitUntilOutcome) {
        self.done = true;
        if let Some(inner) = self.inner.upgrade() {
            inner.settle(self.session, self.index, outcome);
        }
    }
}

impl Future for TrackedWaitUntil {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let future = &mut self.future;
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => {
                self.settle(WaitUntilOutcome::Completed);
                Poll::Ready(())
            }
            Err(payload) => {
                // Recorded as the job's outcome, which is where the test sees it: the panic is
                // observed, so the task itself ends normally (and is not reported again as a
                // panic nobody awaited).
                self.settle(WaitUntilOutcome::Panicked(
                    panic_message(&payload).to_string(),
                ));
                Poll::Ready(())
            }
        }
    }
}

impl Drop for TrackedWaitUntil {
    fn drop(&mut self) {
        if !self.done {
            // Cancelled: by a cut-off or an isolate reset (already recorded, so this changes
            // nothing) or by the scheduler shutting down.
            self.settle(WaitUntilOutcome::Cancelled);
        }
    }
}

/// Produces the session's response when dropped: when the handler returns, panics, is
/// cancelled, or is dropped by a fault.
struct RespondOnDrop {
    inner: Weak<Inner>,
    session: SessionId,
}

impl Drop for RespondOnDrop {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.respond(self.session);
            inner.handler_done(self.session);
        }
    }
}

/// The future `serve` spawns for a handler: runs it, turning a panic into a failed request;
/// drops it when its client disconnects (the `disconnect` timer fired first) or when an isolate
/// reset killed its session.
pub(crate) struct Handler<F: Future> {
    handler: Option<Pin<Box<F>>>,
    inner: Weak<Inner>,
    session: SessionId,
    disconnect: Option<Timer>,
    _respond: RespondOnDrop,
}

impl<F: Future> Handler<F> {
    pub(crate) fn new(
        handler: F,
        inner: Weak<Inner>,
        session: SessionId,
        disconnect: Option<Timer>,
    ) -> Self {
        Self {
            handler: Some(Box::pin(handler)),
            _respond: RespondOnDrop {
                inner: inner.clone(),
                session,
            },
            inner,
            session,
            disconnect,
        }
    }

    /// Drops the handler (in its session: the task's poll entered it) and fails the request.
    fn fail(&mut self, cause: RequestFailure, message: String) -> Poll<<Self as Future>::Output> {
        self.handler = None;
        Poll::Ready(Err(RequestFailed {
            session: self.session,
            cause,
            message,
            passed_through: false,
        }))
    }
}

impl<F: Future> Future for Handler<F> {
    type Output = Result<F::Output, RequestFailed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let inner = this.inner.upgrade();
        let session = this.session;
        if inner.as_ref().is_some_and(|inner| inner.killed(session)) {
            let message = "the isolate was reset while the request was in flight".to_string();
            return this.fail(RequestFailure::IsolateReset, message);
        }
        if let Some(timer) = &mut this.disconnect
            && Pin::new(timer).poll(cx).is_ready()
        {
            this.disconnect = None;
            let poll = this.fail(
                RequestFailure::ClientDisconnected,
                "the client disconnected while the handler ran; the handler was dropped".into(),
            );
            if let Some(inner) = &inner {
                let what = "the handler was dropped mid-request".to_string();
                inner.injected(FaultKind::ClientDisconnect, Some(session), what);
            }
            return poll;
        }
        let handler = this
            .handler
            .as_mut()
            .expect("a simulated request's handler is not polled after it ended");
        let isolate = inner.as_ref().map(|inner| inner.isolate());
        let poll = catch_unwind(AssertUnwindSafe(|| handler.as_mut().poll(cx)));
        // The handler may have reset the isolate itself, synchronously: then its request died
        // with it, whatever the poll returned (an isolate reset kills the code that runs in it).
        if let Some(inner) = &inner
            && Some(inner.isolate()) != isolate
            && inner.killed(session)
        {
            drop(poll);
            let message = "the isolate was reset while the request was in flight".to_string();
            return this.fail(RequestFailure::IsolateReset, message);
        }
        match poll {
            Ok(Poll::Ready(output)) => {
                this.handler = None;
                Poll::Ready(Ok(output))
            }
            Ok(Poll::Pending) => {
                if let Some(inner) = &inner {
                    inner.handler_waiting(session, cx.waker());
                }
                Poll::Pending
            }
            Err(payload) => {
                this.handler = None;
                let message = panic_message(&payload).to_string();
                let passed_through = inner
                    .as_ref()
                    .is_some_and(|inner| inner.record_handler_panic(session, &message));
                Poll::Ready(Err(RequestFailed {
                    session,
                    cause: RequestFailure::Panicked,
                    message,
                    passed_through,
                }))
            }
        }
    }
}
