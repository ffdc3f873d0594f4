//! The object's futures other than events behind its input gate ([`Gated`]: `wait_until`
//! work, `block_concurrency_while` futures), and [`Slot`], which hands a result from a task to
//! whoever awaits it.

use super::object::ObjectCore;
use crate::task::panic::panic_message;
use std::cell::RefCell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A future of the object behind its input gate (`wait_until` work, a
/// `block_concurrency_while` future): polled only while the gate is open or held by it;
/// `None` once the instance it belongs to is gone; a panic is caught as `Err(message)`.
pub(super) struct Gated<F> {
    core: Rc<ObjectCore>,
    id: u64,
    incarnation: u64,
    future: Pin<Box<F>>,
}

impl<F: Future> Gated<F> {
    pub(super) fn new(core: Rc<ObjectCore>, id: u64, incarnation: u64, future: F) -> Self {
        core.data_mut().live_gated += 1;
        Self {
            core,
            id,
            incarnation,
            future: Box::pin(future),
        }
    }
}

impl<F: Future> Future for Gated<F> {
    type Output = Option<Result<F::Output, String>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if !this.core.alive(this.incarnation) {
            return Poll::Ready(None);
        }
        if !this.core.gate_allows(this.id) {
            this.core.wait_for_gate(cx.waker());
            return Poll::Pending;
        }
        let future = &mut this.future;
        let polled = this.core.polling_as(this.id, || {
            catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)))
        });
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Some(Ok(output))),
            Err(payload) => Poll::Ready(Some(Err(panic_message(&payload).to_string()))),
        }
    }
}

impl<F> Drop for Gated<F> {
    fn drop(&mut self) {
        self.core.data_mut().live_gated -= 1;
    }
}

/// A result handed from a task to whoever awaits it.
pub(super) struct Slot<T> {
    value: RefCell<Option<T>>,
    waker: RefCell<Option<Waker>>,
}

impl<T> Slot<T> {
    pub(super) fn new() -> Rc<Self> {
        Rc::new(Self {
            value: RefCell::new(None),
            waker: RefCell::new(None),
        })
    }

    /// Stores `value` (unless one is there) and wakes the waiter.
    pub(super) fn fill(&self, value: T) {
        {
            let mut slot = self.value.borrow_mut();
            if slot.is_some() {
                return;
            }
            *slot = Some(value);
        }
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    pub(super) fn is_filled(&self) -> bool {
        self.value.borrow().is_some()
    }

    pub(super) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<T> {
        match self.value.borrow_mut().take() {
            Some(value) => Poll::Ready(value),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
