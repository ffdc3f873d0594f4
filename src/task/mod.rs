//! A task: [`Task`], the handle to a spawned future; `future.rs`, the wrapper every spawned future
//! runs in; `panic.rs`, what a panicking task leaves behind; `build.rs`, how a future becomes a
//! runnable and its handle; `output.rs`, destructors of a task's future and output that
//! panic; `metadata.rs`, what every runnable carries (id, label, session,
//! priority, spawn location); `session.rs`, the session and priority current on a thread;
//! `runnable.rs`, how a backend runs or discards a [`Runnable`](crate::Runnable).

pub(crate) mod build;
pub(crate) mod future;
mod metadata;
mod output;
pub(crate) mod panic;
pub(crate) mod runnable;
pub mod session;

pub(crate) use metadata::next_unique_task_id;
pub use metadata::{Priority, SessionId, TaskId, TaskKind, TaskLabel, TaskMetadata};

use crate::TaskHeader;
use future::TaskResult;
#[cfg(workerd)]
use panic::Panicked;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

/// async-task's handle. Its drop, `detach` and `cancel` may drop the task's output on this
/// thread; each tells `output.rs` so first (a panic there reaches the caller, see its docs).
struct Inner<T>(ManuallyDrop<async_task::FallibleTask<TaskResult<T>, TaskHeader>>);

impl<T> Inner<T> {
    fn take(self) -> async_task::FallibleTask<TaskResult<T>, TaskHeader> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the handle is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.0) }
    }

    fn detach(self) {
        let task = self.take();
        output::handle_op::<T, _>(|| task.detach());
    }

    fn is_finished(&self) -> bool {
        self.0.is_finished()
    }

    async fn cancel(self) -> Option<TaskResult<T>> {
        let mut cancel = pin!(self.take().cancel());
        // Declared after `cancel`, so dropped before it if this future is dropped half-way.
        let _handle_op = HandleOp::<T>(PhantomData);
        cancel.as_mut().await
    }
}

impl<T> Future for Inner<T> {
    type Output = Option<TaskResult<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut *self.0).poll(cx)
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        // SAFETY: dropped once, here (`take` skips this destructor).
        output::handle_op::<T, _>(|| unsafe { ManuallyDrop::drop(&mut self.0) });
    }
}

/// Tells `output.rs` of a handle operation on a task with output `T` when dropped (see
/// `Inner::cancel`).
struct HandleOp<T>(PhantomData<fn() -> T>);

impl<T> Drop for HandleOp<T> {
    fn drop(&mut self) {
        output::handle_op::<T, _>(|| ());
    }
}

/// A spawned future's handle. Await it for the output; drop it to cancel the task; call
/// [`detach`](Task::detach) to let it run on without a handle.
///
/// If the task panicked, awaiting it panics too, with the task's id and spawn location in the
/// message. The scheduler itself keeps running other tasks. A panic nobody awaits (the task was
/// detached, or its `Task` dropped unawaited) goes to
/// [`Scheduler::unobserved_panic`](crate::Scheduler::unobserved_panic) instead: printed by
/// default, a test failure on the [`TestScheduler`](crate::TestScheduler).
///
/// ```
/// use scheduler::{Scheduler, Task, TestScheduler};
/// use std::sync::Arc;
/// let scheduler: Arc<dyn Scheduler> = TestScheduler::with_seed(0);
/// let task = scheduler.spawn(async { 6 * 7 });
/// assert_eq!(scheduler.block(task), 42);
/// assert_eq!(scheduler.block(Task::ready("done")), "done");
/// ```
#[must_use = "dropping a Task cancels it; call .detach() to let it run"]
pub struct Task<T>(State<T>);

enum State<T> {
    Ready(Option<T>),
    // The metadata is copied out: async-task's fallible handle has no accessor for it.
    Spawned(Inner<T>, TaskMetadata),
}

impl<T> Task<T> {
    /// A task that is already finished with `value`. It has no id and no metadata.
    pub fn ready(value: T) -> Self {
        Self(State::Ready(Some(value)))
    }

    pub(crate) fn spawned(task: async_task::Task<TaskResult<T>, TaskHeader>) -> Self {
        let metadata = **task.metadata();
        Self(State::Spawned(
            Inner(ManuallyDrop::new(task.fallible())),
            metadata,
        ))
    }

    /// Lets the task run to completion without a handle. Its output is dropped.
    pub fn detach(self) {
        if let State::Spawned(task, _) = self.0 {
            task.detach();
        }
    }

    /// The task's id (`None` for [`Task::ready`]).
    pub fn id(&self) -> Option<crate::TaskId> {
        self.metadata().map(TaskMetadata::id)
    }

    /// The task's metadata (`None` for [`Task::ready`]).
    pub fn metadata(&self) -> Option<&TaskMetadata> {
        match &self.0 {
            State::Ready(_) => None,
            State::Spawned(_, metadata) => Some(metadata),
        }
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        match &self.0 {
            State::Ready(_) => true,
            State::Spawned(task, _) => task.is_finished(),
        }
    }

    /// A form of this task that yields `None` instead of panicking when the task was cancelled
    /// before it finished (for example because its scheduler shut down). A panic inside the
    /// task is still re-raised.
    pub fn fallible(self) -> FallibleTask<T> {
        FallibleTask(self.0)
    }

    /// Cancels the task and waits until it has stopped. Returns its output if it completed
    /// before it could be cancelled.
    pub async fn cancel(self) -> Option<T> {
        match self.0 {
            State::Ready(value) => value,
            State::Spawned(task, _) => task.cancel().await.map(unwrap_result),
        }
    }

    /// A form of this task that yields how it ended instead of re-raising a panic: for the
    /// crate's own awaiters that answer a panic rather than propagate it (the Worker's
    /// `serve`). Taking the panic observes it: it is not reported as unobserved.
    #[cfg(workerd)]
    pub(crate) fn caught(self) -> CaughtTask<T> {
        CaughtTask(self.0)
    }
}

/// How a task that did not complete ended (see [`Task::caught`]).
#[cfg(workerd)]
pub(crate) enum Unfinished {
    /// It panicked; the panic is taken from it.
    Panicked(Box<Panicked>),
    /// It was cancelled before it finished (its runnable was dropped).
    Cancelled(TaskMetadata),
}

/// [`Task`] that yields `Err(Unfinished)` instead of panicking. See [`Task::caught`].
#[cfg(workerd)]
pub(crate) struct CaughtTask<T>(State<T>);

#[cfg(workerd)]
impl<T> Future for CaughtTask<T> {
    type Output = Result<T, Unfinished>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            State::Ready(value) => {
                Poll::Ready(Ok(value.take().expect("Task polled after it completed")))
            }
            State::Spawned(task, metadata) => match Pin::new(task).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Some(Ok(value))) => Poll::Ready(Ok(value.into_inner())),
                Poll::Ready(Some(Err(panicked))) => {
                    Poll::Ready(Err(Unfinished::Panicked(panicked)))
                }
                Poll::Ready(None) => Poll::Ready(Err(Unfinished::Cancelled(*metadata))),
            },
        }
    }
}

#[cfg(workerd)]
impl<T> Unpin for CaughtTask<T> {}

/// [`Task`] that yields `Option<T>`: `None` when the task was cancelled. See [`Task::fallible`].
#[must_use = "dropping a FallibleTask cancels it; call .detach() to let it run"]
pub struct FallibleTask<T>(State<T>);

impl<T> FallibleTask<T> {
    /// Lets the task run to completion without a handle.
    pub fn detach(self) {
        Task(self.0).detach();
    }

    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        match &self.0 {
            State::Ready(_) => true,
            State::Spawned(task, _) => task.is_finished(),
        }
    }
}

fn poll_state<T>(state: &mut State<T>, cx: &mut Context<'_>) -> Poll<Result<T, TaskMetadata>> {
    match state {
        State::Ready(value) => {
            Poll::Ready(Ok(value.take().expect("Task polled after it completed")))
        }
        State::Spawned(task, metadata) => match Pin::new(task).poll(cx) {
            Poll::Pending => {
                if metadata.kind() == TaskKind::Dedicated {
                    crate::scheduler::awaited_dedicated_task(metadata);
                }
                Poll::Pending
            }
            Poll::Ready(Some(result)) => Poll::Ready(Ok(unwrap_result(result))),
            Poll::Ready(None) => Poll::Ready(Err(*metadata)),
        },
    }
}

/// The output, or the task's panic re-raised here (it was awaited: observed).
fn unwrap_result<T>(result: TaskResult<T>) -> T {
    match result {
        Ok(value) => value.into_inner(),
        Err(panicked) => (*panicked).resume(),
    }
}

impl<T> Future for Task<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        poll_state(&mut self.0, cx).map(|result| {
            result.unwrap_or_else(|metadata| {
                panic!(
                    "{metadata} was cancelled before it finished (its runnable was dropped, \
                     e.g. because its scheduler shut down); use Task::fallible to handle this"
                )
            })
        })
    }
}

impl<T> Future for FallibleTask<T> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        poll_state(&mut self.0, cx).map(Result::ok)
    }
}

// A `Task` only hands out `T` by value through `poll`; it never gives shared access to it.
impl<T> Unpin for Task<T> {}
impl<T> Unpin for FallibleTask<T> {}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            State::Ready(_) => f.write_str("Task::ready"),
            State::Spawned(_, metadata) => write!(f, "Task({metadata})"),
        }
    }
}

impl<T> fmt::Debug for FallibleTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            State::Ready(_) => f.write_str("FallibleTask::ready"),
            State::Spawned(_, metadata) => write!(f, "FallibleTask({metadata})"),
        }
    }
}
