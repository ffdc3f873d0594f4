//! The spawn helpers on `dyn Scheduler`: a future becomes a [`Runnable`](crate::Runnable) (handed
//! to the backend) and a [`Task`] (handed to the caller), with [`TaskMetadata`] attached.

use crate::scheduler::BackgroundQueue;
use crate::task_future::TaskFuture;
use crate::{Runnable, Scheduler, Task, TaskKind, TaskLabel, TaskMetadata, session};
use std::future::Future;
use std::panic::Location;
use std::sync::{Arc, Weak};

impl dyn Scheduler {
    /// Spawns `future` on a background thread.
    ///
    /// The task belongs to the [session](crate::session) current at the call, and records the
    /// caller's location for panic messages, traces and leak reports.
    ///
    /// ```
    /// use scheduler::{Scheduler, TestScheduler};
    /// use std::sync::Arc;
    /// let scheduler: Arc<dyn Scheduler> = Arc::new(TestScheduler::with_seed(3));
    /// let task = scheduler.spawn(async { "hello" });
    /// assert!(task.metadata().unwrap().location().file().ends_with(".rs"));
    /// assert_eq!(scheduler.block(task), "hello");
    /// ```
    #[track_caller]
    pub fn spawn<F>(self: &Arc<Self>, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let metadata = self.new_metadata(None, TaskKind::Background, Location::caller());
        let target = match self.background_queue() {
            Some(queue) => BackgroundTarget::Queue(queue),
            None => BackgroundTarget::Scheduler(Arc::downgrade(self)),
        };
        self.start(async_task::Builder::new().metadata(metadata).spawn(
            |metadata| TaskFuture::new(future, *metadata, self.end_reporter()),
            move |runnable| target.schedule(runnable),
        ))
    }

    /// Spawns `future` on a background thread, with `label` attached (see
    /// [`TestScheduler::deprioritize`](crate::TestScheduler::deprioritize)).
    #[track_caller]
    pub fn spawn_labeled<F>(self: &Arc<Self>, label: TaskLabel, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let metadata = self.new_metadata(Some(label), TaskKind::Background, Location::caller());
        let weak = Arc::downgrade(self);
        self.start(async_task::Builder::new().metadata(metadata).spawn(
            |metadata| TaskFuture::new(future, *metadata, self.end_reporter()),
            move |runnable| {
                if let Some(scheduler) = weak.upgrade() {
                    scheduler.schedule_labeled(runnable, label);
                }
            },
        ))
    }

    /// Spawns a `!Send` future on the main thread.
    ///
    /// Panics (through [`Scheduler::schedule_foreground`]) on schedulers without a main thread.
    /// The future is polled and dropped only on the thread that spawned it.
    #[track_caller]
    pub fn spawn_foreground<F>(self: &Arc<Self>, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let metadata = self.new_metadata(None, TaskKind::Foreground, Location::caller());
        let weak = Arc::downgrade(self);
        let spawning_thread = std::thread::current().id();
        self.start(async_task::Builder::new().metadata(metadata).spawn_local(
            |metadata| TaskFuture::new(future, *metadata, self.end_reporter()),
            move |runnable| match weak.upgrade() {
                Some(scheduler) => scheduler.schedule_foreground(runnable),
                // The scheduler is gone. A `spawn_local` runnable may only be dropped on its
                // spawning thread (async-task panics, even aborts, elsewhere), so a wake from
                // another thread leaks it: never run, never dropped.
                None if std::thread::current().id() == spawning_thread => drop(runnable),
                None => std::mem::forget(runnable),
            },
        ))
    }

    /// The `Weak` a task uses to report its end, unless the scheduler does not want reports.
    fn end_reporter(self: &Arc<Self>) -> Option<Weak<dyn Scheduler>> {
        self.reports_task_ends().then(|| Arc::downgrade(self))
    }

    fn new_metadata(
        &self,
        label: Option<TaskLabel>,
        kind: TaskKind,
        location: &'static Location<'static>,
    ) -> TaskMetadata {
        TaskMetadata::new(
            self.next_task_id(),
            label,
            session::current(),
            location,
            kind,
        )
    }

    fn start<T>(
        &self,
        (runnable, task): (
            crate::Runnable,
            async_task::Task<Result<T, crate::task_future::PanicPayload>, TaskMetadata>,
        ),
    ) -> Task<T> {
        self.schedule_spawned(runnable);
        Task::spawned(task)
    }
}

/// Where a background task's wakes go: the scheduler's own queue if it offers one, else the
/// scheduler itself through a `Weak` (dropped runnables once it is gone).
enum BackgroundTarget {
    Queue(BackgroundQueue),
    Scheduler(Weak<dyn Scheduler>),
}

impl BackgroundTarget {
    fn schedule(&self, runnable: Runnable) {
        match self {
            Self::Queue(queue) => queue(runnable),
            Self::Scheduler(weak) => {
                if let Some(scheduler) = weak.upgrade() {
                    scheduler.schedule(runnable);
                }
            }
        }
    }
}
