//! Test doubles for the handler's simulation tests: a store whose writes stall, land late, hang
//! or fail on a script; the counter objects in a simulated namespace, and in front of them a
//! namespace whose increments fail, stall, hang or lose their answer on a script; and an
//! execution context that abandons cut-off work as workerd does.

#![allow(dead_code)] // Each test file uses its own part of this module.

use scheduler::Scheduler;
use scheduler::cloud::{
    DurableObjectFailure, DurableObjectNamespace, ExecutionContext, LocalBoxFuture, LocalFuture,
    SimulatedDurableObjectNamespace, SimulatedDurableObjectState, SimulatedExecutionContext,
};
use scheduler_worker::ingest::{
    COUNTER_CLASS, CounterReply, CounterRequest, Counters, EventCounter, EventStore, MemoryStore,
    StoreError,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The counter objects of a simulation: the namespace (to read their confirmed storage) and
/// the same namespace as the service takes it.
pub type SimulatedCounters =
    SimulatedDurableObjectNamespace<EventCounter<SimulatedDurableObjectState>>;

/// The counter objects over `ctx` (their faults are `ctx`'s object faults).
pub fn counters(ctx: &SimulatedExecutionContext) -> (SimulatedCounters, Counters) {
    let objects = SimulatedDurableObjectNamespace::new(ctx, COUNTER_CLASS, EventCounter::new);
    let counters: Counters = Rc::new(objects.clone());
    (objects, counters)
}

/// What a counter object holds, confirmed: its count (0 when absent) and each event it counted
/// with the count that event made.
pub fn counter_storage(objects: &SimulatedCounters, kind: &str) -> (u64, BTreeMap<String, u64>) {
    let id = objects.id_from_name(kind);
    let count = objects.stored::<u64>(&id, "count").unwrap().unwrap_or(0);
    let applied = objects
        .stored_entries(&id)
        .into_iter()
        .filter_map(|(key, value)| {
            let event = key.strip_prefix("applied:")?.to_string();
            let made: u64 = String::from_utf8(value).unwrap().parse().unwrap();
            Some((event, made))
        })
        .collect();
    (count, applied)
}

/// Checks a counter object's own books: the count is the number of events it counted, and
/// each count `1..=count` was made by exactly one event (nothing counted twice). Returns the
/// events counted.
pub fn assert_counter_consistent(objects: &SimulatedCounters, kind: &str) -> BTreeMap<String, u64> {
    let (count, applied) = counter_storage(objects, kind);
    let mut made: Vec<u64> = applied.values().copied().collect();
    made.sort_unstable();
    assert_eq!(
        made,
        (1..=count).collect::<Vec<_>>(),
        "counter {kind}: count {count}, events counted {applied:?}"
    );
    applied
}

/// What one increment sent through a [`ScriptedCounters`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterFault {
    /// Reaches the object.
    None,
    /// Fails without reaching the object.
    Fail,
    /// Reaches the object, which counts it, but the answer is lost: the caller gets a failure.
    AnswerLost,
    /// Waits this long, then reaches the object. Dropped while waiting: never sent.
    Stall(Duration),
    /// Never answers, never reaches the object.
    Hang,
}

/// The counter objects behind a script: each increment sent does the next [`CounterFault`]
/// (then the default, [`CounterFault::None`] unless set); reads go straight through.
#[derive(Clone)]
pub struct ScriptedCounters {
    inner: Counters,
    scheduler: Arc<dyn Scheduler>,
    script: Rc<RefCell<(VecDeque<CounterFault>, CounterFault)>>,
}

impl ScriptedCounters {
    /// `inner` with an empty script.
    pub fn new(inner: Counters, scheduler: Arc<dyn Scheduler>) -> Self {
        Self {
            inner,
            scheduler,
            script: Rc::new(RefCell::new((VecDeque::new(), CounterFault::None))),
        }
    }

    /// The next increments do `faults`, in order.
    pub fn increments(self, faults: impl IntoIterator<Item = CounterFault>) -> Self {
        self.script.borrow_mut().0.extend(faults);
        self
    }

    /// Increments beyond the script do `fault`.
    pub fn default_fault(self, fault: CounterFault) -> Self {
        self.script.borrow_mut().1 = fault;
        self
    }

    fn next_fault(&self) -> CounterFault {
        let mut script = self.script.borrow_mut();
        let default = script.1;
        script.0.pop_front().unwrap_or(default)
    }
}

impl DurableObjectNamespace for ScriptedCounters {
    type Request = CounterRequest;
    type Response = CounterReply;

    fn send(
        &self,
        name: &str,
        request: CounterRequest,
    ) -> LocalBoxFuture<Result<CounterReply, DurableObjectFailure>> {
        if !matches!(request, CounterRequest::Increment { .. }) {
            return self.inner.send(name, request);
        }
        let fault = self.next_fault();
        if let Some(test) = self.scheduler.downcast_ref::<scheduler::TestScheduler>()
            && fault != CounterFault::None
        {
            let what = format!("increment of counter {name}: {fault:?}");
            test.record_instant(scheduler::InstantKind::Fault, &what, &[]);
        }
        let injected = |why: &str| DurableObjectFailure::Unanswered(format!("injected: {why}"));
        match fault {
            CounterFault::None => self.inner.send(name, request),
            CounterFault::Fail => Box::pin(std::future::ready(Err(injected("failed")))),
            CounterFault::AnswerLost => {
                let sent = self.inner.send(name, request);
                Box::pin(async move {
                    let _ = sent.await;
                    Err(injected("the answer was lost"))
                })
            }
            CounterFault::Stall(stall) => {
                let (inner, name, timer) = (
                    self.inner.clone(),
                    name.to_string(),
                    self.scheduler.timer(stall),
                );
                Box::pin(async move {
                    timer.await;
                    inner.send(&name, request).await
                })
            }
            CounterFault::Hang => Box::pin(std::future::pending()),
        }
    }
}

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
    events: VecDeque<Fault>,
}

/// A [`MemoryStore`] whose summary puts follow a script: the next fault of the script;
/// [`Fault::None`] once it is used up. Clones share everything.
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

    fn next_fault(&self) -> Fault {
        self.script
            .borrow_mut()
            .events
            .pop_front()
            .unwrap_or(Fault::None)
    }
}

impl EventStore for FaultyStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.get(key).await
    }

    async fn put(&self, key: &str, value: String) -> Result<(), StoreError> {
        let fault = self.next_fault();
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
