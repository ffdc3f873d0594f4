//! Simulated Durable Objects over a [`SimulatedExecutionContext`]: many objects by id, each
//! event a session of the context, the platform's gates, transactional storage in memory,
//! alarms on virtual time, eviction and reset, and seeded faults. The rules modelled (and those
//! left out) are in [`SimulatedDurableObjectNamespace`]'s docs.
//!
//! Files: `journal.rs` (what is reported: events, injected faults, counts), `object.rs` (one
//! object's state: storage, gates, writes, resets, the alarm's bookkeeping), `state.rs` (what an
//! instance is given: its `DurableObjectState`, its simulated storage, and its futures behind
//! the gate), `event.rs` (an event's life), this file (the namespace and stubs).

mod event;
mod journal;
mod object;
mod state;

pub use journal::{
    DurableObjectCounts, DurableObjectEventKind, DurableObjectEventOutcome,
    DurableObjectEventReport, DurableObjectFaultKind, InjectedObjectFault,
};
pub use state::{BLOCK_CONCURRENCY_LIMIT, SimulatedDurableObjectState};

use super::SimulatedExecutionContext;
use crate::cloud::durable_object::{
    AlarmInfo, DurableObjectFailure, DurableObjectHandler, DurableObjectId, DurableObjectNamespace,
    LocalBoxFuture, StorageError, StorageValue,
};
use crate::{InstantKind, SessionId, SystemTime, session};
use event::{Build, EventFuture, Start};
use journal::Journal;
use object::{AlarmNext, ObjectCore};
use state::Slot;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// What every object of a namespace shares, whatever its handler type.
struct Namespace {
    ctx: SimulatedExecutionContext,
    class: String,
    objects: RefCell<BTreeMap<DurableObjectId, Rc<ObjectCore>>>,
    journal: Rc<Journal>,
    next_unique: Cell<u64>,
}

/// A namespace of simulated Durable Objects of one class: objects by id, each built by the
/// namespace's factory (the class's constructor) when it first gets an event and again after
/// it lost its instance. Clones share the namespace.
///
/// A namespace stands for a class bound in `wrangler.toml`: [`get`](Self::get) gives a stub,
/// whose [`fetch`](SimulatedDurableObjectStub::fetch) sends a `fetch` event to the object. The
/// object is a [`DurableObjectHandler`] built from a [`SimulatedDurableObjectState`].
///
/// # The rules modelled
///
/// As workerd and Cloudflare's documentation describe them (the glossary's input and output
/// gates, the storage API, the alarms API, `blockConcurrencyWhile`):
///
/// 1. **One event at a time, interleaved only at awaits.** Code of one object never runs in
///    parallel (the test thread polls one task at a time). An event may interleave with
///    another where it awaits something that is not its own storage (a timer, a subrequest),
///    as on the platform.
/// 2. **Input gate.** While a storage read (`get`, `list`, `get_alarm`) or a transaction of
///    the object is in flight, no other event is delivered to it and no other event of it
///    resumes: only the code awaiting that storage runs. A storage operation completes on a
///    later tick, so other tasks do run meanwhile and the gate is exercised.
///    `block_concurrency_while` closes the gate from its call until its future ends; called
///    from the constructor without being awaited, it holds back the first event until
///    initialization is done. The event's `wait_until` work is behind the same gate.
/// 3. **Writes and the output gate.** `put`, `delete`, `set_alarm` and `delete_alarm` are
///    issued when called (not when their future is first polled, as in JavaScript) and apply at
///    once to what the object reads; awaiting one is a storage operation (the input gate stays
///    closed until it completes, on a later tick). Writes are confirmed by a flush on a later
///    tick, every write issued before it runs together, atomically (write coalescing: writes
///    issued before an `await`; awaiting each write in turn lets a flush in between). An
///    event's response (an alarm run's success) is released only once every write the object
///    made before it is confirmed, and reaches the caller on the next tick: a reset in between
///    still replaces it with an error, its writes standing (the caller cannot tell whether the
///    event took effect, as seen on workerd). `sync()` waits for the confirmation.
/// 4. **A failed storage operation resets the object.** Its in-memory instance is lost,
///    unconfirmed writes are discarded, every delivered event in flight fails
///    ([`DurableObjectFailure::Reset`]: its response is replaced by an error), and their
///    `wait_until` work is cancelled. Events sent but not yet delivered go to a new instance.
///    The same happens when a `block_concurrency_while` future fails or runs past 30 seconds,
///    when [`reset`](SimulatedDurableObjectNamespace::reset) is called, and when the context's
///    isolate is reset ([`SimulatedExecutionContext::reset_isolate`]: objects live in it).
/// 5. **Transactions.** `transaction` runs its body with the gate closed; its writes are seen
///    by its own reads and commit as one write when it returns `Ok`, or are discarded when it
///    returns `Err` or calls `rollback` (later calls on it then fail).
/// 6. **Alarms.** One per object, stored like a write. At its time (virtual) an `alarm` event
///    is delivered; during it `get_alarm` is `None` unless the handler set a new one. A run
///    that fails (an `Err`, a panic, a reset, an injected failure) is retried with exponential
///    backoff: 2, 4, 8, 16, 32 and 64 seconds, six retries, then given up (counted in
///    [`DurableObjectCounts::alarms_given_up`]); not retried if the handler deleted the alarm,
///    and the new alarm stands if it set one. Delivery is at least once: a run that failed
///    after its writes were confirmed runs again.
/// 7. **Eviction.** An idle object (no event delivered and unanswered, no unconfirmed write)
///    may lose its instance; its storage is kept. The next event builds a new instance.
/// 8. **Panics.** A panicking handler fails its own event
///    ([`DurableObjectFailure::Panicked`]), like a thrown exception on the platform: the object
///    is not reset (a `panic = "abort"` Worker would lose the whole isolate instead).
///
/// # Left out
///
/// - Storage latency: operations take no virtual time, only a tick; there is no in-memory
///   cache that makes some reads instant (every read closes the gate for a tick).
/// - `allowConcurrency`, `allowUnconfirmed` and `noCache` options; outgoing subrequests are
///   not held by the output gate (await [`sync`](crate::cloud::DurableObjectStorage::sync)
///   before telling the outside world about a write).
/// - Tasks a handler spawns itself run outside the gate (only the event's own future, its
///   `wait_until` work and `block_concurrency_while` futures are gated); a storage call from
///   such a task still closes the gate for every event.
/// - Events waiting at a closed gate are delivered in the order the seed picks (the platform
///   keeps the order of one caller's requests; the simulation does not).
/// - The idle-time eviction of the platform (about 10 s for hibernatable objects, longer
///   otherwise): eviction comes only from the fault or from
///   [`evict`](SimulatedDurableObjectNamespace::evict). WebSockets, hibernation, RPC methods,
///   SQL storage, `deleteAll`, location and jurisdiction are not modelled.
/// - An event's `wait_until` work is cut off 30 seconds after its response, as a request's; on
///   the platform an object's `waitUntil` has no effect (pending work keeps the object alive).
/// - A failed alarm's retry is scheduled from the failure, not from the alarm's first time;
///   the platform's "up to a minute" late delivery is not drawn.
///
/// # Sessions, reports and the timeline
///
/// Each event is a session of the context ([`SimulatedExecutionContext::create_session`]): its
/// tasks carry that session in their metadata, its `wait_until` work gets the 30-second window
/// after the response, and when it ends, [`SimulatedExecutionContext::session_report`] and
/// [`validate_session_cleanup`](SimulatedExecutionContext::validate_session_cleanup) give the
/// same leak report as a request's. Task metadata does not grow: the session is the owner's
/// key. The namespace resolves it to the object
/// ([`object_of_session`](SimulatedDurableObjectNamespace::object_of_session), the
/// [`events`](SimulatedDurableObjectNamespace::events) log), and the TestScheduler's timeline
/// draws every session of one object, and the object's own runtime work (flushes, alarm and
/// fault timers), on the object's track ([`TestScheduler::set_session_owner`]).
///
/// # Faults
///
/// [`SimulationFaults`](crate::cloud::SimulationFaults)' `object_storage_failure` (per read and
/// per flush), `object_reset` (per event, at a time within `object_reset_within`),
/// `object_eviction` (per event, if the object is idle) and `alarm_failure` (per alarm run),
/// drawn from the TestScheduler like the context's other faults: none is drawn at rate 0.
///
/// [`TestScheduler::set_session_owner`]: crate::TestScheduler::set_session_owner
///
/// # Example
///
/// ```
/// use scheduler::cloud::{
///     DurableObjectHandler, DurableObjectState, SimulatedDurableObjectNamespace,
///     SimulatedDurableObjectState, SimulatedExecutionContext,
/// };
/// use scheduler::TestScheduler;
///
/// /// The object's logic, written against the shared API.
/// struct Counter<S: DurableObjectState>(S);
///
/// impl<S: DurableObjectState + 'static> DurableObjectHandler for Counter<S> {
///     type Request = ();
///     type Response = u64;
///     async fn fetch(&self, (): ()) -> u64 {
///         let storage = self.0.storage();
///         let count = storage.get::<u64>("count").await.unwrap().unwrap_or(0) + 1;
///         storage.put("count", &count).await.unwrap();
///         count
///     }
/// }
///
/// let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(1));
/// let counters = SimulatedDurableObjectNamespace::new(&ctx, "Counter", |state| Counter(state));
/// let click = counters.get_by_name("click");
/// let (first, second) = (click.fetch(()), click.fetch(()));
/// let mut answers = [ctx.block(first).unwrap(), ctx.block(second).unwrap()];
/// answers.sort();
/// assert_eq!(answers, [1, 2]); // the input gate: no lost update
/// let id = counters.id_from_name("click");
/// assert_eq!(counters.stored::<u64>(&id, "count"), Ok(Some(2))); // confirmed
/// ```
pub struct SimulatedDurableObjectNamespace<H: DurableObjectHandler> {
    shared: Rc<Shared<H>>,
}

struct Shared<H: DurableObjectHandler> {
    namespace: Rc<Namespace>,
    build: Build<H>,
}

impl<H: DurableObjectHandler> Clone for SimulatedDurableObjectNamespace<H> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<H: DurableObjectHandler> fmt::Debug for SimulatedDurableObjectNamespace<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedDurableObjectNamespace")
            .field("class", &self.shared.namespace.class)
            .field("objects", &self.shared.namespace.objects.borrow().len())
            .finish_non_exhaustive()
    }
}

/// FNV-1a 64 over `bytes`, from `seed`: the simulation's deterministic id hash (the same on
/// every target).
fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325 ^ seed;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl<H: DurableObjectHandler> SimulatedDurableObjectNamespace<H> {
    /// A namespace of class `class` (its name on the timeline and in reports) over `ctx`:
    /// its objects' events are sessions of `ctx`, its faults are drawn by `ctx`'s
    /// [`SimulationFaults`](crate::cloud::SimulationFaults), and `build` constructs an
    /// instance from its state.
    pub fn new(
        ctx: &SimulatedExecutionContext,
        class: &str,
        build: impl Fn(SimulatedDurableObjectState) -> H + 'static,
    ) -> Self {
        Self {
            shared: Rc::new(Shared {
                namespace: Rc::new(Namespace {
                    ctx: ctx.clone(),
                    class: class.to_string(),
                    objects: RefCell::default(),
                    journal: Rc::default(),
                    next_unique: Cell::new(1),
                }),
                build: Rc::new(build),
            }),
        }
    }

    /// The class name.
    pub fn class(&self) -> &str {
        &self.shared.namespace.class
    }

    /// The id derived from `name` (`idFromName`): always the same for the same name (and
    /// class), on every target.
    pub fn id_from_name(&self, name: &str) -> DurableObjectId {
        let key = format!("{}\0{name}", self.class());
        DurableObjectId::new(Self::hex(key.as_bytes()), Some(name.to_string()))
    }

    /// A new id no other call returns (`newUniqueId`); numbered, so deterministic.
    pub fn unique_id(&self) -> DurableObjectId {
        let namespace = &self.shared.namespace;
        let n = namespace.next_unique.get();
        namespace.next_unique.set(n + 1);
        let key = format!("{}\0unique\0{n}", self.class());
        DurableObjectId::new(Self::hex(key.as_bytes()), None)
    }

    /// Parses an id printed before (`idFromString`): 64 hex digits.
    pub fn id_from_string(&self, hex: &str) -> Result<DurableObjectId, String> {
        if hex.len() != 64 || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(format!("a Durable Object id is 64 hex digits, not {hex:?}"));
        }
        let hex = hex.to_ascii_lowercase();
        let known = self.shared.namespace.objects.borrow();
        let name = known
            .keys()
            .find(|id| id.as_hex() == hex)
            .and_then(|id| id.name().map(str::to_string));
        Ok(DurableObjectId::new(hex, name))
    }

    fn hex(key: &[u8]) -> String {
        (0..4u64)
            .map(|part| format!("{:016x}", fnv1a(part, key)))
            .collect()
    }

    /// A stub of the object `id` (`namespace.get(id)`): nothing runs until it is sent an event.
    pub fn get(&self, id: &DurableObjectId) -> SimulatedDurableObjectStub<H> {
        SimulatedDurableObjectStub {
            shared: self.shared.clone(),
            core: self.shared.object(id),
        }
    }

    /// A stub of the object named `name` (`getByName`).
    pub fn get_by_name(&self, name: &str) -> SimulatedDurableObjectStub<H> {
        self.get(&self.id_from_name(name))
    }

    /// Evicts the object if it is in memory and idle (no event delivered and unanswered, no
    /// unconfirmed write, no alarm running): its instance is lost, its storage kept. Returns
    /// whether it did.
    pub fn evict(&self, id: &DurableObjectId) -> bool {
        self.shared.object(id).evict(None)
    }

    /// Resets the object now (rule 4 in the [type's docs](Self)): its instance is lost,
    /// unconfirmed writes discarded, its delivered events in flight fail.
    pub fn reset(&self, id: &DurableObjectId, reason: &str) {
        self.shared.object(id).reset(reason, None);
    }

    /// The object's confirmed storage (what survives a reset), every entry.
    pub fn stored_entries(&self, id: &DurableObjectId) -> BTreeMap<String, Vec<u8>> {
        self.shared.object(id).data().durable.clone()
    }

    /// The confirmed value of `key` in the object's storage, decoded as `T`.
    pub fn stored<T: StorageValue>(
        &self,
        id: &DurableObjectId,
        key: &str,
    ) -> Result<Option<T>, StorageError> {
        let bytes = self.shared.object(id).data().durable.get(key).cloned();
        bytes
            .map(|bytes| {
                T::from_bytes(bytes).map_err(|message| StorageError::Decode {
                    key: key.to_string(),
                    message,
                })
            })
            .transpose()
    }

    /// The object's confirmed alarm, if one is set (a failed run's pending retry included).
    pub fn alarm(&self, id: &DurableObjectId) -> Option<SystemTime> {
        self.shared.object(id).data().durable_alarm
    }

    /// How many instances the object lost so far (resets and evictions).
    pub fn incarnation(&self, id: &DurableObjectId) -> u64 {
        self.shared.object(id).incarnation()
    }

    /// Every event sent so far, in the order they were sent.
    pub fn events(&self) -> Vec<DurableObjectEventReport> {
        self.shared.namespace.journal.events.borrow().clone()
    }

    /// The object whose event `session` is (the per-session owner).
    pub fn object_of_session(&self, session: SessionId) -> Option<DurableObjectId> {
        let journal = &self.shared.namespace.journal;
        let index = *journal.sessions.borrow().get(&session)?;
        journal
            .events
            .borrow()
            .get(index)
            .map(|event| event.object.clone())
    }

    /// Every fault injected into the namespace's objects, in order.
    pub fn faults(&self) -> Vec<InjectedObjectFault> {
        self.shared.namespace.journal.faults.borrow().clone()
    }

    /// What the namespace's objects went through so far.
    pub fn counts(&self) -> DurableObjectCounts {
        self.shared.namespace.journal.counts.get()
    }
}

/// The Worker's side of the namespace: [`send`](DurableObjectNamespace::send) is
/// [`get_by_name`](SimulatedDurableObjectNamespace::get_by_name) then
/// [`fetch`](SimulatedDurableObjectStub::fetch), so code written against the trait runs here
/// as against the real binding on workerd.
impl<H: DurableObjectHandler> DurableObjectNamespace for SimulatedDurableObjectNamespace<H> {
    type Request = H::Request;
    type Response = H::Response;

    fn send(
        &self,
        name: &str,
        request: H::Request,
    ) -> LocalBoxFuture<Result<H::Response, DurableObjectFailure>> {
        Box::pin(self.get_by_name(name).fetch(request))
    }
}

impl<H: DurableObjectHandler> Shared<H> {
    /// The object `id`, created (empty storage, no instance) on first use.
    fn object(self: &Rc<Self>, id: &DurableObjectId) -> Rc<ObjectCore> {
        let namespace = &self.namespace;
        if let Some(core) = namespace.objects.borrow().get(id) {
            return core.clone();
        }
        let track = format!("durable object {}:{}", namespace.class, id.short());
        let weak = Rc::downgrade(self);
        let core = ObjectCore::new(
            id.clone(),
            track,
            namespace.ctx.clone(),
            Rc::downgrade(&namespace.journal),
            Box::new(move |core, retries| {
                if let Some(shared) = weak.upgrade() {
                    shared.send_alarm(core, retries);
                }
            }),
        );
        namespace
            .objects
            .borrow_mut()
            .insert(id.clone(), core.clone());
        core
    }

    /// Sends an event to `core`: a new session, the per-event faults, and a detached task
    /// that runs it; `finish` gets its result and says how it ended.
    fn send<O: 'static>(
        self: &Rc<Self>,
        core: &Rc<ObjectCore>,
        kind: DurableObjectEventKind,
        start: Start<H, O>,
        finish: Box<dyn FnOnce(Result<O, DurableObjectFailure>) -> DurableObjectEventOutcome>,
    ) -> SessionId {
        let namespace = &self.namespace;
        let ctx = &namespace.ctx;
        let session = ctx.create_session();
        if let Some(test) = core.test() {
            test.set_session_owner(session, &core.track);
        }
        core.register_event_session(session);
        let index = namespace.journal.event_sent(DurableObjectEventReport {
            object: core.id.clone(),
            session,
            kind,
            sent_at: ctx.elapsed(),
            delivered_at: None,
            ended_at: None,
            outcome: None,
        });
        core.mark(
            InstantKind::Note,
            Some(session),
            &format!("{kind} sent to durable object {}", core.id.short()),
            &[],
        );
        self.draw_event_faults(core, session);
        let gate_id = core.next_gate_id();
        core.data_mut().in_flight.insert(
            gate_id,
            object::InFlight {
                delivered_in: None,
                waker: None,
            },
        );
        let event = EventFuture {
            core: core.clone(),
            build: self.build.clone(),
            journal: Rc::downgrade(&namespace.journal),
            index,
            kind,
            gate_id,
            session,
            start: Some(start),
            running: None,
            held: None,
            leaving: None,
            incarnation: core.incarnation(),
        };
        let (journal, clock) = (Rc::downgrade(&namespace.journal), ctx.clone());
        let task = session::with(Some(session), || {
            ctx.scheduler().spawn_foreground(async move {
                let result = event.await;
                let outcome = finish(result);
                if let Some(journal) = journal.upgrade() {
                    journal.event_ended(index, outcome, clock.elapsed());
                }
            })
        });
        // The event's task is the session's handler (not a leak), and runs to its end even if
        // its sender stops waiting.
        let id = task.id().expect("a spawned task has an id");
        ctx.inner
            .lock()
            .expect_mut(session, "durable object")
            .handler = Some(id);
        task.detach();
        session
    }

    /// The faults an event draws when it is sent: the object evicted first (if idle), and a
    /// reset at a random moment.
    fn draw_event_faults(&self, core: &Rc<ObjectCore>, session: SessionId) {
        let faults = core.ctx.inner.fault_config();
        if core.chance(faults.object_eviction) && core.evict(Some(session)) {
            let what = "evicted while idle, before this event".to_string();
            core.injected(DurableObjectFaultKind::Eviction, Some(session), what);
        }
        if core.chance(faults.object_reset) {
            let within = Duration::ZERO..=faults.object_reset_within;
            let after = core.ctx.inner.draw_time(&within);
            let weak = Rc::downgrade(core);
            let scheduler = core.scheduler().clone();
            core.spawn_runtime(async move {
                scheduler.timer(after).await;
                if let Some(core) = weak.upgrade() {
                    let what = format!("reset {after:?} after an event was sent");
                    core.injected(DurableObjectFaultKind::Reset, None, what.clone());
                    core.reset(&format!("injected: {what}"), None);
                }
            });
        }
    }

    /// Delivers a run of `core`'s alarm (retry `retries`), and handles its end.
    fn send_alarm(self: &Rc<Self>, core: &Rc<ObjectCore>, retries: u32) {
        let info = AlarmInfo {
            retry_count: Some(retries),
        };
        let start: Start<H, Result<(), String>> =
            Box::new(move |instance| Box::pin(async move { instance.alarm(info).await }));
        let weak_core = Rc::downgrade(core);
        let journal = Rc::downgrade(&self.namespace.journal);
        let finish = Box::new(
            move |result: Result<Result<(), String>, DurableObjectFailure>| {
                let Some(core) = weak_core.upgrade() else {
                    return DurableObjectEventOutcome::Failed(DurableObjectFailure::Reset(
                        "the namespace is gone".into(),
                    ));
                };
                let outcome = match result {
                    Ok(Ok(())) => {
                        let rate = core.ctx.inner.fault_config().alarm_failure;
                        if core.chance(rate) {
                            let what = "the run counts as failed after its handler returned";
                            core.injected(DurableObjectFaultKind::AlarmFailure, None, what.into());
                            DurableObjectEventOutcome::AlarmFailed(format!("injected: {what}"))
                        } else {
                            DurableObjectEventOutcome::Completed
                        }
                    }
                    Ok(Err(error)) => DurableObjectEventOutcome::AlarmFailed(error),
                    Err(failure) => DurableObjectEventOutcome::Failed(failure),
                };
                let verdict = match &outcome {
                    DurableObjectEventOutcome::Completed => Ok(()),
                    other => Err(other.to_string()),
                };
                let next = core.alarm_finished(verdict);
                if let Some(journal) = journal.upgrade() {
                    match next {
                        AlarmNext::Retry(_) => journal.count(|counts| counts.alarm_retries += 1),
                        AlarmNext::GivenUp => journal.count(|counts| counts.alarms_given_up += 1),
                        _ => {}
                    }
                }
                if let AlarmNext::Retry(delay) = next {
                    core.mark(
                        InstantKind::Note,
                        None,
                        &format!("alarm retried in {delay:?}"),
                        &[],
                    );
                }
                outcome
            },
        );
        let kind = DurableObjectEventKind::Alarm {
            retry_count: retries,
        };
        self.send(core, kind, start, finish);
    }
}

/// A stub of one simulated object: sends it events.
pub struct SimulatedDurableObjectStub<H: DurableObjectHandler> {
    shared: Rc<Shared<H>>,
    core: Rc<ObjectCore>,
}

impl<H: DurableObjectHandler> Clone for SimulatedDurableObjectStub<H> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            core: self.core.clone(),
        }
    }
}

impl<H: DurableObjectHandler> fmt::Debug for SimulatedDurableObjectStub<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedDurableObjectStub")
            .field("id", &self.core.id)
            .finish_non_exhaustive()
    }
}

impl<H: DurableObjectHandler> SimulatedDurableObjectStub<H> {
    /// The object's id.
    pub fn id(&self) -> &DurableObjectId {
        &self.core.id
    }

    /// Sends a `fetch` event (`stub.fetch(request)`): a new session of the context whose task
    /// waits at the object's input gate, runs the handler, and releases its response at the
    /// output gate. Await the returned request (or block on it) for the response. The event
    /// runs to its end even if nobody awaits it.
    pub fn fetch(&self, request: H::Request) -> SimulatedDurableObjectRequest<H::Response> {
        let slot = Slot::new();
        let start: Start<H, H::Response> =
            Box::new(move |instance| Box::pin(async move { instance.fetch(request).await }));
        let filled = slot.clone();
        let finish = Box::new(move |result: Result<H::Response, DurableObjectFailure>| {
            let outcome = match &result {
                Ok(_) => DurableObjectEventOutcome::Completed,
                Err(failure) => DurableObjectEventOutcome::Failed(failure.clone()),
            };
            filled.fill(result);
            outcome
        });
        let session = self
            .shared
            .send(&self.core, DurableObjectEventKind::Fetch, start, finish);
        SimulatedDurableObjectRequest { session, slot }
    }
}

/// A `fetch` sent to a simulated object: await it (or block on it) for the object's response,
/// or the [`DurableObjectFailure`] that replaced it.
#[must_use = "the event runs anyway; await the request for its response"]
pub struct SimulatedDurableObjectRequest<T> {
    session: SessionId,
    slot: Rc<Slot<Result<T, DurableObjectFailure>>>,
}

impl<T> SimulatedDurableObjectRequest<T> {
    /// The event's session.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// Whether the response (or the failure) is there.
    pub fn is_answered(&self) -> bool {
        self.slot.is_filled()
    }
}

impl<T> fmt::Debug for SimulatedDurableObjectRequest<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedDurableObjectRequest")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl<T> Future for SimulatedDurableObjectRequest<T> {
    type Output = Result<T, DurableObjectFailure>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.slot.poll_take(cx)
    }
}
