//! [`Route`]: how a task reaches its scheduler when it is woken or ends.

use crate::{Runnable, Scheduler, TaskLabel, TaskMetadata, TaskOutcome, TaskSink};
use std::sync::{Arc, Weak};
use std::thread::ThreadId;

/// What a task keeps to reach its scheduler: a `Weak` reference to it (the default: one atomic
/// upgrade and release per wake), or the [`TaskSink`] the scheduler handed out through
/// [`Scheduler::task_handle`] (a plain call per wake).
#[derive(Clone)]
pub(crate) enum Route {
    Weak(Weak<dyn Scheduler>),
    Sink(Arc<dyn TaskSink>),
}

impl Route {
    /// The route for tasks of `scheduler`.
    pub(crate) fn to(scheduler: &Arc<dyn Scheduler>) -> Self {
        match scheduler.task_handle() {
            Some(sink) => Route::Sink(sink),
            None => Route::Weak(Arc::downgrade(scheduler)),
        }
    }

    /// Queues a background runnable; drops it (cancelling its task) if the scheduler is gone.
    #[inline]
    pub(crate) fn schedule(&self, runnable: Runnable, label: Option<TaskLabel>) {
        match (self, label) {
            (Route::Sink(sink), None) => sink.schedule(runnable),
            (Route::Sink(sink), Some(label)) => sink.schedule_labeled(runnable, label),
            (Route::Weak(weak), label) => {
                if let Some(scheduler) = weak.upgrade() {
                    match label {
                        None => scheduler.schedule(runnable),
                        Some(label) => scheduler.schedule_labeled(runnable, label),
                    }
                }
            }
        }
    }

    /// Queues a foreground runnable spawned on `spawning_thread`. If the scheduler is gone the
    /// runnable is dropped there, and leaked (never run, never dropped) anywhere else: async-task
    /// forbids dropping a local runnable off its thread (it panics, then aborts).
    #[inline]
    pub(crate) fn schedule_foreground(&self, runnable: Runnable, spawning_thread: ThreadId) {
        match self {
            Route::Sink(sink) => sink.schedule_foreground(runnable),
            Route::Weak(weak) => match weak.upgrade() {
                Some(scheduler) => scheduler.schedule_foreground(runnable),
                None if std::thread::current().id() == spawning_thread => drop(runnable),
                None => std::mem::forget(runnable),
            },
        }
    }

    /// Reports a task's end; a scheduler that is gone cannot be told (it discards its tasks).
    pub(crate) fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        match self {
            Route::Sink(sink) => sink.task_ended(metadata, outcome),
            Route::Weak(weak) => {
                if let Some(scheduler) = weak.upgrade() {
                    scheduler.task_ended(metadata, outcome);
                }
            }
        }
    }
}
