//! [`Timer`]: a future that completes after a delay, built on [`Scheduler::schedule_after`].

use crate::scheduler::deadline_after;
use crate::{Instant, Scheduler, TaskHeader, TaskKind, TaskMetadata, session};
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Completes once its delay has passed on the scheduler's clock. Dropping it cancels it.
///
/// Made by `timer` on `dyn Scheduler` or on the executors. If the scheduler shuts down (is
/// dropped) before the timer fires, the timer can never fire: polling it then panics, naming the
/// timer, instead of leaving its awaiter pending forever.
#[must_use = "a Timer does nothing unless awaited"]
pub struct Timer {
    task: Option<async_task::FallibleTask<(), TaskHeader>>,
    metadata: TaskMetadata,
    deadline: Instant,
    /// The scheduler's task handle (see `Scheduler::task_handle`): told when the timer is
    /// dropped unfired.
    scheduler: Arc<dyn Scheduler>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("timer", &self.metadata)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // Not fired yet: let the backend release it (see `Scheduler::timer_cancelled`).
        if self.task.as_ref().is_some_and(|task| !task.is_finished()) {
            self.scheduler.timer_cancelled(&self.metadata);
        }
    }
}

impl Timer {
    /// When the timer fires, on the scheduler's clock (about a century away for a delay too large
    /// to represent, such as `Duration::MAX`).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The metadata of the runnable behind this timer (kind [`TaskKind::Timer`]).
    pub fn metadata(&self) -> &TaskMetadata {
        &self.metadata
    }
}

impl Future for Timer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(task) = self.task.as_mut() else {
            return Poll::Ready(());
        };
        match Pin::new(task).poll(cx) {
            Poll::Ready(Some(())) => {
                self.task = None;
                Poll::Ready(())
            }
            // The scheduler dropped the timer's runnable (it shut down): the timer never fires.
            Poll::Ready(None) => scheduler_gone(&self.metadata),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl dyn Scheduler {
    /// A future that completes after `duration` on this scheduler's clock. `Duration::MAX` is
    /// allowed (it never fires in practice).
    ///
    /// ```
    /// use scheduler::{Scheduler, TestScheduler};
    /// use std::{sync::Arc, time::Duration};
    /// let scheduler: Arc<dyn Scheduler> = TestScheduler::with_seed(0);
    /// let start = scheduler.now();
    /// scheduler.block(scheduler.timer(Duration::from_millis(5)));
    /// assert_eq!(scheduler.now() - start, Duration::from_millis(5));
    /// ```
    #[track_caller]
    pub fn timer(self: &Arc<Self>, duration: Duration) -> Timer {
        let metadata = TaskMetadata::new(
            self.next_task_id(),
            None,
            session::current(),
            Location::caller(),
            TaskKind::Timer,
        );
        // The future is ready at once, so nothing ever wakes it: the schedule function only
        // runs if async-task needs to drop the runnable, which dropping it here does.
        let scheduler = self.task_handle(self);
        let (runnable, task) = async_task::Builder::new()
            .metadata(TaskHeader::new(metadata, scheduler.clone()))
            .spawn(|_| async {}, drop);
        let deadline = deadline_after(self.now(), duration);
        scheduler.schedule_after(duration, runnable);
        Timer {
            task: Some(task.fallible()),
            metadata,
            deadline,
            scheduler,
        }
    }
}

#[cold]
#[inline(never)]
fn scheduler_gone(timer: &TaskMetadata) -> ! {
    panic!(
        "the timer {timer} can never fire: its scheduler was dropped (shut down) before its \
         deadline"
    )
}
