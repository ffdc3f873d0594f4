//! The wrapper every spawned future runs inside: it makes the task's session current while it
//! is polled, catches panics so they reach whoever awaits the task, and tells the scheduler once
//! when the task ends (completed, panicked or cancelled).

use crate::route::Route;
use crate::{TaskMetadata, TaskOutcome, session};
use pin_project_lite::pin_project;
use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// What a panicking task leaves behind.
pub(crate) type PanicPayload = Box<dyn Any + Send + 'static>;

pin_project! {
    pub(crate) struct TaskFuture<F> {
        #[pin]
        inner: F,
        metadata: TaskMetadata,
        // Never a plain strong reference to the scheduler: a stalled task must not keep it alive
        // (no Arc cycle through wakers the scheduler holds). See `Route`.
        route: Route,
        ended: bool,
    }

    impl<F> PinnedDrop for TaskFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.ended {
                this.route.task_ended(this.metadata, TaskOutcome::Cancelled);
            }
        }
    }
}

impl<F> TaskFuture<F> {
    pub(crate) fn new(inner: F, metadata: TaskMetadata, route: Route) -> Self {
        Self {
            inner,
            metadata,
            route,
            ended: false,
        }
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = Result<F::Output, PanicPayload>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _session = session::enter(this.metadata.session());
        let inner = this.inner;
        let (result, outcome) = match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => (Ok(output), TaskOutcome::Completed),
            Err(payload) => (Err(payload), TaskOutcome::Panicked),
        };
        *this.ended = true;
        this.route.task_ended(this.metadata, outcome);
        Poll::Ready(result)
    }
}

/// The text of a panic payload, for re-raising it with context.
pub(crate) fn panic_message(payload: &PanicPayload) -> &str {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "<non-string panic payload>"
    }
}
