//! The shared state of a [`SimulatedExecutionContext`](super::SimulatedExecutionContext): its
//! sessions, and what happens to one over its life (responded, settled, ended, cut off).

use super::fault_config::FaultState;
use super::report::WaitUntilOutcome;
use super::state::{Phase, Sessions};
use crate::{Instant, InstantKind, Scheduler, SessionId, TestScheduler, session};
use futures::future::select;
use std::fmt::Display;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

/// How long `wait_until` work may run after the response before the Workers runtime cancels it.
pub const WAIT_UNTIL_LIMIT: Duration = Duration::from_secs(30);

pub(crate) struct Inner {
    pub(super) scheduler: Arc<dyn Scheduler>,
    pub(super) start: Instant,
    pub(super) sessions: Mutex<Sessions>,
    /// Session ids of this context when its scheduler is not a [`TestScheduler`].
    pub(super) next_session: AtomicU64,
    /// The faults to inject and what was injected.
    pub(super) faults: Mutex<FaultState>,
    /// The current isolate's number (0, then one more per reset).
    pub(super) isolate: AtomicU64,
}

impl Inner {
    pub(super) fn lock(&self) -> MutexGuard<'_, Sessions> {
        // A panicking handler never holds this lock, but a poisoned lock must not hide state.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn elapsed(&self) -> Duration {
        self.scheduler.now().saturating_duration_since(self.start)
    }

    pub(super) fn test_scheduler(&self) -> Option<&TestScheduler> {
        self.scheduler.downcast_ref::<TestScheduler>()
    }

    /// Marks a moment of `session`'s life on the TestScheduler's timeline (its session's
    /// track), if one is recorded: a [`InstantKind::Note`] (request, response, end) or an
    /// injected [`InstantKind::Fault`].
    pub(super) fn mark(
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
    pub(super) fn settle(&self, session: SessionId, index: usize, outcome: WaitUntilOutcome) {
        let at = self.elapsed();
        let wakers = match self.lock().get_mut(session) {
            Some(state) => state.settle(index, outcome, at),
            None => Vec::new(),
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Records a handler panic; returns whether the request passes through to the origin.
    pub(super) fn record_handler_panic(&self, session: SessionId, message: &str) -> bool {
        let mut sessions = self.lock();
        let state = sessions.expect_mut(session, "serve");
        state.handler_panic = Some(message.to_string());
        state.pass_through
    }

    /// The response is out: start the `wait_until` window.
    pub(super) fn respond(self: &Arc<Self>, session: SessionId) {
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
    pub(super) fn handler_waiting(&self, session: SessionId, waker: &Waker) {
        if let Some(state) = self.lock().get_mut(session) {
            match &mut state.handler_waker {
                Some(known) if known.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        }
    }

    /// Ends the session: unsettled `wait_until` jobs get `unsettled` (a cut-off, or an isolate
    /// reset) and are cancelled, and leftover tasks are cancelled.
    pub(super) fn end_session(&self, session: SessionId, unsettled: WaitUntilOutcome) {
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
            (
                handles,
                dangling,
                std::mem::take(&mut state.waiters),
                cut_off,
            )
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
pub(super) fn register(waiters: &mut Vec<Waker>, waker: &Waker) {
    if !waiters.iter().any(|known| known.will_wake(waker)) {
        waiters.push(waker.clone());
    }
}
