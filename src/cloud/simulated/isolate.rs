//! The simulated isolate: state that lives as long as it ([`IsolateState`]), and its reset,
//! which loses that state and fails every request in flight.
//!
//! A Worker keeps per-isolate state in globals (`thread_local!`, `OnceCell`): caches, counters,
//! batched writes. An isolate can be reset at any moment (evicted, out of memory, an uncaught
//! error): that state is gone and the requests it was running fail, `wait_until` work
//! included; no code of the old isolate runs again. The simulation models this:
//! - app state registered with
//!   [`isolate_state`](super::SimulatedExecutionContext::isolate_state) is built on first use
//!   and built afresh after a reset: the old value is unreachable;
//! - every session not ended fails: its handler is dropped without being polled again (the
//!   request fails with [`RequestFailure::IsolateReset`](super::RequestFailure)), its
//!   `wait_until` jobs are cancelled ([`WaitUntilOutcome::IsolateReset`](super::WaitUntilOutcome)),
//!   its other tasks are cancelled, and it ends;
//! - Rust still runs the destructors of that work (workerd would not: the isolate's memory is
//!   simply gone), inside the killed session.
//!   [`in_reset_isolate`](super::SimulatedExecutionContext::in_reset_isolate) tells code that
//!   models the world outside the isolate (a log pipeline, another service) to ignore what they
//!   do, as it would never have happened.

use super::faults::{FaultKind, InjectedFault};
use super::report::WaitUntilOutcome;
use super::sessions::Inner;
use crate::{InstantKind, SessionId, session};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::task::Waker;

/// App state that lives as long as the simulated isolate, as a Worker's globals do: built by
/// its `init` on first use, lost when the isolate is reset (then built again, on next use, for
/// the new isolate). Made by
/// [`SimulatedExecutionContext::isolate_state`](super::SimulatedExecutionContext::isolate_state).
/// Clones share the state.
///
/// Keep in it what the isolate holds in memory (an ingest service with its pending counters),
/// and outside it what outlives an isolate (the store, the platform's logs).
pub struct IsolateState<T> {
    slot: Rc<RefCell<Option<(u64, T)>>>,
    init: Rc<dyn Fn(u64) -> T>,
    inner: Weak<Inner>,
}

impl<T> Clone for IsolateState<T> {
    fn clone(&self) -> Self {
        Self {
            slot: self.slot.clone(),
            init: self.init.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<T> std::fmt::Debug for IsolateState<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let built = self.slot.borrow().as_ref().map(|(isolate, _)| *isolate);
        f.debug_struct("IsolateState")
            .field("built_in_isolate", &built)
            .finish_non_exhaustive()
    }
}

impl<T: Clone> IsolateState<T> {
    pub(crate) fn new(inner: Weak<Inner>, init: impl Fn(u64) -> T + 'static) -> Self {
        Self {
            slot: Rc::default(),
            init: Rc::new(init),
            inner,
        }
    }

    /// The state of the current isolate: built now (by `init`, given the isolate's number) if
    /// this isolate has not built it yet. After a reset the old value is dropped here and never
    /// returned again.
    pub fn get(&self) -> T {
        let isolate = self.inner.upgrade().map_or(0, |inner| inner.isolate());
        let mut slot = self.slot.borrow_mut();
        match &*slot {
            Some((built_in, value)) if *built_in == isolate => value.clone(),
            _ => {
                // Drop the old isolate's value before building the new one.
                *slot = None;
                let value = (self.init)(isolate);
                *slot = Some((isolate, value.clone()));
                value
            }
        }
    }
}

impl Inner {
    /// The current isolate's number: 0, then one more after each reset.
    pub(crate) fn isolate(&self) -> u64 {
        self.isolate.load(Ordering::Relaxed)
    }

    /// Whether `session` was killed by an isolate reset.
    pub(crate) fn killed(&self, session: SessionId) -> bool {
        self.lock().get(session).is_some_and(|state| state.killed)
    }

    /// Resets the isolate: a new isolate number (so [`IsolateState`] builds afresh), and every
    /// session not ended fails and ends. Returns how many sessions it killed.
    pub(crate) fn reset_isolate(&self) -> usize {
        let isolate = self.isolate.fetch_add(1, Ordering::Relaxed) + 1;
        let in_flight = self.lock().in_flight();
        let what = format!(
            "isolate#{isolate} replaces the old one; {} requests in flight fail",
            in_flight.len()
        );
        self.injected(FaultKind::IsolateReset, None, what);
        let at = self.elapsed();
        let mut wakers: Vec<Waker> = Vec::new();
        {
            let mut sessions = self.lock();
            for &session in &in_flight {
                let state = sessions.expect_mut(session, "reset_isolate");
                state.killed = true;
                state.faults.push(InjectedFault {
                    kind: FaultKind::IsolateReset,
                    what: "killed: the isolate was reset while the request was in flight".into(),
                    at,
                });
                wakers.extend(state.handler_waker.take());
            }
        }
        for &session in &in_flight {
            self.mark(
                InstantKind::Fault,
                session,
                "killed by an isolate reset",
                &[],
            );
            self.end_session(session, WaitUntilOutcome::IsolateReset);
        }
        // The handlers see they were killed at their next poll, and end without running on.
        wakers.into_iter().for_each(Waker::wake);
        in_flight.len()
    }

    /// Whether the code running now belongs to a session an isolate reset killed.
    pub(crate) fn in_reset_isolate(&self) -> bool {
        session::current().is_some_and(|session| self.killed(session))
    }
}

/// Spawns the runtime's timer that resets the isolate `after` from now (it belongs to no
/// session: it is the platform, not a request).
pub(crate) fn schedule_reset(inner: &Arc<Inner>, after: std::time::Duration) {
    let _session = session::enter(None);
    let timer = inner.scheduler.timer(after);
    let weak = Arc::downgrade(inner);
    let reset = async move {
        timer.await;
        if let Some(inner) = weak.upgrade() {
            inner.reset_isolate();
        }
    };
    inner.scheduler.spawn_foreground(reset).detach();
}
