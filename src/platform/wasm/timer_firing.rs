//! Arming a timer (a JS timeout whose closure fires it), firing due timers in deadline order
//! when a timeout comes back, and cancelling a dropped timer.

use super::drain::Shared;
use super::timers::PendingTimer;
use crate::scheduler::deadline_after;
use crate::{Instant, Runnable, TaskId};
use std::time::Duration;
use wasm_bindgen::closure::Closure;

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

    /// The JS timeout of timer `id` ran. Every timer of its session due by now fires, in
    /// deadline order (hosts may run timeouts out of that order, e.g. Node rounds 0 ms up to
    /// 1 ms); firing runs the timer's runnable, which wakes whoever awaits the timer. If the
    /// host fired this timeout before its deadline (or it was armed for one chunk of a longer
    /// delay), it is re-armed for the rest.
    pub(super) fn fire_timers(&self, id: TaskId) {
        let due = self.with_state(|state| {
            let now = Instant::now();
            // Only this timer's session: see `TimerBook::take_due`.
            let Some(session) = state.timers.session_of(id) else {
                return Vec::new();
            };
            let due = state.timers.take_due(now, session);
            if let Some(mut early) = state.timers.remove(id) {
                state.early_timeouts += 1;
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
