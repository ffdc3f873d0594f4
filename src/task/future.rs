//! The wrapper every spawned future runs inside: it makes the task's session and priority
//! current while the future is polled and while it is dropped, catches panics so they reach whoever awaits the
//! task (and those of the future's destructor, which go to `unobserved_panic`: `output.rs`),
//! and tells the scheduler once when the task ends (completed, panicked or cancelled).

use super::output::{self, TaskOutput};
use super::panic::Panicked;
use crate::{Scheduler, TaskHeader, TaskMetadata, TaskOutcome, session};
use pin_project_lite::pin_project;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
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
        // Dropped in place once (see `PinnedDrop`), so the future's destructor runs inside the
        // task's session like its polls; `header` says whether it was. Never moved: pinned
        // with the wrapper (`_pinned` keeps the wrapper `!Unpin` when `F` is).
        inner: ManuallyDrop<F>,
        // The task's header (its metadata, and the scheduler's task handle that end reports
        // and unobserved panics go to), whether its end was reported and whether `inner` was
        // dropped, in one word (see `Header`).
        header: Header<'a>,
        // The task's `tracing` span, entered for every poll and for the drop.
        span: TaskSpan,
        #[pin]
        _pinned: PhantomData<F>,
    }

    impl<'a, F> PinnedDrop for TaskFuture<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if this.header.completed() {
                // The common case: the future was dropped and the end reported by the last poll;
                // nothing is left to run inside the session.
                return;
            }
            let metadata = this.header.metadata();
            let scheduler = this.header.scheduler();
            let _context = session::enter_task(metadata);
            #[cfg(feature = "tracing")]
            let _span = crate::tracing_events::enter(this.span);
            // Dropped in place, inside the session: whatever its destructor spawns belongs to
            // the task's session too. A panic in its destructor is reported, not unwound.
            if !this.header.dropped() {
                this.header.set_dropped();
                // SAFETY: not dropped before (the flag, set just above, says so), and never
                // touched again.
                unsafe { output::drop_future(this.inner, metadata, scheduler) };
            }
            if !this.header.ended() {
                #[cfg(feature = "tracing")]
                crate::tracing_events::ended(metadata, TaskOutcome::Cancelled);
                scheduler.task_ended(metadata, TaskOutcome::Cancelled);
            }
        }
    }
}

impl<'a, F> TaskFuture<'a, F> {
    pub(crate) fn new(inner: F, header: &'a TaskHeader) -> Self {
        Self {
            inner: ManuallyDrop::new(inner),
            #[cfg(feature = "tracing")]
            span: crate::tracing_events::task_span(header.metadata()),
            #[cfg(not(feature = "tracing"))]
            span: (),
            header: Header::new(header),
            _pinned: PhantomData,
        }
    }
}

impl<F: Future> Future for TaskFuture<'_, F> {
    type Output = TaskResult<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let metadata = this.header.metadata();
        let scheduler = this.header.scheduler();
        let _context = session::enter_task(metadata);
        #[cfg(feature = "tracing")]
        let _span = crate::tracing_events::enter(this.span);
        assert!(
            !this.header.dropped(),
            "a task's future is not polled after it completed"
        );
        // SAFETY: structural pinning of `inner`: it is never moved (only dropped in place,
        // once), so pinning the wrapper pins it; it was not dropped (checked above).
        let inner = unsafe { Pin::new_unchecked(&mut **this.inner) };
        let (result, outcome) = match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => (Ok(TaskOutput::new(output)), TaskOutcome::Completed),
            Err(payload) => {
                let panicked = Panicked::new(payload, *metadata, scheduler.clone());
                (Err(panicked), TaskOutcome::Panicked)
            }
        };
        this.header.set_ended();
        #[cfg(feature = "tracing")]
        crate::tracing_events::ended(metadata, outcome);
        scheduler.task_ended(metadata, outcome);
        // The finished future goes now, here (a panic in its destructor is reported), and the
        // output's destructor knows which task it is (see `output.rs`).
        this.header.set_dropped();
        // SAFETY: not dropped before (checked at the top, and nothing between dropped it), and
        // marked dropped just above, so neither a poll nor the wrapper's drop touches it again.
        unsafe { output::drop_future(this.inner, metadata, scheduler) };
        output::completed::<F::Output>(metadata, scheduler);
        Poll::Ready(result)
    }
}

/// The task's header (borrowed from async-task's), whether the task's end was reported, and
/// whether its future was dropped, in one word: the flags are the low bits of the reference (a
/// `TaskHeader` is 8-aligned), so they cost a task no padding word, nor an `Option` around its
/// future.
struct Header<'a> {
    tagged: NonNull<TaskHeader>,
    _header: PhantomData<&'a TaskHeader>,
}

// SAFETY: a `Header` is a `&'a TaskHeader` (which is `Send` and `Sync`: its metadata is plain
// data, its handle an `Arc<dyn Scheduler>`, which is `Send + Sync`, and on wasm32 its local queue
// is declared so) plus flags of its own.
unsafe impl Send for Header<'_> {}
// SAFETY: as above.
unsafe impl Sync for Header<'_> {}

const ENDED: usize = 1;
const DROPPED: usize = 2;
const _: () = assert!(std::mem::align_of::<TaskHeader>() > (ENDED | DROPPED));

impl<'a> Header<'a> {
    fn new(header: &'a TaskHeader) -> Self {
        Self {
            tagged: NonNull::from(header),
            _header: PhantomData,
        }
    }

    #[inline]
    fn header(&self) -> &'a TaskHeader {
        // SAFETY: the untagged pointer is the `&'a TaskHeader` given to `new` (only its low
        // bits, zero in any such address, are ever changed, with its provenance kept).
        unsafe {
            &*self
                .tagged
                .as_ptr()
                .map_addr(|addr| addr & !(ENDED | DROPPED))
        }
    }

    #[inline]
    fn metadata(&self) -> &'a TaskMetadata {
        self.header().metadata()
    }

    #[inline]
    fn scheduler(&self) -> &'a Arc<dyn Scheduler> {
        self.header().scheduler()
    }

    #[inline]
    fn ended(&self) -> bool {
        self.tagged.addr().get() & ENDED != 0
    }

    #[inline]
    fn set_ended(&mut self) {
        self.tagged = self.tagged.map_addr(|addr| addr | ENDED);
    }

    /// Whether the end was reported and the future dropped (by the poll that completed it).
    #[inline]
    fn completed(&self) -> bool {
        self.tagged.addr().get() & (ENDED | DROPPED) == ENDED | DROPPED
    }

    #[inline]
    fn dropped(&self) -> bool {
        self.tagged.addr().get() & DROPPED != 0
    }

    #[inline]
    fn set_dropped(&mut self) {
        self.tagged = self.tagged.map_addr(|addr| addr | DROPPED);
    }
}
