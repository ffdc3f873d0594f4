//! Building a task: one allocation (async-task's) holding the header with the task's
//! [`TaskHeader`] (its [`TaskMetadata`] and the scheduler's task handle), the schedule function
//! and the future. The future borrows the header instead of copying it (async-task's
//! `spawn_unchecked` allows exactly that borrow), so a task carries its metadata and its handle
//! once; the schedule functions of spawned tasks read the handle from the header too
//! (`scheduler/mod.rs`), so they take no room.
//!
//! # Safety
//!
//! `spawn_unchecked` leaves four conditions to the caller; each builder below says how it meets
//! them. Every task of the crate is built here, except a dedicated executor's root task
//! (`dedicated.rs`, which states its own argument).

use super::future::{TaskFuture, TaskResult};
use crate::{Runnable, Scheduler, TaskHeader, TaskMetadata};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::ThreadId;

/// What a builder returns: the first runnable (for the scheduler) and the task handle.
pub(crate) type Built<T> = (Runnable, async_task::Task<TaskResult<T>, TaskHeader>);

/// Builds a task whose future may run on any thread.
pub(crate) fn build<F, S>(
    metadata: TaskMetadata,
    future: F,
    scheduler: Arc<dyn Scheduler>,
    schedule: S,
) -> Built<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Fn(Runnable) + Send + Sync + 'static,
{
    // SAFETY: the four conditions of `spawn_unchecked`:
    // - the future (`TaskFuture` around `F: Send`, holding `&TaskHeader`, which is `Sync`)
    //   is `Send`, so its runnable may move between threads;
    // - the only borrow is of the header, which async-task keeps for as long as the future
    //   exists (it drops the future before it frees the header);
    // - the schedule function is `Send + Sync` and `'static`, as are `F` and its output.
    unsafe {
        async_task::Builder::new()
            .metadata(TaskHeader::new(metadata, scheduler))
            .spawn_unchecked(|header| TaskFuture::new(future, header), schedule)
    }
}

/// Builds a task whose future must stay on the calling thread (a foreground task, or a
/// dedicated executor's local task): like async-task's `spawn_local`, every poll and the drop
/// of the future check the thread, and a wrong thread is a panic (an abort in the drop)
/// instead of a data race. The schedulers never get there: they run and drop such runnables
/// only on the thread that spawned them (`runnable::discard` leaks them anywhere else).
pub(crate) fn build_local<F, S>(
    metadata: TaskMetadata,
    future: F,
    scheduler: Arc<dyn Scheduler>,
    schedule: S,
) -> Built<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
    S: Fn(Runnable) + Send + Sync + 'static,
{
    let thread = current_thread_id();
    // SAFETY: the four conditions of `spawn_unchecked`:
    // - the future is not `Send`, so its runnable must be used and dropped on this thread:
    //   `ThreadBound` checks every poll and the drop (as `spawn_local` does) and never touches
    //   the future elsewhere;
    // - the only borrow is of the header, which async-task keeps for as long as the future
    //   exists;
    // - the schedule function is `Send + Sync` and `'static`, as are `F` and its output.
    unsafe {
        async_task::Builder::new()
            .metadata(TaskHeader::new(metadata, scheduler))
            .spawn_unchecked(
                move |header| ThreadBound {
                    thread,
                    inner: std::mem::ManuallyDrop::new(TaskFuture::new(future, header)),
                },
                schedule,
            )
    }
}

/// A future that may only be polled and dropped on the thread that made it.
struct ThreadBound<F> {
    thread: ThreadId,
    inner: std::mem::ManuallyDrop<F>,
}

impl<F: Future> Future for ThreadBound<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        assert!(
            self.thread == current_thread_id(),
            "a foreground (thread-bound) task was polled on a thread that did not spawn it"
        );
        // SAFETY: structural pinning of `inner`: it is never moved out (`ManuallyDrop` is only
        // dropped in place, in `Drop`), so pinning `self` pins it.
        unsafe { self.map_unchecked_mut(|this| &mut *this.inner) }.poll(cx)
    }
}

impl<F> Drop for ThreadBound<F> {
    fn drop(&mut self) {
        assert!(
            self.thread == current_thread_id(),
            "a foreground (thread-bound) task was dropped on a thread that did not spawn it"
        );
        // SAFETY: dropped once, here, in place (never moved: see `poll`).
        unsafe { std::mem::ManuallyDrop::drop(&mut self.inner) };
    }
}

/// The calling thread's id, from a constant-initialized thread-local (cheaper than
/// `thread::current()`, and no lazy-init check on the path of every poll).
#[inline]
fn current_thread_id() -> ThreadId {
    thread_local! {
        static ID: Cell<Option<ThreadId>> = const { Cell::new(None) };
    }
    ID.try_with(|id| match id.get() {
        Some(current) => current,
        None => {
            let current = std::thread::current().id();
            id.set(Some(current));
            current
        }
    })
    .unwrap_or_else(|_| std::thread::current().id())
}
