//! The spawn helpers on `dyn Scheduler`: a future becomes a [`Runnable`](crate::Runnable) (handed
//! to the backend) and a [`Task`] (handed to the caller), with [`TaskMetadata`] attached.

use crate::task::future::{TaskFuture, TaskResult};
use crate::{Runnable, Scheduler, Task, TaskKind, TaskLabel, TaskMetadata, session};
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
    /// let scheduler: Arc<dyn Scheduler> = TestScheduler::with_seed(3);
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
    /// The future is polled and dropped only on the main thread, so this must be called there:
    /// elsewhere it panics, naming the call site (a background task that needs main-thread
    /// work sends it there through a channel, or the app spawns it from the main thread).
    /// Schedulers without a main thread panic too (see [`Scheduler::schedule_foreground`]).
    #[track_caller]
    pub fn spawn_foreground<F>(self: &Arc<Self>, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let location = Location::caller();
        if !self.is_main_thread() {
            off_main_thread(location);
        }
        let metadata = self.new_metadata(None, TaskKind::Foreground, location);
        let handle = self.task_handle(self);
        let scheduler = handle.clone();
        start(
            &**self,
            async_task::Builder::new().metadata(metadata).spawn_local(
                |metadata| TaskFuture::new(future, *metadata, handle),
                move |runnable: Runnable| {
                    #[cfg(feature = "tracing")]
                    crate::tracing_events::wake(runnable.metadata());
                    scheduler.schedule_foreground(runnable)
                },
            ),
        )
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
        let handle = self.task_handle(self);
        let scheduler = handle.clone();
        start(
            &**self,
            async_task::Builder::new().metadata(metadata).spawn(
                |metadata| TaskFuture::new(future, *metadata, handle),
                move |runnable: Runnable| {
                    #[cfg(feature = "tracing")]
                    crate::tracing_events::wake(runnable.metadata());
                    match label {
                        None => scheduler.schedule(runnable),
                        Some(label) => scheduler.schedule_labeled(runnable, label),
                    }
                },
            ),
        )
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
}

/// Hands a new task's first runnable to `scheduler` (the one it was spawned on; its task handle
/// shares its queues) and wraps the task for the caller.
fn start<T>(
    scheduler: &dyn Scheduler,
    (runnable, task): (Runnable, async_task::Task<TaskResult<T>, TaskMetadata>),
) -> Task<T> {
    scheduler.schedule_spawned(runnable);
    Task::spawned(task)
}

#[cold]
#[inline(never)]
#[track_caller]
fn off_main_thread(location: &'static Location<'static>) -> ! {
    let thread = std::thread::current();
    panic!(
        "spawn_foreground at {location} was called off the main thread (on {:?}): a foreground \
         task is polled and dropped only on the main thread, the thread that created the \
         scheduler. Spawn it from the main thread, or spawn a background task instead",
        thread.name().unwrap_or("an unnamed thread")
    )
}
