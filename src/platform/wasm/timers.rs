//! The WasmScheduler's timers: one JS timeout per timer runnable, armed in chunks of at most
//! `MAX_TIMEOUT_MILLIS`, kept by deadline (the due ones of a session are taken in deadline
//! order), and a count of live timer closures that proves none leak. Arming, firing and
//! cancelling them (`impl Shared`) is in `scheduler.rs`.

use super::{host, instance};
use crate::{Instant, Runnable, SessionId, TaskId};
use js_sys::Function;
use rustc_hash::FxHashMap;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::closure::Closure;

/// A timer waiting for its JS timeout.
pub(super) struct PendingTimer {
    pub(super) runnable: Runnable,
    pub(super) deadline: Instant,
    handle: wasm_bindgen::JsValue,
    /// Whether `handle` is a `setImmediate` re-check (see [`recheck_soon`](Self::recheck_soon))
    /// rather than a timeout: each is cancelled with its own function.
    immediate: bool,
    callback: Closure<dyn FnMut()>,
    /// `callback` as handed to `setTimeout`: guarded against a dead instance (`instance.rs`).
    guarded: Function,
}

impl PendingTimer {
    /// Arms a JS timeout for `runnable` that calls `callback` once `deadline` (reached after
    /// `delay`) has passed.
    pub(super) fn start(
        runnable: Runnable,
        deadline: Instant,
        delay: Duration,
        callback: Closure<dyn FnMut()>,
    ) -> Self {
        let guarded = instance::guarded(callback.as_ref());
        let handle = host::start_timeout(&guarded, millis(delay));
        Self {
            runnable,
            deadline,
            handle,
            immediate: false,
            callback,
            guarded,
        }
    }

    /// Re-arms the JS timeout for the time left until the deadline (a host fired it early).
    pub(super) fn restart(&mut self, remaining: Duration) {
        self.handle = host::start_timeout(&self.guarded, millis(remaining));
        self.immediate = false;
    }

    /// Checks the deadline again right after the current turn, with `setImmediate`: for a
    /// timeout that came back less than a millisecond early (Node computes a timeout's expiry
    /// from the loop's clock, cached when the turn began and kept in whole milliseconds), where
    /// a re-armed `setTimeout` would take at least a millisecond more.
    pub(super) fn recheck_soon(&mut self) {
        self.handle = host::start_immediate(&self.guarded);
        self.immediate = true;
    }

    /// Whether the callback now running came from [`recheck_soon`](Self::recheck_soon) rather
    /// than from a timeout.
    pub(super) fn is_recheck(&self) -> bool {
        self.immediate
    }

    /// The runnable and the closure, once the timeout has fired.
    pub(super) fn into_parts(self) -> (Runnable, Closure<dyn FnMut()>) {
        (self.runnable, self.callback)
    }

    /// Clears the JS timeout. Dropping the timer afterwards releases its closure and runnable.
    pub(super) fn cancel(&self) {
        if self.immediate {
            host::cancel_immediate(&self.handle);
        } else {
            host::cancel_timeout(&self.handle);
        }
    }
}

/// The longest delay `setTimeout` takes as given: 2^31 - 1 ms (about 24.8 days). Longer ones
/// fire at once in Node (which clamps them to 1 ms) and wrap around in browsers, so a longer
/// timer is armed for this long and re-armed for the rest when it comes back early.
pub(super) const MAX_TIMEOUT_MILLIS: f64 = 2_147_483_647.0;

/// Whole milliseconds, rounded up so that a timeout never fires before its delay, and at most
/// [`MAX_TIMEOUT_MILLIS`].
fn millis(delay: Duration) -> f64 {
    (delay.as_secs_f64() * 1000.0)
        .ceil()
        .min(MAX_TIMEOUT_MILLIS)
}

/// Pending timers by the id of their runnable, and in deadline order (ties in creation order,
/// since ids grow).
#[derive(Default)]
pub(super) struct TimerBook {
    pending: FxHashMap<TaskId, PendingTimer>,
    by_deadline: BTreeSet<(Instant, TaskId)>,
}

impl TimerBook {
    pub(super) fn insert(&mut self, id: TaskId, timer: PendingTimer) {
        self.by_deadline.insert((timer.deadline, id));
        self.pending.insert(id, timer);
    }

    pub(super) fn remove(&mut self, id: TaskId) -> Option<PendingTimer> {
        let timer = self.pending.remove(&id)?;
        self.by_deadline.remove(&(timer.deadline, id));
        Some(timer)
    }

    pub(super) fn len(&self) -> usize {
        self.pending.len()
    }

    /// The session of pending timer `id`: `None` if it is not pending, `Some(None)` for a
    /// timer created outside any session.
    pub(super) fn session_of(&self, id: TaskId) -> Option<Option<SessionId>> {
        self.pending
            .get(&id)
            .map(|timer| timer.runnable.metadata().session())
    }

    /// Every timer of `session` whose deadline is at or before `now`, in deadline order.
    ///
    /// Only one session's: in Cloudflare Workers each request has its own I/O context, and a
    /// timeout set by one request can neither be cleared by nor run code for another. A timer
    /// fired from another request's callback would run that request's code in the wrong
    /// context, and its own timeout (not clearable from there) would later call a freed
    /// closure.
    pub(super) fn take_due(
        &mut self,
        now: Instant,
        session: Option<SessionId>,
    ) -> Vec<(TaskId, PendingTimer)> {
        let due_ids: Vec<(Instant, TaskId)> = self
            .by_deadline
            .iter()
            .take_while(|&&(deadline, _)| deadline <= now)
            .filter(|(_, id)| {
                self.pending
                    .get(id)
                    .is_some_and(|timer| timer.runnable.metadata().session() == session)
            })
            .copied()
            .collect();
        let mut due = Vec::with_capacity(due_ids.len());
        for key in due_ids {
            self.by_deadline.remove(&key);
            if let Some(timer) = self.pending.remove(&key.1) {
                due.push((key.1, timer));
            }
        }
        due
    }

    /// Removes the timers created while `session` was current.
    pub(super) fn take_session(&mut self, session: SessionId) -> Vec<PendingTimer> {
        let ids: Vec<TaskId> = self
            .pending
            .iter()
            .filter(|(_, timer)| timer.runnable.metadata().session() == Some(session))
            .map(|(&id, _)| id)
            .collect();
        ids.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    pub(super) fn take_all(&mut self) -> Vec<PendingTimer> {
        self.by_deadline.clear();
        self.pending.drain().map(|(_, timer)| timer).collect()
    }
}

/// Counts live timer closures: one token lives inside each closure and is dropped with it, so
/// the count falls back only when wasm-bindgen really frees the closure.
#[derive(Clone, Default)]
pub(super) struct ClosureCounter(Rc<Cell<usize>>);

impl ClosureCounter {
    pub(super) fn token(&self) -> ClosureToken {
        self.0.set(self.0.get() + 1);
        ClosureToken(self.0.clone())
    }

    pub(super) fn live(&self) -> usize {
        self.0.get()
    }
}

/// Held by one timer closure; see [`ClosureCounter`].
pub(super) struct ClosureToken(Rc<Cell<usize>>);

impl Drop for ClosureToken {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}
