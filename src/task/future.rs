//! The wrapper every spawned future runs inside: it makes the task's session and priority
//! current while the future is polled and while it is dropped, catches panics so they reach whoever awaits the
//! task (and those of the future's destructor, which go to `unobserved_panic`: `output.rs`),
//! and tells the scheduler once when the task ends (completed, panicked or cancelled).

use super::output::{self, TaskOutput};
use super::panic::Panicked;
use crate::{Scheduler, TaskMetadata, TaskOutcome, session};
use pin_project_lite::pin_project;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A task's `tracing` span with the `tracing` feature; nothing (zero bytes, no code) without.
#[cfg(feature = "tracing")]
type TaskSpan = tracing::Span;
#[cfg(not(feature = "tracing"))]
type TaskSpan = ();

/// What a task's future yields: its output, or the panic that ended it.
pub(crate) type TaskResult<T> = Result<TaskOutput<T>, Box<Panicked>>;

pin_project! {
    /// `'a` is the task's own life: the metadata is borrowed from the task's header (see
    /// `task::build`), which outlives the future.
    pub(crate) struct TaskFuture<'a, F> {
        // `None` once dropped in place (see `PinnedDrop`), so the future's destructor runs inside
        // the task's session like its polls.
        #[pin]
        inner: Option<F>,
        metadata: &'a TaskMetadata,
        // The scheduler's task handle (see `Scheduler::task_handle`): end reports and unobserved
        // panics go there.
        scheduler: Arc<dyn Scheduler>,
        ended: bool,
        // The task's `tracing` span, entered for every poll and for the drop.
        span: TaskSpan,
    }

    impl<'a, F> PinnedDrop for TaskFuture<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let _context = session::enter_task(this.metadata);
            #[cfg(feature = "tracing")]
            let _span = crate::tracing_events::enter(this.span);
            // Dropped in place, inside the session: whatever its destructor spawns belongs to
            // the task's session too. A panic in its destructor is reported, not unwound.
            output::drop_future(this.inner.as_mut(), this.metadata, this.scheduler);
            if !*this.ended {
                #[cfg(feature = "tracing")]
                crate::tracing_events::ended(this.metadata, TaskOutcome::Cancelled);
                this.scheduler.task_ended(this.metadata, TaskOutcome::Cancelled);
            }
        }
    }
}

impl<'a, F> TaskFuture<'a, F> {
    pub(crate) fn new(inner: F, metadata: &'a TaskMetadata, scheduler: Arc<dyn Scheduler>) -> Self {
        Self {
            inner: Some(inner),
            #[cfg(feature = "tracing")]
            span: crate::tracing_events::task_span(metadata),
            #[cfg(not(feature = "tracing"))]
            span: (),
            metadata,
            scheduler,
            ended: false,
        }
    }
}

impl<F: Future> Future for TaskFuture<'_, F> {
    type Output = TaskResult<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _context = session::enter_task(this.metadata);
        #[cfg(feature = "tracing")]
        let _span = crate::tracing_events::enter(this.span);
        let inner = this
            .inner
            .as_mut()
            .as_pin_mut()
            .expect("a task's future is not polled after it completed");
        let (result, outcome) = match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => (Ok(TaskOutput::new(output)), TaskOutcome::Completed),
            Err(payload) => {
                let panicked = Panicked::new(payload, **this.metadata, this.scheduler.clone());
                (Err(panicked), TaskOutcome::Panicked)
            }
        };
        *this.ended = true;
        #[cfg(feature = "tracing")]
        crate::tracing_events::ended(this.metadata, outcome);
        this.scheduler.task_ended(this.metadata, outcome);
        // The finished future goes now, here (a panic in its destructor is reported), and the
        // output's destructor knows which task it is (see `output.rs`).
        output::drop_future(this.inner.as_mut(), this.metadata, this.scheduler);
        output::completed::<F::Output>(this.metadata, this.scheduler);
        Poll::Ready(result)
    }
}
