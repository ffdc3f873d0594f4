//! Ending a session: its live tasks (but the exempt ones) are doomed, reported with
//! `console.error`, and dropped now if queued or when next woken; its timers are cleared.

use super::console;
use super::drain::Shared;
use super::stats::SessionEnd;
use crate::{SessionId, TaskId};

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
        console::cancelled_tasks(session, &cancelled);
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
