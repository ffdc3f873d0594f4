//! The wrappers around a simulated request's own futures: a `wait_until` job reports how it
//! ended; a handler turns a panic into a failed request, is dropped when its client disconnects
//! or its isolate is reset, and produces the response when it ends, however it ends.

use super::fault_record::FaultKind;
use super::inner::Inner;
use super::report::{RequestFailed, RequestFailure, WaitUntilOutcome};
use crate::cloud::LocalFuture;
use crate::task::panic::panic_message;
use crate::{SessionId, Timer};
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
            // Cancelled: by a cut-off or an isolate reset (already recorded, so this changes
            // nothing) or by the scheduler shutting down.
            self.settle(WaitUntilOutcome::Cancelled);
        }
    }
}

/// Produces the session's response when dropped: when the handler returns, panics, is
/// cancelled, or is dropped by a fault.
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

/// The future `serve` spawns for a handler: runs it, turning a panic into a failed request;
/// drops it when its client disconnects (the `disconnect` timer fired first) or when an isolate
/// reset killed its session.
pub(super) struct Handler<F: Future> {
    handler: Option<Pin<Box<F>>>,
    inner: Weak<Inner>,
    session: SessionId,
    disconnect: Option<Timer>,
    _respond: RespondOnDrop,
}

impl<F: Future> Handler<F> {
    pub(super) fn new(
        handler: F,
        inner: Weak<Inner>,
        session: SessionId,
        disconnect: Option<Timer>,
    ) -> Self {
        Self {
            handler: Some(Box::pin(handler)),
            _respond: RespondOnDrop {
                inner: inner.clone(),
                session,
            },
            inner,
            session,
            disconnect,
        }
    }

    /// Drops the handler (in its session: the task's poll entered it) and fails the request.
    fn fail(&mut self, cause: RequestFailure, message: String) -> Poll<<Self as Future>::Output> {
        self.handler = None;
        Poll::Ready(Err(RequestFailed {
            session: self.session,
            cause,
            message,
            passed_through: false,
        }))
    }
}

impl<F: Future> Future for Handler<F> {
    type Output = Result<F::Output, RequestFailed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let inner = this.inner.upgrade();
        let session = this.session;
        if inner.as_ref().is_some_and(|inner| inner.killed(session)) {
            let message = "the isolate was reset while the request was in flight".to_string();
            return this.fail(RequestFailure::IsolateReset, message);
        }
        if let Some(timer) = &mut this.disconnect
            && Pin::new(timer).poll(cx).is_ready()
        {
            this.disconnect = None;
            let poll = this.fail(
                RequestFailure::ClientDisconnected,
                "the client disconnected while the handler ran; the handler was dropped".into(),
            );
            if let Some(inner) = &inner {
                let what = "the handler was dropped mid-request".to_string();
                inner.injected(FaultKind::ClientDisconnect, Some(session), what);
            }
            return poll;
        }
        let handler = this
            .handler
            .as_mut()
            .expect("a simulated request's handler is not polled after it ended");
        match catch_unwind(AssertUnwindSafe(|| handler.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => {
                this.handler = None;
                Poll::Ready(Ok(output))
            }
            Ok(Poll::Pending) => {
                if let Some(inner) = &inner {
                    inner.handler_waiting(session, cx.waker());
                }
                Poll::Pending
            }
            Err(payload) => {
                this.handler = None;
                let message = panic_message(&payload).to_string();
                let passed_through = inner
                    .as_ref()
                    .is_some_and(|inner| inner.record_handler_panic(session, &message));
                Poll::Ready(Err(RequestFailed {
                    session,
                    cause: RequestFailure::Panicked,
                    message,
                    passed_through,
                }))
            }
        }
    }
}
