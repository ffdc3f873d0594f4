//! The spawn helpers on `dyn Scheduler`: a future becomes a [`Runnable`](crate::Runnable) (handed
//! to the backend) and a [`Task`] (handed to the caller), with [`TaskMetadata`] attached.

use super::{schedule_background, schedule_foreground};
use crate::task::build::{build, build_local};
use crate::task::future::TaskResult;
use crate::{
    Priority, Runnable, Scheduler, Task, TaskHeader, TaskKind, TaskLabel, TaskMetadata, session,
};
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

impl dyn Scheduler {
    /// Spawns `future` on a background thread.
    ///
    /// The task belongs to the [session](crate::session) current at the call, has the
    /// [priority](Priority) of the task it is spawned from (medium outside tasks), and records
    /// the caller's location for panic messages, traces and leak reports.
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
        self.spawn_background(None, None, Location::caller(), future)
    }

    /// Spawns `future` on a background thread with `priority` instead of the inherited one
    /// (see [`Priority`] for what each backend does with it). [`Priority::Realtime`] runs the
    /// task on an OS thread of its own at raised OS priority (simulated by the
    /// [`TestScheduler`](crate::TestScheduler); as `High` on wasm32).
    ///
    /// ```
    /// use scheduler::{Priority, Scheduler, TestScheduler};
    /// use std::sync::Arc;
    /// let scheduler: Arc<dyn Scheduler> = TestScheduler::with_seed(0);
    /// let task = scheduler.spawn_with_priority(Priority::High, async { Priority::current() });
    /// assert_eq!(scheduler.block(task), Priority::High);
    /// ```
    #[track_caller]
    pub fn spawn_with_priority<F>(
        self: &Arc<Self>,
        priority: Priority,
        future: F,
    ) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_background(None, Some(priority), Location::caller(), future)
    }

    /// Spawns `future` on a background thread, with `label` attached (see
    /// [`TestScheduler::deprioritize`](crate::TestScheduler::deprioritize)).
    #[track_caller]
    pub fn spawn_labeled<F>(self: &Arc<Self>, label: TaskLabel, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_background(Some(label), None, Location::caller(), future)
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
        let metadata = self.new_metadata(None, None, TaskKind::Foreground, location);
        let handle = self.task_handle(self);
        start(
            &**self,
            build_local(metadata, future, handle, |runnable: Runnable| {
                #[cfg(feature = "tracing")]
                crate::tracing_events::wake(runnable.metadata());
                schedule_foreground(runnable)
            }),
        )
    }

    /// `spawn` / `spawn_labeled` / `spawn_with_priority`, with the caller's location passed in.
    fn spawn_background<F>(
        self: &Arc<Self>,
        label: Option<TaskLabel>,
        priority: Option<Priority>,
        location: &'static Location<'static>,
        future: F,
    ) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let metadata = self.new_metadata(label, priority, TaskKind::Background, location);
        #[cfg(not(wasm))]
        if metadata.priority() == Priority::Realtime {
            // Its own thread, unless the scheduler simulates it (then it is queued as below).
            let future = match super::dedicated::spawn_realtime(self, metadata, future) {
                Ok(task) => return task,
                Err(future) => future,
            };
            return self.start_background(metadata, future);
        }
        self.start_background(metadata, future)
    }

    /// Spawns a background task with `metadata` onto this scheduler's queues.
    fn start_background<F>(self: &Arc<Self>, metadata: TaskMetadata, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = self.task_handle(self);
        start(
            &**self,
            build(metadata, future, handle, |runnable: Runnable| {
                #[cfg(feature = "tracing")]
                crate::tracing_events::wake(runnable.metadata());
                schedule_background(runnable)
            }),
        )
    }

    /// Metadata for a task spawned here now: a fresh id, the current session, and `priority` or
    /// else the one inherited from the task being polled.
    pub(crate) fn new_metadata(
        &self,
        label: Option<TaskLabel>,
        priority: Option<Priority>,
        kind: TaskKind,
        location: &'static Location<'static>,
    ) -> TaskMetadata {
        let context = session::current_context();
        TaskMetadata::new(self.next_task_id(), label, context.session, location, kind)
            .with_priority(priority.unwrap_or_else(|| context.priority.inherited()))
    }
}

/// Hands a new task's first runnable to `scheduler` (the one it was spawned on; its task handle
/// shares its queues) and wraps the task for the caller.
pub(crate) fn start<T>(
    scheduler: &dyn Scheduler,
    (runnable, task): (Runnable, async_task::Task<TaskResult<T>, TaskHeader>),
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
