//! [`ExecutionContext`]: what a Worker request handler may do beyond answering the request.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// A boxed future that is neither `Send` nor borrowed: the kind of work a Worker runs (it may
/// hold JS values).
pub type LocalFuture = Pin<Box<dyn Future<Output = ()> + 'static>>;

/// The per-request context of a Worker handler, as the Workers runtime's `ExecutionContext`.
///
/// Handler code is written against this trait so it runs unchanged inside the Worker (where it
/// maps onto `worker::Context`) and natively, in simulation, on a
/// [`SimulatedExecutionContext`](super::SimulatedExecutionContext).
///
/// Nothing here requires `Send`: a Worker is single-threaded and its futures hold JS values.
pub trait ExecutionContext {
    /// Registers `future` as work that may outlive the response (`ctx.waitUntil(promise)`).
    /// The object-safe form of [`wait_until`](Self::wait_until).
    ///
    /// The runtime keeps the request alive until the future settles, up to 30 seconds after the
    /// response; then it is cancelled.
    fn wait_until_boxed(&self, future: LocalFuture);

    /// Asks the runtime to forward the request to the origin if the handler fails
    /// (`ctx.passThroughOnException()`), instead of answering with an error.
    fn pass_through_on_exception(&self);

    /// Registers `future` as work that may outlive the response (`ctx.waitUntil(promise)`).
    ///
    /// ```
    /// use scheduler::cloud::{ExecutionContext, SimulatedExecutionContext};
    /// use scheduler::TestScheduler;
    /// use std::sync::Arc;
    ///
    /// let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(0));
    /// let request = ctx.serve({
    ///     let ctx = ctx.clone();
    ///     async move {
    ///         ctx.wait_until(async { /* runs after the response */ });
    ///         "accepted"
    ///     }
    /// });
    /// let session = request.session();
    /// assert_eq!(ctx.block(request).unwrap(), "accepted");
    /// assert_eq!(ctx.wait_on_execution_context(session).len(), 1);
    /// ```
    #[track_caller]
    fn wait_until<F>(&self, future: F)
    where
        F: Future<Output = ()> + 'static,
        Self: Sized,
    {
        self.wait_until_boxed(Box::pin(future));
    }
}

impl<C: ExecutionContext + ?Sized> ExecutionContext for &C {
    #[track_caller]
    fn wait_until_boxed(&self, future: LocalFuture) {
        (**self).wait_until_boxed(future);
    }

    fn pass_through_on_exception(&self) {
        (**self).pass_through_on_exception();
    }
}

impl<C: ExecutionContext + ?Sized> ExecutionContext for Rc<C> {
    #[track_caller]
    fn wait_until_boxed(&self, future: LocalFuture) {
        (**self).wait_until_boxed(future);
    }

    fn pass_through_on_exception(&self) {
        (**self).pass_through_on_exception();
    }
}
