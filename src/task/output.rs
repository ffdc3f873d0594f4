//! Destructors that panic: a task's future dropped (a cancelled task, or a finished one), or its
//! output dropped with nobody to take it (a detached task). async-task drops both under its
//! `abort_on_panic`, so a panic escaping there kills the process. Here they are caught and
//! handed to [`Scheduler::unobserved_panic`] (on the [`TestScheduler`](crate::TestScheduler),
//! one failing test naming the task) like any panic nobody awaited; the thread keeps running.
//!
//! The future is simple: the wrapper drops it in place and catches (`drop_future`). The output
//! is written into the task after the wrapper is gone, so [`TaskOutput`] carries no context of
//! its own (a pending task stays as small as before); instead, the wrapper leaves the finished
//! task's metadata and scheduler on the thread (`completed`), and async-task drops an output
//! nobody will take right after, in the same `Runnable::run` call on the same thread. Every other
//! drop of an output happens in a [`Task`](crate::Task) handle's own drop, detach or cancel,
//! which first clears that record (`handle_op`): a panic there reaches the code that dropped
//! the handle, as any destructor's panic does.

use super::panic::{PanicPayload, Panicked, panic_message};
use crate::{Scheduler, TaskMetadata};
use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Weak};

/// A task's output while it sits in the task: its destructor reports a panic instead of
/// letting it reach async-task (see the module docs).
pub(crate) struct TaskOutput<T>(ManuallyDrop<T>);

impl<T> TaskOutput<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(ManuallyDrop::new(value))
    }

    /// The output, taken out (its destructor is then the caller's).
    pub(crate) fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped (ManuallyDrop), so the value is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.0) }
    }
}

impl<T> Drop for TaskOutput<T> {
    fn drop(&mut self) {
        if !std::mem::needs_drop::<T>() {
            return;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: dropped once, here (`into_inner` skips this destructor).
            unsafe { ManuallyDrop::drop(&mut self.0) }
        }));
        if let Err(payload) = outcome {
            let context = "its output panicked while it was dropped";
            let completed = COMPLETED
                .try_with(|slot| slot.borrow_mut().take())
                .ok()
                .flatten();
            match completed {
                Some((metadata, scheduler)) => match scheduler.upgrade() {
                    Some(scheduler) => report(payload, context, metadata, scheduler),
                    // The scheduler is gone: its default report, on stderr.
                    None => {
                        eprintln!(
                            "scheduler: {metadata} panicked and nobody awaited it: {context}: {}",
                            panic_message(&payload)
                        );
                        drop_payload(payload);
                    }
                },
                // Dropped by a handle (see the module docs): the panic goes on to its caller.
                None => resume_unwind(payload),
            }
        }
    }
}

thread_local! {
    /// The task whose future just completed on this thread, if its output has a destructor:
    /// what `TaskOutput`'s drop reports a panic for when async-task drops the output right away.
    static COMPLETED: RefCell<Option<(TaskMetadata, Weak<dyn Scheduler>)>> =
        const { RefCell::new(None) };
}

/// The task's future completed with an output of type `T` and was dropped: if async-task drops
/// the output next (nobody holds the handle), a panic there is reported for this task.
#[inline]
pub(crate) fn completed<T>(metadata: &TaskMetadata, scheduler: &Arc<dyn Scheduler>) {
    if std::mem::needs_drop::<T>() {
        let record = (*metadata, Arc::downgrade(scheduler));
        let _ = COMPLETED.try_with(|slot| *slot.borrow_mut() = Some(record));
    }
}

/// Runs a handle's operation that may drop the task's output on this thread (the handle's drop,
/// `detach`, `cancel`): the output is then not async-task's to drop, so the record of the last
/// completed task must not be used for it.
///
/// Only an output with a destructor reads the record, so for an output `T` without one (the
/// common `()`, a number) there is nothing to clear: the operation runs alone.
#[inline]
pub(crate) fn handle_op<T, R>(op: impl FnOnce() -> R) -> R {
    if std::mem::needs_drop::<T>() {
        let _ = COMPLETED.try_with(|slot| slot.borrow_mut().take());
    }
    op()
}

/// Drops a task's future in place; a panic in its destructor is reported for the task instead
/// of unwinding into async-task.
///
/// # Safety
///
/// `future` holds a value not dropped before, and is never used again (nor dropped: it is a
/// `ManuallyDrop`) after this call.
pub(crate) unsafe fn drop_future<F>(
    future: &mut ManuallyDrop<F>,
    metadata: &TaskMetadata,
    scheduler: &Arc<dyn Scheduler>,
) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller's contract: dropped once, here, in place (never moved).
        unsafe { ManuallyDrop::drop(future) }
    }));
    if let Err(payload) = outcome {
        let message = "its future panicked while it was dropped";
        report(payload, message, *metadata, scheduler.clone());
    }
}

/// Hands a destructor's panic to the scheduler's `unobserved_panic`, saying where it happened.
fn report(
    payload: PanicPayload,
    context: &str,
    metadata: TaskMetadata,
    scheduler: Arc<dyn Scheduler>,
) {
    let message: PanicPayload = Box::new(format!("{context}: {}", panic_message(&payload)));
    drop_payload(payload);
    drop(Panicked::new(message, metadata, scheduler));
}

/// Drops a caught panic's payload; one whose own destructor panics is leaked rather than
/// allowed to unwind here.
fn drop_payload(payload: PanicPayload) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
        std::mem::forget(again);
    }
}
