//! [`CloudflareDurableObjectState`]: the [`DurableObjectState`] of a real Durable Object (wasm32,
//! feature `cloudflare`), wrapping workers-rs's `#[durable_object]` API (`worker::State` and its
//! storage) and running each event as one session of the isolate's
//! [`WorkerdScheduler`](crate::platform::wasm::WorkerdScheduler).
//!
//! Life of an event (a `fetch`, an `alarm`), as a request's in
//! [`CloudflareExecutionContext`](super::CloudflareExecutionContext):
//! 1. [`serve`](CloudflareDurableObjectState::serve), called from the `#[durable_object]`
//!    struct's `fetch` or `alarm`, opens a session (in the event's own I/O context) and runs
//!    the handler as a task of it; every task it spawns belongs to the session.
//! 2. [`wait_until`](DurableObjectState::wait_until) runs its future as a task of the session
//!    and hands `ctx.waitUntil` a promise that settles when the task ends.
//! 3. Once the handler has answered and every `wait_until` task has settled, the session ends:
//!    tasks still running are cancelled and logged with `console.error` by
//!    [`WasmScheduler::end_session`](crate::platform::wasm::WasmScheduler::end_session), and one
//!    more line names the object and the event the session was (the session's owner).
//! 4. If the platform resets the object with events in flight (a failed write, a failed
//!    `block_concurrency_while`), their code never continues: the object's next instance ends
//!    their sessions when it is built (logged, counted in
//!    [`abandoned_events`](CloudflareDurableObjectStats::abandoned_events)) and drops their
//!    handlers' tasks, which may wait forever on a promise of the reset instance (other tasks
//!    of theirs are discarded when next woken, as a cut-off request's). Ending them resolves
//!    their anchors from the new instance's context, which workerd notes once per reset ("A
//!    promise was resolved or rejected from a different request context").
//!
//! Storage goes through the platform's storage API (its input and output gates, write
//! coalescing and resets are workerd's own); values are stored as `Uint8Array`s.
//! `block_concurrency_while` and `transaction` run their futures as tasks of the current
//! session inside the platform's callbacks.

use super::durable_object::{
    DurableObjectFailure, DurableObjectHandler, DurableObjectId, DurableObjectMessage,
    DurableObjectNamespace, DurableObjectState, DurableObjectStorage, DurableObjectTransaction,
    Entries, KeyValueBackend, ListOptions, LocalBoxFuture, StorageBackend, StorageError,
    TransactionBackend, TransactionBody, check_key,
};
use super::execution_context::LocalFuture;
use crate::platform::wasm::{SessionEnd, WorkerdScheduler};
use crate::{Scheduler, SessionId, SystemTime, session};
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use rustc_hash::FxHashMap;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use worker::wasm_bindgen_futures::{JsFuture, future_to_promise};
use worker::worker_sys::{
    DurableObjectStorage as RawStorage, DurableObjectTransaction as RawTransaction,
};

/// The context of one Durable Object on workerd: workers-rs's `State` plus the object's event
/// sessions on the isolate's scheduler. Clones share the object.
///
/// ```ignore
/// #[durable_object]
/// pub struct CounterObject {
///     state: CloudflareDurableObjectState,
///     counter: Rc<Counter<CloudflareDurableObjectState>>, // the logic, written once
/// }
///
/// impl DurableObject for CounterObject {
///     fn new(state: State, _env: Env) -> Self {
///         let state = CloudflareDurableObjectState::new(scheduler(), state);
///         Self { counter: Rc::new(Counter::new(state.clone())), state }
///     }
///
///     async fn fetch(&self, request: Request) -> Result<Response> {
///         let counter = self.counter.clone();
///         let count = self.state.serve("fetch", async move { counter.fetch(()).await }).await;
///         Response::ok(count.to_string())
///     }
/// }
/// ```
#[derive(Clone)]
pub struct CloudflareDurableObjectState {
    object: Rc<ObjectState>,
}

struct ObjectState {
    scheduler: Arc<WorkerdScheduler>,
    state: worker::State,
    id: DurableObjectId,
    storage: DurableObjectStorage,
    /// The events in flight, by session.
    events: RefCell<FxHashMap<SessionId, Rc<Event>>>,
}

/// One event's session: its `wait_until` work pending, and whether it has answered.
struct Event {
    session: SessionId,
    kind: &'static str,
    pending: Cell<usize>,
    responded: Cell<bool>,
    ended: Cell<bool>,
    /// Drops the handler's task (cancelling it if it has not finished): called when the event
    /// is abandoned, whose handler may wait forever on a promise of the reset instance.
    cancel_handler: RefCell<Option<Box<dyn FnOnce()>>>,
}

impl Event {
    /// Cancels the handler's task if it has not finished (nothing once it has).
    fn cancel_handler(&self) {
        let cancel = self.cancel_handler.borrow_mut().take();
        if let Some(cancel) = cancel {
            cancel();
        }
    }
}

/// What every [`CloudflareDurableObjectState`] of this isolate did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloudflareDurableObjectStats {
    /// Events served with [`CloudflareDurableObjectState::serve`].
    pub events: u64,
    /// Events whose session has ended (answered and `wait_until` work settled).
    pub sessions_ended: u64,
    /// `wait_until` futures registered.
    pub wait_until_registered: u64,
    /// `wait_until` tasks settled (completed or cancelled).
    pub wait_until_settled: u64,
    /// Tasks still running when their event's session ended: cancelled and logged.
    pub leaked_tasks: u64,
    /// Events in flight when the platform reset their object (a failed storage write, a failed
    /// `block_concurrency_while`): their code never continues, so their sessions were ended
    /// when the object's next instance was built.
    pub abandoned_events: u64,
}

impl CloudflareDurableObjectStats {
    /// The counters of this isolate so far.
    pub fn current() -> Self {
        OBJECT_STATS.with(Cell::get)
    }

    fn update(change: impl FnOnce(&mut Self)) {
        OBJECT_STATS.with(|stats| {
            let mut value = stats.get();
            change(&mut value);
            stats.set(value);
        });
    }
}

thread_local! {
    static OBJECT_STATS: Cell<CloudflareDurableObjectStats> =
        Cell::new(CloudflareDurableObjectStats::default());
    /// The live instance of each object of this isolate, by id: a new instance of an object
    /// means the platform reset the previous one, whose events will never continue.
    static INSTANCES: RefCell<FxHashMap<String, std::rc::Weak<ObjectState>>> =
        RefCell::default();
}

impl std::fmt::Debug for CloudflareDurableObjectState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareDurableObjectState")
            .field("id", &self.object.id)
            .finish_non_exhaustive()
    }
}

impl CloudflareDurableObjectState {
    /// Wraps the object's `state` (what workers-rs hands the `#[durable_object]` struct's
    /// `new`); its events will be sessions of `scheduler`.
    pub fn new(scheduler: Arc<WorkerdScheduler>, state: worker::State) -> Self {
        let id = {
            let id = state.id();
            DurableObjectId::new(id.to_string(), id.name())
        };
        let raw = state
            .as_raw()
            .storage()
            .expect("a Durable Object's state has storage");
        let storage = DurableObjectStorage::new(Rc::new(WorkerdStorage {
            raw,
            scheduler: scheduler.clone(),
        }));
        let object = Rc::new(ObjectState {
            scheduler,
            id,
            storage,
            state,
            events: RefCell::default(),
        });
        let previous = INSTANCES.with(|instances| {
            instances
                .borrow_mut()
                .insert(object.id.as_hex().to_string(), Rc::downgrade(&object))
        });
        if let Some(previous) = previous.and_then(|previous| previous.upgrade()) {
            previous.abandon();
        }
        Self { object }
    }

    /// The wrapped workers-rs state, for the rest of its API (WebSockets, SQL, containers).
    pub fn state(&self) -> &worker::State {
        &self.object.state
    }

    /// The scheduler the object's events run on.
    pub fn scheduler(&self) -> &Arc<WorkerdScheduler> {
        &self.object.scheduler
    }

    /// Runs one event of the object (`event` names it in logs: `"fetch"`, `"alarm"`) as a new
    /// session: `handler` runs as a task of it and its output is returned. Once it has
    /// answered and its `wait_until` work has settled, the session ends; tasks it left running
    /// are cancelled and logged, naming the object. Call it from the `#[durable_object]`
    /// struct's handlers (the session's wakes are anchored in the event's I/O context).
    #[track_caller]
    pub fn serve<F>(
        &self,
        event: &'static str,
        handler: F,
    ) -> impl Future<Output = F::Output> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let object = self.object.clone();
        let session = object.scheduler.create_session();
        let record = Rc::new(Event {
            session,
            kind: event,
            pending: Cell::new(0),
            responded: Cell::new(false),
            ended: Cell::new(false),
            cancel_handler: RefCell::default(),
        });
        object.events.borrow_mut().insert(session, record.clone());
        CloudflareDurableObjectStats::update(|stats| stats.events += 1);
        let scheduler: Arc<dyn Scheduler> = object.scheduler.clone();
        let task = session::with(Some(session), || scheduler.spawn_foreground(handler));
        // The handle is shared with the event's record, so that an abandoned event's handler
        // (waiting on a promise of the reset instance, which never settles) can be cancelled.
        let task = Rc::new(RefCell::new(Some(task)));
        let shared = task.clone();
        *record.cancel_handler.borrow_mut() = Some(Box::new(move || {
            let task = shared.borrow_mut().take();
            drop(task);
        }));
        async move {
            // Answers however this future ends (with the output, or dropped because the caller
            // went away); the session ends once its `wait_until` work has settled.
            let _respond = RespondOnDrop(object, record);
            std::future::poll_fn(|cx| match task.borrow_mut().as_mut() {
                Some(task) => std::pin::Pin::new(task).poll(cx),
                // Cancelled: the event was abandoned, and nobody waits for this any more.
                None => std::task::Poll::Pending,
            })
            .await
        }
    }
}

impl CloudflareDurableObjectState {
    /// Serves a `fetch` event sent by a [`CloudflareDurableObjectNamespace`]: decodes the
    /// request's body as the handler's request, runs `handler.fetch` as the event's session
    /// ([`serve`](Self::serve)) and answers 200 with its response, encoded. A body that cannot
    /// be read or decoded is answered 400, naming why, without running the handler. Call it
    /// from the `#[durable_object]` struct's `fetch`:
    ///
    /// ```ignore
    /// async fn fetch(&self, request: Request) -> Result<Response> {
    ///     self.state.serve_fetch(self.counter.clone(), request).await
    /// }
    /// ```
    pub async fn serve_fetch<H>(
        &self,
        handler: Rc<H>,
        mut request: worker::Request,
    ) -> worker::Result<worker::Response>
    where
        H: DurableObjectHandler,
        H::Request: DurableObjectMessage,
        H::Response: DurableObjectMessage,
    {
        // Read in the event's own context, before its session starts.
        let decoded = match request.bytes().await {
            Ok(bytes) => H::Request::from_bytes(bytes),
            Err(error) => Err(format!("its body could not be read: {error}")),
        };
        let message = match decoded {
            Ok(message) => message,
            Err(error) => {
                return worker::Response::error(
                    format!(
                        "durable object {}: not a request of this object: {error}",
                        self.object.id.short()
                    ),
                    400,
                );
            }
        };
        let response = self
            .serve("fetch", async move { handler.fetch(message).await })
            .await;
        worker::Response::from_bytes(response.to_bytes())
    }
}

impl ObjectState {
    /// The platform replaced this instance (it reset the object): its events in flight will
    /// never continue, so their sessions end now (their tasks are cancelled and logged).
    fn abandon(&self) {
        let events: Vec<Rc<Event>> = self.events.borrow().values().cloned().collect();
        if events.is_empty() {
            return;
        }
        log_error(&format!(
            "scheduler: durable object {} ({}) was reset by the platform with {} events in \
             flight; their sessions end now",
            self.id.short(),
            self.id,
            events.len()
        ));
        CloudflareDurableObjectStats::update(|stats| {
            stats.abandoned_events += events.len() as u64;
        });
        for event in events {
            if !event.ended.replace(true) {
                self.end_session(&event, true);
            }
            // Its handler may wait forever on a promise the reset instance left: dropped now
            // (ending the session doomed it, so its runnable is discarded, not run).
            event.cancel_handler();
        }
    }

    /// Ends `event`'s session once it has answered and no `wait_until` task is pending.
    fn end_if_settled(&self, event: &Event) {
        if !event.responded.get() || event.pending.get() > 0 || event.ended.replace(true) {
            return;
        }
        self.end_session(event, false);
    }

    /// Ends `event`'s session: what still runs is cancelled and logged. The tasks of an
    /// `abandoned` event are its own work, cut short by the platform: not counted as leaks.
    fn end_session(&self, event: &Event, abandoned: bool) {
        self.events.borrow_mut().remove(&event.session);
        let end: SessionEnd = self.scheduler.wasm().end_session(event.session, &[]);
        self.scheduler.forget_session(event.session);
        let leaked = if abandoned {
            0
        } else {
            end.cancelled.len() as u64
        };
        if leaked > 0 {
            log_error(&format!(
                "scheduler: {} was the {} event of durable object {} ({}); its {leaked} \
                 leftover tasks were cancelled",
                event.session,
                event.kind,
                self.id.short(),
                self.id
            ));
        }
        CloudflareDurableObjectStats::update(|stats| {
            stats.sessions_ended += 1;
            stats.leaked_tasks += leaked;
        });
    }
}

/// Marks the event as answered when dropped, and ends its session if nothing is pending.
struct RespondOnDrop(Rc<ObjectState>, Rc<Event>);

impl Drop for RespondOnDrop {
    fn drop(&mut self) {
        // The handler's task, if the caller went away before it finished, is cancelled (its
        // handle is dropped), as it would be if the serving future held it.
        self.1.cancel_handler();
        self.1.responded.set(true);
        self.0.end_if_settled(&self.1);
    }
}

impl DurableObjectState for CloudflareDurableObjectState {
    fn id(&self) -> DurableObjectId {
        self.object.id.clone()
    }

    fn storage(&self) -> DurableObjectStorage {
        self.object.storage.clone()
    }

    /// Runs `future` as a task of the current event's session (or of no session, outside an
    /// event) and hands `ctx.waitUntil` a promise that settles when the task ends.
    #[track_caller]
    fn wait_until_boxed(&self, future: LocalFuture) {
        let location = Location::caller();
        let object = self.object.clone();
        let session = session::current();
        let event = session.and_then(|session| object.events.borrow().get(&session).cloned());
        CloudflareDurableObjectStats::update(|stats| stats.wait_until_registered += 1);
        if let Some(event) = &event {
            event.pending.set(event.pending.get() + 1);
        }
        let (promise, resolve, reject) = settled_promise();
        let scheduler: Arc<dyn Scheduler> = object.scheduler.clone();
        let work = scheduler.spawn_foreground(future);
        let watcher = {
            let object = object.clone();
            async move {
                let completed = work.fallible().await.is_some();
                CloudflareDurableObjectStats::update(|stats| stats.wait_until_settled += 1);
                if completed {
                    let _ = resolve.call0(&JsValue::UNDEFINED);
                } else {
                    let message = format!("wait_until spawned at {location} was cancelled");
                    log_error(&format!("scheduler: {message}"));
                    let _ = reject.call1(&JsValue::UNDEFINED, &js_sys::Error::new(&message));
                }
                if let Some(event) = event {
                    event.pending.set(event.pending.get().saturating_sub(1));
                    object.end_if_settled(&event);
                }
            }
        };
        // Outside any session, so ending the event's session never cancels it.
        session::with(None, || scheduler.spawn_foreground(watcher)).detach();
        if let Err(error) = object.state.as_raw().wait_until(&promise) {
            log_error(&format!(
                "scheduler: ctx.waitUntil refused the promise of the wait_until at {location}: \
                 {}",
                describe(&error)
            ));
        }
    }

    /// Calls workers-rs's `block_concurrency_while` (the gate closes at this call) with a
    /// future that runs `future` as a task of the current session.
    fn block_concurrency_while_boxed(
        &self,
        future: LocalBoxFuture<Result<(), String>>,
    ) -> LocalBoxFuture<Result<(), DurableObjectFailure>> {
        let scheduler: Arc<dyn Scheduler> = self.object.scheduler.clone();
        let session = session::current();
        let done = self.object.state.block_concurrency_while(async move {
            let task = session::with(session, || scheduler.spawn_foreground(future));
            task.await.map_err(worker::Error::RustError)
        });
        Box::pin(async move {
            done.await
                .map_err(|error| DurableObjectFailure::Reset(error.to_string()))
        })
    }
}

/// The URL of the `fetch` a [`CloudflareDurableObjectNamespace`] sends an object (the object
/// reads only the body; the platform needs an absolute URL).
const OBJECT_URL: &str = "https://durable-object.invalid/fetch";

/// The Worker's side of a Durable Object class on workerd: workers-rs's `ObjectNamespace` (the
/// binding, `env.durable_object("COUNTER")?`) as a [`DurableObjectNamespace`], so the Worker's
/// code that sends requests to objects is the code its simulation tests run over a
/// [`SimulatedDurableObjectNamespace`](super::SimulatedDurableObjectNamespace).
///
/// [`send`](DurableObjectNamespace::send) encodes the request ([`DurableObjectMessage`]) as
/// the body of a `POST` and calls the platform's `stub.fetch` at once (a request is sent by the
/// call, as in simulation); the object's glue answers it with
/// [`CloudflareDurableObjectState::serve_fetch`]. Every way the exchange can fail (the
/// `fetch` threw because the object was reset or is overloaded, a status other than 200, a
/// response that cannot be decoded) is a [`DurableObjectFailure::Unanswered`], after which
/// the request may still have taken effect.
///
/// ```ignore
/// let counters: Rc<dyn DurableObjectNamespace<Request = Add, Response = Total>> =
///     Rc::new(CloudflareDurableObjectNamespace::new(env.durable_object("COUNTER")?));
/// let total = counters.send("click", Add(1)).await?;
/// ```
pub struct CloudflareDurableObjectNamespace<Request, Response> {
    namespace: worker::ObjectNamespace,
    messages: PhantomData<fn(Request) -> Response>,
}

impl<Request, Response> Clone for CloudflareDurableObjectNamespace<Request, Response> {
    fn clone(&self) -> Self {
        Self {
            namespace: self.namespace.clone(),
            messages: PhantomData,
        }
    }
}

impl<Request, Response> std::fmt::Debug for CloudflareDurableObjectNamespace<Request, Response> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareDurableObjectNamespace")
            .finish_non_exhaustive()
    }
}

impl<Request, Response> CloudflareDurableObjectNamespace<Request, Response> {
    /// Wraps the binding `namespace` (`env.durable_object(name)?`).
    pub fn new(namespace: worker::ObjectNamespace) -> Self {
        Self {
            namespace,
            messages: PhantomData,
        }
    }

    /// The wrapped workers-rs namespace, for the rest of its API (ids, location hints).
    pub fn inner(&self) -> &worker::ObjectNamespace {
        &self.namespace
    }

    /// Calls `stub.fetch` on the object named `name` with `body`: the platform's promise.
    fn issue(&self, name: &str, body: &[u8]) -> Result<Promise, DurableObjectFailure> {
        let unanswered = |what: &str, error: &dyn std::fmt::Display| {
            DurableObjectFailure::Unanswered(format!("{what} (object {name:?}): {error}"))
        };
        let stub = self
            .namespace
            .get_by_name(name)
            .map_err(|error| unanswered("no stub", &error))?;
        let mut init = worker::RequestInit::new();
        init.with_method(worker::Method::Post)
            .with_body(Some(Uint8Array::from(body).into()));
        let request = worker::Request::new_with_init(OBJECT_URL, &init)
            .map_err(|error| unanswered("the request could not be built", &error))?;
        let raw: worker::worker_sys::DurableObject = stub.into_rpc();
        raw.fetch_with_request(request.inner())
            .map_err(|error| unanswered("stub.fetch threw", &describe(&error)))
    }
}

impl<Request, Response> DurableObjectNamespace
    for CloudflareDurableObjectNamespace<Request, Response>
where
    Request: DurableObjectMessage + 'static,
    Response: DurableObjectMessage + 'static,
{
    type Request = Request;
    type Response = Response;

    fn send(
        &self,
        name: &str,
        request: Request,
    ) -> LocalBoxFuture<Result<Response, DurableObjectFailure>> {
        let sent = self.issue(name, &request.to_bytes());
        let name = name.to_string();
        Box::pin(async move {
            let unanswered = |what: String| {
                DurableObjectFailure::Unanswered(format!("{what} (object {name:?})"))
            };
            let response = JsFuture::from(sent?)
                .await
                .map_err(|error| unanswered(format!("stub.fetch failed: {}", describe(&error))))?;
            let response: worker::web_sys::Response = response
                .dyn_into()
                .map_err(|value| unanswered(format!("not a Response: {}", describe(&value))))?;
            let mut response = worker::Response::from(response);
            let status = response.status_code();
            let bytes = response
                .bytes()
                .await
                .map_err(|error| unanswered(format!("its response broke off: {error}")))?;
            if status != 200 {
                let text = String::from_utf8_lossy(&bytes);
                return Err(unanswered(format!("the object answered {status}: {text}")));
            }
            Response::from_bytes(bytes)
                .map_err(|error| unanswered(format!("its response cannot be decoded: {error}")))
        })
    }
}

/// A promise and its `resolve` and `reject` functions.
fn settled_promise() -> (Promise, Function, Function) {
    let mut functions = None;
    // Unwind-safe as asserted: the executor only stores the two functions.
    let mut slot = std::panic::AssertUnwindSafe(&mut functions);
    let promise = Promise::new(&mut move |resolve, reject| **slot = Some((resolve, reject)));
    let (resolve, reject) = functions.expect("the Promise executor runs synchronously");
    (promise, resolve, reject)
}

fn log_error(message: &str) {
    worker::console_error!("{message}");
}

/// A JS error's message (or the value printed).
fn describe(error: &JsValue) -> String {
    if let Some(error) = error.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}

fn failed(error: JsValue) -> StorageError {
    StorageError::Failed(describe(&error))
}

/// Awaits a storage call's promise.
async fn settle(call: Result<Promise, JsValue>) -> Result<JsValue, StorageError> {
    JsFuture::from(call.map_err(failed)?).await.map_err(failed)
}

/// A stored value as bytes: a `Uint8Array` or `ArrayBuffer` as is, a string (written by
/// JavaScript) as UTF-8; `undefined` is no value.
fn stored_bytes(key: &str, value: JsValue) -> Result<Option<Vec<u8>>, StorageError> {
    if value.is_undefined() {
        return Ok(None);
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(Some(bytes.to_vec()));
    }
    if value.is_instance_of::<js_sys::ArrayBuffer>() {
        return Ok(Some(Uint8Array::new(&value).to_vec()));
    }
    if let Some(text) = value.as_string() {
        return Ok(Some(text.into_bytes()));
    }
    Err(StorageError::Decode {
        key: key.to_string(),
        message: format!("not bytes or a string: {}", describe(&value)),
    })
}

/// The platform's `list` options object.
fn list_options(options: &ListOptions) -> Object {
    let object = Object::new();
    let set = |name: &str, value: JsValue| {
        let _ = Reflect::set(&object, &JsValue::from_str(name), &value);
    };
    if let Some(start) = &options.start {
        set("start", JsValue::from_str(start));
    }
    if let Some(end) = &options.end {
        set("end", JsValue::from_str(end));
    }
    if let Some(prefix) = &options.prefix {
        set("prefix", JsValue::from_str(prefix));
    }
    if options.reverse {
        set("reverse", JsValue::TRUE);
    }
    if let Some(limit) = options.limit {
        set("limit", JsValue::from_f64(limit as f64));
    }
    object
}

/// The entries of a listing's `Map`, in its order.
fn entries(map: JsValue) -> Result<Entries, StorageError> {
    let map: js_sys::Map = map.dyn_into().map_err(failed)?;
    let mut out = Vec::new();
    let mut problem = None;
    map.for_each(&mut |value, key| {
        let key = key.as_string().unwrap_or_default();
        match stored_bytes(&key, value) {
            Ok(Some(bytes)) => out.push((key, bytes)),
            Ok(None) => {}
            Err(error) => problem = Some(error),
        }
    });
    match problem {
        Some(error) => Err(error),
        None => Ok(out),
    }
}

fn millis_since_epoch(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_millis() as f64)
}

/// The platform's storage (`ctx.storage`), on bytes.
struct WorkerdStorage {
    raw: RawStorage,
    scheduler: Arc<WorkerdScheduler>,
}

impl KeyValueBackend for WorkerdStorage {
    fn get(&self, key: &str) -> LocalBoxFuture<Result<Option<Vec<u8>>, StorageError>> {
        let call = self.raw.get(key);
        let key = key.to_string();
        Box::pin(async move { stored_bytes(&key, settle(call).await?) })
    }

    fn put(&self, key: &str, value: Vec<u8>) -> LocalBoxFuture<Result<(), StorageError>> {
        if let Err(error) = check_key(key) {
            return Box::pin(std::future::ready(Err(error)));
        }
        let call = self.raw.put(key, Uint8Array::from(&value[..]).into());
        Box::pin(async move { settle(call).await.map(drop) })
    }

    fn delete(&self, key: &str) -> LocalBoxFuture<Result<bool, StorageError>> {
        let call = self.raw.delete(key);
        Box::pin(async move { Ok(settle(call).await?.as_bool().unwrap_or(false)) })
    }

    fn list(&self, options: ListOptions) -> LocalBoxFuture<Result<Entries, StorageError>> {
        let call = self.raw.list_with_options(list_options(&options));
        Box::pin(async move { entries(settle(call).await?) })
    }
}

impl StorageBackend for WorkerdStorage {
    /// Calls the platform's `transaction` with a callback that runs `body` as a task of the
    /// current session; an `Err` from `body` aborts the transaction and is returned as is.
    fn transaction(&self, body: TransactionBody) -> LocalBoxFuture<Result<(), StorageError>> {
        let session = session::current();
        let failure: Rc<RefCell<Option<StorageError>>> = Rc::default();
        let body = RefCell::new(Some(body));
        let recorded = failure.clone();
        let scheduler: Arc<dyn Scheduler> = self.scheduler.clone();
        // Unwind-safe as asserted (a `panic = "unwind"` build requires it): the body runs as a
        // task, whose wrapper catches its panics; the closure's own state is a taken `Option`.
        let callback = Closure::<dyn FnMut(RawTransaction) -> Promise>::own_assert_unwind_safe(
            move |raw: RawTransaction| {
                let Some(body) = body.borrow_mut().take() else {
                    return Promise::reject(&JsValue::from_str("the transaction ran twice"));
                };
                let transaction = DurableObjectTransaction::new(Rc::new(WorkerdTransaction {
                    raw,
                    rolled_back: Cell::new(false),
                }));
                let task = session::with(session, || scheduler.spawn_foreground(body(transaction)));
                let recorded = recorded.clone();
                future_to_promise(std::panic::AssertUnwindSafe(async move {
                    match task.await {
                        Ok(()) => Ok(JsValue::UNDEFINED),
                        Err(error) => {
                            let message = error.to_string();
                            *recorded.borrow_mut() = Some(error);
                            Err(js_sys::Error::new(&message).into())
                        }
                    }
                }))
            },
        );
        let call = self.raw.transaction(&callback);
        Box::pin(async move {
            let result = settle(call).await;
            drop(callback); // kept alive until the platform is done with it
            match result {
                Ok(_) => Ok(()),
                Err(error) => Err(failure.borrow_mut().take().unwrap_or(error)),
            }
        })
    }

    fn sync(&self) -> LocalBoxFuture<Result<(), StorageError>> {
        let call = self.raw.sync();
        Box::pin(async move { settle(call).await.map(drop) })
    }

    fn get_alarm(&self) -> LocalBoxFuture<Result<Option<SystemTime>, StorageError>> {
        let call = self.raw.get_alarm(Object::new());
        Box::pin(async move {
            let value = settle(call).await?;
            Ok(value.as_f64().map(|millis| {
                SystemTime::UNIX_EPOCH + Duration::from_millis(millis.max(0.0) as u64)
            }))
        })
    }

    fn set_alarm(&self, at: SystemTime) -> LocalBoxFuture<Result<(), StorageError>> {
        let date = js_sys::Date::new(&JsValue::from_f64(millis_since_epoch(at)));
        let call = self.raw.set_alarm(date, Object::new());
        Box::pin(async move { settle(call).await.map(drop) })
    }

    fn delete_alarm(&self) -> LocalBoxFuture<Result<(), StorageError>> {
        let call = self.raw.delete_alarm(Object::new());
        Box::pin(async move { settle(call).await.map(drop) })
    }

    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The platform's transaction object (`txn`), on bytes.
struct WorkerdTransaction {
    raw: RawTransaction,
    rolled_back: Cell<bool>,
}

impl WorkerdTransaction {
    fn check(&self) -> Result<(), StorageError> {
        if self.rolled_back.get() {
            return Err(StorageError::Invalid(
                "the transaction was rolled back".into(),
            ));
        }
        Ok(())
    }
}

impl KeyValueBackend for WorkerdTransaction {
    fn get(&self, key: &str) -> LocalBoxFuture<Result<Option<Vec<u8>>, StorageError>> {
        if let Err(error) = self.check() {
            return Box::pin(std::future::ready(Err(error)));
        }
        let call = self.raw.get(key);
        let key = key.to_string();
        Box::pin(async move { stored_bytes(&key, settle(call).await?) })
    }

    fn put(&self, key: &str, value: Vec<u8>) -> LocalBoxFuture<Result<(), StorageError>> {
        if let Err(error) = self.check().and_then(|()| check_key(key)) {
            return Box::pin(std::future::ready(Err(error)));
        }
        let call = self.raw.put(key, Uint8Array::from(&value[..]).into());
        Box::pin(async move { settle(call).await.map(drop) })
    }

    fn delete(&self, key: &str) -> LocalBoxFuture<Result<bool, StorageError>> {
        if let Err(error) = self.check() {
            return Box::pin(std::future::ready(Err(error)));
        }
        let call = self.raw.delete(key);
        Box::pin(async move { Ok(settle(call).await?.as_bool().unwrap_or(false)) })
    }

    fn list(&self, options: ListOptions) -> LocalBoxFuture<Result<Entries, StorageError>> {
        if let Err(error) = self.check() {
            return Box::pin(std::future::ready(Err(error)));
        }
        let call = self.raw.list_with_options(list_options(&options));
        Box::pin(async move { entries(settle(call).await?) })
    }
}

impl TransactionBackend for WorkerdTransaction {
    fn rollback(&self) -> Result<(), StorageError> {
        self.check()?;
        self.raw.rollback().map_err(failed)?;
        self.rolled_back.set(true);
        Ok(())
    }
}
