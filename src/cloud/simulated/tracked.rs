//! The wrappers around a simulated request's own futures: a `wait_until` job reports how it
//! ended; a handler turns a panic into a failed request and produces the response when it
//! ends, however it ends.

use super::inner::Inner;
use super::report::{RequestFailed, WaitUntilOutcome};
use crate::SessionId;
use crate::cloud::LocalFuture;
use crate::task::panic::panic_message;
use futures::FutureExt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};

/// A `wait_until` job: reports completion, panic or cancellation to its session exactly once.
pub(super) struct TrackedWaitUntil {
    future: LocalFuture,
    inner: Weak<Inner>,
    session: SessionId,
    index: usize,
    done: bool,
}

impl TrackedWaitUntil {
    pub(super) fn new(
        future: LocalFuture,
        inner: Weak<Inner>,
        session: SessionId,
        index: usize,
    ) -> Self {
        Self {
            future,
            inner,
            session,
            index,
            done: false,
        }
    }

    fn settle(&mut self, outcome: WaitUntilOutcome) {
        self.done = true;
        if let Some(inner) = self.inner.upgrade() {
            inner.settle(self.session, self.index, outcome);
        }
    }
}

impl Future for TrackedWaitUntil {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let future = &mut self.future;
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => {
                self.settle(WaitUntilOutcome::Completed);
                Poll::Ready(())
            }
            Err(payload) => {
                // Recorded as the job's outcome, which is where the test sees it: the panic is
                // observed, so the task itself ends normally (and is not reported again as a
                // panic nobody awaited).
                self.settle(WaitUntilOutcome::Panicked(
                    panic_message(&payload).to_string(),
                ));
                Poll::Ready(())
            }
        }
    }
}

impl Drop for TrackedWaitUntil {
    fn drop(&mut self) {
        if !self.done {
            // Cancelled: by a cut-off (already recorded, so this changes nothing) or by the
            // scheduler shutting down.
            self.settle(WaitUntilOutcome::Cancelled);
        }
    }
}

/// Produces the session's response when dropped: when the handler returns, panics or is
/// cancelled.
struct RespondOnDrop {
    inner: Weak<Inner>,
    session: SessionId,
}

impl Drop for RespondOnDrop {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.respond(self.session);
        }
    }
}

/// The future `serve` spawns for a handler.
pub(super) async fn run_handler<F: Future>(
    handler: F,
    inner: Weak<Inner>,
    session: SessionId,
) -> Result<F::Output, RequestFailed> {
    let _respond = RespondOnDrop {
        inner: inner.clone(),
        session,
    };
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(output) => Ok(output),
        Err(payload) => {
            let message = panic_message(&payload).to_string();
            let passed_through = inner
                .upgrade()
                .is_some_and(|inner| inner.record_handler_panic(session, &message));
            Err(RequestFailed {
                session,
                message,
                passed_through,
            })
        }
    }
}
