//! The spawn helpers on `dyn Scheduler`: a future becomes a [`Runnable`](crate::Runnable) (handed
//! to the backend) and a [`Task`] (handed to the caller), with [`TaskMetadata`] attached.

use crate::route::Route;
use crate::task_future::TaskFuture;
use crate::{Scheduler, Task, TaskKind, TaskLabel, TaskMetadata, session};
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

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
        self.spawn_background(None, Location::caller(), future)
    }

    /// Spawns `future` on a background thread, with `label` attached (see
    /// [`TestScheduler::deprioritize`](crate::TestScheduler::deprioritize)).
    #[track_caller]
    pub fn spawn_labeled<F>(self: &Arc<Self>, label: TaskLabel, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_background(Some(label), Location::caller(), future)
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
        let route = Route::to(self);
        let spawning_thread = std::thread::current().id();
        let task_route = route.clone();
        self.start(async_task::Builder::new().metadata(metadata).spawn_local(
            |metadata| TaskFuture::new(future, *metadata, task_route),
            move |runnable| route.schedule_foreground(runnable, spawning_thread),
        ))
    }

    /// `spawn` / `spawn_labeled`, with the caller's location passed in.
    fn spawn_background<F>(
        self: &Arc<Self>,
        label: Option<TaskLabel>,
        location: &'static Location<'static>,
        future: F,
    ) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let metadata = self.new_metadata(label, TaskKind::Background, location);
        let route = Route::to(self);
        let task_route = route.clone();
        self.start(async_task::Builder::new().metadata(metadata).spawn(
            |metadata| TaskFuture::new(future, *metadata, task_route),
            move |runnable| route.schedule(runnable, label),
        ))
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
