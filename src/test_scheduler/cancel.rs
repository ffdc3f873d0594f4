//! Cancelling tasks from outside: [`TestScheduler::cancel_tasks`] and
//! [`TestScheduler::cancel_session`]. The cloud simulation uses this to end a request's
//! leftover tasks the way the Workers runtime does.

use super::handle::TestScheduler;
use crate::{SessionId, TaskId};

impl TestScheduler {
    /// Cancels the live tasks among `ids` (ids of ended or unknown tasks are ignored) and
    /// returns how many it cancelled.
    ///
    /// A cancelled task is never polled again: its queued runnable is dropped now, and a
    /// runnable that a later wake would queue is dropped at the next tick instead. Dropping the
    /// runnable drops the future, which ends the task as
    /// [`Cancelled`](crate::TaskOutcome::Cancelled). A cancelled task that waits for a wake
    /// (a timer, a channel) stays live until that wake comes; [`is_task_running`] reports it
    /// until then.
    ///
    /// ```
    /// use scheduler::{Scheduler, TestScheduler};
    /// use std::{sync::Arc, time::Duration};
    /// let test = TestScheduler::with_seed(0);
    /// let scheduler: Arc<dyn Scheduler> = test.clone();
    /// let task = scheduler.spawn(async { 1 });
    /// let id = task.id().unwrap();
    /// task.detach();
    /// assert_eq!(test.cancel_tasks([id]), 1);
    /// test.run_until_parked();
    /// assert!(!test.is_task_running(id));
    /// ```
    ///
    /// [`is_task_running`]: TestScheduler::is_task_running
    pub fn cancel_tasks(&self, ids: impl IntoIterator<Item = TaskId>) -> usize {
        self.engine.drain_inbox();
        let (count, dropped) = {
            let mut guard = self.engine.state("cancel_tasks");
            let state = &mut *guard;
            let mut count = 0;
            for id in ids {
                if state.live.contains(id) && state.cancelled.insert(id) {
                    count += 1;
                }
            }
            let cancelled = &state.cancelled;
            let dropped = state
                .ready
                .remove_matching(|runnable| cancelled.contains(&runnable.metadata().id()));
            (count, dropped)
        };
        // Outside the state borrow: dropping a runnable drops its future, whose end report
        // updates the scheduler's state.
        drop(dropped);
        count
    }

    /// Cancels every live task that belongs to `session` (see [`cancel_tasks`]) and returns
    /// how many it cancelled.
    ///
    /// [`cancel_tasks`]: TestScheduler::cancel_tasks
    pub fn cancel_session(&self, session: SessionId) -> usize {
        let ids: Vec<TaskId> = self
            .live_tasks()
            .into_iter()
            .filter(|task| task.session() == Some(session))
            .map(|task| task.id())
            .collect();
        self.cancel_tasks(ids)
    }
}
