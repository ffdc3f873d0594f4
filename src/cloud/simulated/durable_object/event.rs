//! An event's life in a simulated object ([`EventFuture`]): it waits at the input gate, is
//! delivered to the instance (built first if the object has none), runs with the gate checked
//! at every poll, and its response waits at the output gate until the writes made before it
//! are confirmed, then reaches the caller on the next tick. A reset of the object before that
//! fails it; a panic of its handler fails it alone.
//! ([`Gated`](super::state::Gated) puts the object's other futures behind the same gate.)

use super::journal::{DurableObjectEventKind, Journal};
use super::object::ObjectCore;
use super::state::SimulatedDurableObjectState;
use crate::cloud::durable_object::{DurableObjectFailure, DurableObjectHandler, LocalBoxFuture};
use crate::task::panic::panic_message;
use crate::{InstantKind, SessionId};
use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

/// Starts an event's handler on the instance.
pub(super) type Start<H, O> = Box<dyn FnOnce(Rc<H>) -> LocalBoxFuture<O>>;

/// Builds an instance of the object (the namespace's factory).
pub(super) type Build<H> = Rc<dyn Fn(SimulatedDurableObjectState) -> H>;

/// The future of one event (the task of its session): see the module docs.
pub(super) struct EventFuture<H: DurableObjectHandler, O: 'static> {
    pub(super) core: Rc<ObjectCore>,
    pub(super) build: Build<H>,
    pub(super) journal: Weak<Journal>,
    /// The event's index in the namespace's log.
    pub(super) index: usize,
    pub(super) kind: DurableObjectEventKind,
    pub(super) gate_id: u64,
    pub(super) session: SessionId,
    /// Until delivery: what starts the handler.
    pub(super) start: Option<Start<H, O>>,
    /// After delivery: the handler running.
    pub(super) running: Option<LocalBoxFuture<O>>,
    /// The output, held at the output gate until the writes up to the sequence are confirmed.
    pub(super) held: Option<(O, u64)>,
    /// The output gate passed: the response is on its way out (it leaves on the next tick).
    pub(super) leaving: Option<O>,
    /// The incarnation it was delivered to.
    pub(super) incarnation: u64,
}

// The output is moved out, never pinned: the future is `Unpin` whatever `O` is.
impl<H: DurableObjectHandler, O> Unpin for EventFuture<H, O> {}

impl<H: DurableObjectHandler, O> EventFuture<H, O> {
    /// Ends the event with `failure`, dropping its handler (inside its session: this runs in
    /// the event task's poll).
    fn fail(&mut self, failure: DurableObjectFailure) -> Poll<Result<O, DurableObjectFailure>> {
        self.start = None;
        self.running = None;
        self.held = None;
        self.leaving = None;
        Poll::Ready(Err(failure))
    }

    fn reset_failure(&self) -> DurableObjectFailure {
        DurableObjectFailure::Reset(self.core.data().last_reset.clone())
    }

    fn park(&self, waker: &Waker) {
        if let Some(event) = self.core.data_mut().in_flight.get_mut(&self.gate_id) {
            match &event.waker {
                Some(known) if known.will_wake(waker) => {}
                _ => event.waker = Some(waker.clone()),
            }
        }
    }

    /// The instance of the current incarnation, built now if the object has none.
    fn instance(&self) -> Result<Rc<H>, DurableObjectFailure> {
        let existing = self.core.data().instance.clone();
        if let Some(instance) = existing {
            return Ok(instance
                .downcast::<H>()
                .expect("a namespace builds instances of one type"));
        }
        let state = SimulatedDurableObjectState {
            core: self.core.clone(),
            incarnation: self.core.incarnation(),
        };
        let built = self.core.polling_as(self.gate_id, || {
            catch_unwind(AssertUnwindSafe(|| (self.build)(state)))
        });
        let instance = Rc::new(built.map_err(|payload| {
            DurableObjectFailure::Panicked(format!(
                "the constructor panicked: {}",
                panic_message(&payload)
            ))
        })?);
        let stored: Rc<dyn Any> = instance.clone();
        self.core.data_mut().instance = Some(stored);
        self.core.mark(
            InstantKind::Note,
            Some(self.session),
            "durable object constructed",
            &[("incarnation", &self.core.incarnation())],
        );
        Ok(instance)
    }

    /// Delivers the event: builds the instance if needed and starts the handler.
    fn deliver(&mut self) -> Result<(), DurableObjectFailure> {
        let instance = self.instance()?;
        self.incarnation = self.core.incarnation();
        if let Some(event) = self.core.data_mut().in_flight.get_mut(&self.gate_id) {
            event.delivered_in = Some(self.incarnation);
        }
        if let Some(journal) = self.journal.upgrade() {
            journal.event_delivered(self.index, self.core.ctx.elapsed());
        }
        self.core.mark(
            InstantKind::Note,
            Some(self.session),
            &format!("{} delivered", self.kind),
            &[],
        );
        let start = self.start.take().expect("delivered once");
        self.running = Some(start(instance));
        Ok(())
    }

    /// The output gate: `Ready` once the writes before the response are confirmed.
    fn output_gate(&mut self, waker: &Waker) -> Poll<Result<O, DurableObjectFailure>> {
        let (_, needed) = self.held.as_ref().expect("an output is held");
        match self
            .core
            .confirmed_or_wait(*needed, self.incarnation, waker)
        {
            Some(true) => {
                // Released; it reaches the caller on the next tick, as a handler's answer goes
                // back through the runtime: a reset in between still replaces it with an error
                // (its writes stand, so the caller cannot tell whether the event took effect).
                let (output, _) = self.held.take().expect("an output is held");
                self.leaving = Some(output);
                self.park(waker);
                waker.wake_by_ref();
                Poll::Pending
            }
            // The instance was reset before the writes were confirmed: they are lost.
            Some(false) => self.fail(self.reset_failure()),
            None => {
                self.park(waker);
                Poll::Pending
            }
        }
    }
}

impl<H: DurableObjectHandler, O> Future for EventFuture<H, O> {
    type Output = Result<O, DurableObjectFailure>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let core = this.core.clone();
        let inner = &core.ctx.inner;
        let killed = inner.killed(this.session);
        if !killed {
            inner.handler_waiting(this.session, cx.waker());
        }
        if let Some(output) = this.leaving.take() {
            if core.alive(this.incarnation) {
                return Poll::Ready(Ok(output));
            }
            return this.fail(this.reset_failure());
        }
        if this.held.is_some() {
            // Writes confirmed before an isolate reset stand (a flush never confirms writes of
            // a reset isolate): the response was out.
            return this.output_gate(cx.waker());
        }
        if killed {
            // The context's isolate was reset with this event in flight: the object (which
            // lives in that isolate) lost its instance too.
            if this.start.is_none() && core.incarnation() == this.incarnation {
                core.reset("the isolate was reset", Some(this.session));
            }
            let reason = "the isolate was reset while the event was in flight".to_string();
            return this.fail(DurableObjectFailure::Reset(reason));
        }
        if this.start.is_some() {
            // Held back at the input gate until it opens; then delivered.
            let incarnation = core.incarnation();
            core.alive(incarnation); // a reset isolate loses the instance before delivery
            if !core.gate_allows(this.gate_id) {
                core.wait_for_gate(cx.waker());
                this.park(cx.waker());
                return Poll::Pending;
            }
            if let Err(failure) = this.deliver() {
                return this.fail(failure);
            }
        }
        if !core.alive(this.incarnation) {
            return this.fail(this.reset_failure());
        }
        if !core.gate_allows(this.gate_id) {
            core.wait_for_gate(cx.waker());
            this.park(cx.waker());
            return Poll::Pending;
        }
        let running = this.running.as_mut().expect("a delivered event runs");
        let polled = core.polling_as(this.gate_id, || {
            catch_unwind(AssertUnwindSafe(|| running.as_mut().poll(cx)))
        });
        match polled {
            Ok(Poll::Pending) => {
                this.park(cx.waker());
                Poll::Pending
            }
            Ok(Poll::Ready(output)) => {
                this.running = None;
                // Produced by an instance reset meanwhile (it went on after a failed storage
                // call): the platform replaces such a response by an error.
                if !core.alive(this.incarnation) {
                    return this.fail(this.reset_failure());
                }
                let needed = core.data().write_seq;
                this.held = Some((output, needed));
                this.output_gate(cx.waker())
            }
            Err(payload) => {
                let message = panic_message(&payload).to_string();
                this.fail(DurableObjectFailure::Panicked(message))
            }
        }
    }
}

impl<H: DurableObjectHandler, O> Drop for EventFuture<H, O> {
    fn drop(&mut self) {
        // The response is out (or the event failed, or was dropped): the session's
        // `wait_until` window starts, as a request's.
        self.core.data_mut().in_flight.remove(&self.gate_id);
        self.running = None;
        self.core.ctx.respond(self.session);
    }
}
