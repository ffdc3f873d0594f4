//! Test doubles for the handler's simulation tests: a store whose writes stall, land late, hang
//! or fail on a script, and an execution context that abandons cut-off work as workerd does.

#![allow(dead_code)] // Each test file uses its own part of this module.

use scheduler::Scheduler;
use scheduler::cloud::{ExecutionContext, LocalFuture, SimulatedExecutionContext};
use scheduler_worker::ingest::{EventStore, MemoryStore, StoreError};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// What one `put` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Writes, after the store's usual latency.
    None,
    /// Writes nothing and returns an error.
    Fail,
    /// Waits this long, then writes and returns. Cancelled while waiting: nothing is written.
    StallThenLand(Duration),
    /// Writes at once, then waits this long before returning: cancelled while waiting, the
    /// write has landed although the caller never hears so.
    LandThenStall(Duration),
    /// Never returns, never writes (a promise that never settles).
    Hang,
}

#[derive(Default)]
struct Script {
    counts: VecDeque<Fault>,
    count_default: Option<Fault>,
    events: VecDeque<Fault>,
}

/// A [`MemoryStore`] whose puts follow a script: the next fault of the `count:` script for a
/// counter, of the `event:` script for a summary; [`Fault::None`] once a script is used up
/// (or the default set with [`count_default`](Self::count_default)). Clones share everything.
#[derive(Clone)]
pub struct FaultyStore {
    inner: MemoryStore,
    scheduler: Arc<dyn Scheduler>,
    script: Rc<RefCell<Script>>,
}

impl FaultyStore {
    /// A store with the usual seeded latency, and no faults yet.
    pub fn new(scheduler: Arc<dyn Scheduler>) -> Self {
        Self {
            inner: MemoryStore::with_simulated_latency(scheduler.clone()),
            scheduler,
            script: Rc::default(),
        }
    }

    /// The next counter puts do `faults`, in order.
    pub fn count_puts(self, faults: impl IntoIterator<Item = Fault>) -> Self {
        self.script.borrow_mut().counts.extend(faults);
        self
    }

    /// Counter puts beyond the script do `fault`.
    pub fn count_default(self, fault: Fault) -> Self {
        self.script.borrow_mut().count_default = Some(fault);
        self
    }

    /// The next summary puts do `faults`, in order.
    pub fn event_puts(self, faults: impl IntoIterator<Item = Fault>) -> Self {
        self.script.borrow_mut().events.extend(faults);
        self
    }

    /// The store's content.
    pub fn memory(&self) -> &MemoryStore {
        &self.inner
    }

    /// The stored value of `key`.
    pub fn value(&self, key: &str) -> Option<String> {
        self.inner.snapshot().get(key).cloned()
    }

    fn next_fault(&self, key: &str) -> Fault {
        let mut script = self.script.borrow_mut();
        if key.starts_with("count:") {
            let default = script.count_default.unwrap_or(Fault::None);
            script.counts.pop_front().unwrap_or(default)
        } else {
            script.events.pop_front().unwrap_or(Fault::None)
        }
    }
}

impl EventStore for FaultyStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.get(key).await
    }

    async fn put(&self, key: &str, value: String) -> Result<(), StoreError> {
        let fault = self.next_fault(key);
        if fault != Fault::None {
            mark_fault(&self.scheduler, key, fault);
        }
        match fault {
            Fault::None => self.inner.put(key, value).await,
            Fault::Fail => Err(StoreError(format!("{key}: injected failure"))),
            Fault::StallThenLand(stall) => {
                self.scheduler.timer(stall).await;
                self.inner.put(key, value).await
            }
            Fault::LandThenStall(stall) => {
                self.inner.put(key, value).await?;
                self.scheduler.timer(stall).await;
                Ok(())
            }
            Fault::Hang => std::future::pending().await,
        }
    }
}

/// Marks an injected fault on the TestScheduler's timeline (written with a failing seed's replay
/// file), on the track of the request whose task does the `put`.
fn mark_fault(scheduler: &Arc<dyn Scheduler>, key: &str, fault: Fault) {
    if let Some(test) = scheduler.downcast_ref::<scheduler::TestScheduler>() {
        let name = format!("KV put {key}: {fault:?}");
        test.record_instant(scheduler::InstantKind::Fault, &name, &[("key", &key)]);
    }
}

/// A [`SimulatedExecutionContext`] that treats cut-off work as workerd does: when the 30 s
/// limit cuts a `wait_until` job off, its future is abandoned — never polled again, and never
/// dropped (no destructor runs) — because the request's I/O context is gone. (A job killed by
/// an isolate reset is dropped as usual: the simulation runs its destructors in the dead
/// isolate, where `in_reset_isolate` tells the outside world to ignore them.)
#[derive(Clone)]
pub struct AbandoningContext {
    inner: SimulatedExecutionContext,
    graveyard: Rc<RefCell<Vec<LocalFuture>>>,
}

impl AbandoningContext {
    /// Wraps `inner`.
    pub fn new(inner: SimulatedExecutionContext) -> Self {
        Self {
            inner,
            graveyard: Rc::default(),
        }
    }

    /// How many jobs were abandoned so far.
    pub fn abandoned(&self) -> usize {
        self.graveyard.borrow().len()
    }
}

impl Drop for AbandoningContext {
    fn drop(&mut self) {
        // Abandoned for good: the futures never run their destructors, as in workerd.
        if Rc::strong_count(&self.graveyard) == 1 {
            std::mem::forget(std::mem::take(&mut *self.graveyard.borrow_mut()));
        }
    }
}

impl ExecutionContext for AbandoningContext {
    #[track_caller]
    fn wait_until_boxed(&self, future: LocalFuture) {
        self.inner.wait_until_boxed(Box::pin(Abandonable {
            future: Some(future),
            graveyard: self.graveyard.clone(),
            ctx: self.inner.clone(),
        }));
    }

    fn pass_through_on_exception(&self) {
        self.inner.pass_through_on_exception();
    }
}

/// A job that, dropped before it completed (cut off), moves its future to the graveyard.
struct Abandonable {
    future: Option<LocalFuture>,
    graveyard: Rc<RefCell<Vec<LocalFuture>>>,
    ctx: SimulatedExecutionContext,
}

impl Future for Abandonable {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(future) = self.future.as_mut() else {
            return Poll::Ready(());
        };
        let poll = future.as_mut().poll(cx);
        if poll.is_ready() {
            self.future = None;
        }
        poll
    }
}

impl Drop for Abandonable {
    fn drop(&mut self) {
        if let Some(future) = self.future.take()
            && !self.ctx.in_reset_isolate()
        {
            self.graveyard.borrow_mut().push(future);
        }
    }
}

/// `{"type": kind, "user": user, "values": [1]}`.
pub fn event_body(kind: &str, user: &str) -> String {
    serde_json::json!({ "type": kind, "user": user, "values": [1.0] }).to_string()
}
