//! [`CloudflareExecutionContext`]: the [`ExecutionContext`] of a real Worker (wasm32, feature
//! `cloudflare`), wrapping `worker::Context` and running every task of a request as one session
//! of the [`WasmScheduler`](crate::platform::wasm::WasmScheduler).
//!
//! Life of a request:
//! 1. [`CloudflareExecutionContext::new`] opens a session of the scheduler.
//! 2. [`serve`](CloudflareExecutionContext::serve) runs the handler as a task of that session;
//!    every task it spawns (directly, through executors, or through [`PlatformRuntime`]) belongs
//!    to the session too.
//! 3. [`wait_until`](ExecutionContext::wait_until) runs its future as a task of the session and
//!    hands the runtime one promise that settles when that task ends: it resolves when the
//!    future completes and rejects (logged with `console.error`) if the task is cancelled.
//! 4. Once the response is out and every `wait_until` task has settled, the session ends: tasks
//!    still running are cancelled and each is logged with `console.error` (id, label, spawn
//!    location) by
//!    [`WasmScheduler::end_session`](crate::platform::wasm::WasmScheduler::end_session), instead of leaking into later requests.
//!
//! A panicking handler (built with `panic = "unwind"`) fails only its own request, as
//! [`SimulatedExecutionContext::serve`](super::SimulatedExecutionContext::serve) promises:
//! `serve` returns the failure ([`RequestFailed`]: the handler's task, its spawn location and
//! the panic) for the Worker to answer (`worker::Response::from(failed)` is a 500 with it as
//! JSON), logs it, counts it, and the session ends as usual once its `wait_until` work has
//! settled. Every other request, task and the isolate's state carry on.
//! Under `panic = "abort"` the panic ends the wasm instance instead; the next instance reports
//! how many requests died with it ([`CloudflareExecutionContext::new`] logs it once,
//! [`CloudflareStats`] counts it).
//!
//! [`PlatformRuntime`]: super::PlatformRuntime

use super::execution_context::{ExecutionContext, LocalFuture};
use super::{RequestFailed, RequestFailure};
use crate::platform::wasm::SessionEnd;
use crate::platform::wasm::WorkerdScheduler;
use crate::platform::wasm::{self as wasm_platform, InstanceReset};
use crate::task::Unfinished;
use crate::{Scheduler, SessionId, TaskId, session};
use js_sys::{Function, Promise};
use std::cell::{Cell, RefCell};
use std::fmt::Display;
use std::future::Future;
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;
use wasm_bindgen::prelude::*;

/// The execution context of one fetch event: `worker::Context` plus the request's session on
/// the [`WasmScheduler`](crate::platform::wasm::WasmScheduler). Clones share the request.
///
/// ```ignore
/// #[event(fetch)]
/// async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
///     let ctx = CloudflareExecutionContext::new(scheduler(), ctx);
///     ctx.clone().serve(async move {
///         ctx.wait_until(async { /* after the response */ });
///         Response::ok("accepted")
///     }).await
/// }
/// ```
#[derive(Clone)]
pub struct CloudflareExecutionContext {
    request: Rc<Request>,
}

struct Request {
    scheduler: Arc<WorkerdScheduler>,
    context: worker::Context,
    session: SessionId,
    /// `wait_until` tasks not yet settled.
    pending: Cell<usize>,
    responded: Cell<bool>,
    /// The handler called `pass_through_on_exception`: a panic is re-raised (so the runtime
    /// forwards the request to the origin) instead of answered.
    pass_through: Cell<bool>,
    /// The handler's panic (task, spawn location and message), if it panicked.
    handler_panic: RefCell<Option<String>>,
    ended: RefCell<Option<SessionEnd>>,
    /// The `wait_until` settle tasks (tasks of the session, exempt when it ends).
    settlers: RefCell<Vec<TaskId>>,
}

/// What every [`CloudflareExecutionContext`] of this isolate did so far: requests, ended
/// sessions, `wait_until` work and leaked tasks. Generic, for monitoring (a Worker may serve
/// them on a stats route); application counters belong to the application.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloudflareStats {
    /// Requests served with [`CloudflareExecutionContext::serve`].
    pub requests: u64,
    /// Requests whose session has ended (response sent and `wait_until` work settled).
    pub sessions_ended: u64,
    /// `wait_until` futures registered.
    pub wait_until_registered: u64,
    /// `wait_until` tasks that completed.
    pub wait_until_completed: u64,
    /// `wait_until` tasks cancelled before completing (their promise was rejected).
    pub wait_until_cancelled: u64,
    /// `wait_until` futures that returned an error (see
    /// [`CloudflareExecutionContext::wait_until_result`]); their promise was rejected.
    pub wait_until_failed: u64,
    /// Tasks still running when their session ended: cancelled and logged.
    pub leaked_tasks: u64,
    /// Requests whose handler panicked (`panic = "unwind"`): each answered with its failure.
    pub handlers_panicked: u64,
    /// Earlier wasm instances of this isolate that died (a panic under `panic = "abort"`, or a
    /// hard abort) and were replaced; kept outside wasm memory, so it survives the resets.
    pub instance_resets: u64,
    /// Requests that were in flight on those instances and failed with them.
    pub requests_failed_by_resets: u64,
}

impl CloudflareStats {
    /// `wait_until` tasks registered and not yet settled.
    pub fn wait_until_pending(&self) -> u64 {
        self.wait_until_registered
            - self.wait_until_completed
            - self.wait_until_cancelled
            - self.wait_until_failed
    }

    /// The counters of this isolate so far.
    pub fn current() -> Self {
        let totals = wasm_platform::instance_totals();
        Self {
            instance_resets: totals.resets,
            requests_failed_by_resets: totals.requests_failed,
            ..STATS.with(Cell::get)
        }
    }

    fn update(change: impl FnOnce(&mut Self)) {
        STATS.with(|stats| {
            let mut value = stats.get();
            change(&mut value);
            stats.set(value);
        });
    }
}

thread_local! {
    static STATS: Cell<CloudflareStats> = Cell::new(CloudflareStats::default());
}

impl std::fmt::Debug for CloudflareExecutionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareExecutionContext")
            .field("session", &self.request.session)
            .finish_non_exhaustive()
    }
}

impl CloudflareExecutionContext {
    /// Wraps the fetch event's `context` and opens a new session of `scheduler` for it. Call it
    /// in the fetch handler (the session's wakes are anchored in the request's I/O context).
    ///
    /// The first call in a new wasm instance that replaced dead ones (see
    /// [`take_instance_reset`](Self::take_instance_reset)) logs the reset with
    /// `console.error`: how many instances died and how many requests in flight failed with
    /// them.
    pub fn new(scheduler: Arc<WorkerdScheduler>, context: worker::Context) -> Self {
        if let Some(reset) = Self::take_instance_reset() {
            log_error(&format!(
                "scheduler: this isolate's wasm instance was reset: {} earlier instance(s) \
                 died (a panic under panic = \"abort\", or a hard abort) with {} request(s) in \
                 flight, which failed with them",
                reset.instances, reset.requests_in_flight
            ));
        }
        let session = scheduler.create_session();
        wasm_platform::request_started_here();
        Self {
            request: Rc::new(Request {
                scheduler,
                context,
                session,
                pending: Cell::new(0),
                responded: Cell::new(false),
                pass_through: Cell::new(false),
                handler_panic: RefCell::default(),
                ended: RefCell::default(),
                settlers: RefCell::default(),
            }),
        }
    }

    /// The earlier wasm instances of this isolate that died before this one, once per
    /// instance (the first call of the instance answers; [`new`](Self::new) makes it and logs
    /// the answer, so later calls return `None`). See
    /// [`platform::wasm::take_reset`](crate::platform::wasm::take_reset).
    pub fn take_instance_reset() -> Option<InstanceReset> {
        wasm_platform::take_reset()
    }

    /// The handler's panic (`task#5 (session#2) spawned at src/lib.rs:9:5 panicked: boom`), if
    /// it panicked.
    pub fn handler_panic(&self) -> Option<String> {
        self.request.handler_panic.borrow().clone()
    }

    /// The request's session on the scheduler.
    pub fn session(&self) -> SessionId {
        self.request.session
    }

    /// The scheduler the request runs on.
    pub fn scheduler(&self) -> &Arc<WorkerdScheduler> {
        &self.request.scheduler
    }

    /// What ending the session did, once it has ended.
    pub fn session_end(&self) -> Option<SessionEnd> {
        self.request.ended.borrow().clone()
    }

    /// Runs `handler` (the part that produces the response) as a task of the request's session
    /// and returns its output. Afterwards the response counts as sent: once every `wait_until`
    /// task has settled too, the session ends and whatever it still runs is cancelled and
    /// logged.
    ///
    /// Returns `Ok(output)`, or `Err(RequestFailed)` if the handler panicked (built with
    /// `panic = "unwind"`): as with
    /// [`SimulatedExecutionContext::serve`](super::SimulatedExecutionContext::serve), only this
    /// request fails (cause [`RequestFailure::Panicked`], message naming the handler's task, its
    /// spawn location and the panic). The panic is logged with `console.error` and counted
    /// ([`CloudflareStats::handlers_panicked`], [`handler_panic`](Self::handler_panic), the
    /// session's [`SessionEnd::counters`]), and the session's `wait_until` work still settles.
    /// Answer the failure as the app answers errors, or with `worker::Response::from(failed)`
    /// (a 500 with the failure as JSON):
    ///
    /// ```ignore
    /// ctx.serve(handler).await.unwrap_or_else(|failed| Ok(failed.into()))
    /// ```
    ///
    /// If the handler called
    /// [`pass_through_on_exception`](ExecutionContext::pass_through_on_exception), the panic is
    /// re-raised instead, so that the runtime forwards the request to the origin.
    #[track_caller]
    pub fn serve<F>(
        self,
        handler: F,
    ) -> impl Future<Output = Result<F::Output, RequestFailed>> + 'static
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        CloudflareStats::update(|stats| stats.requests += 1);
        let scheduler: Arc<dyn Scheduler> = self.request.scheduler.clone();
        let task = {
            // Not `session::with`: a closure would hide the caller, and the handler's task is
            // named by where `serve` was called.
            let _session = session::enter(Some(self.request.session));
            scheduler.spawn_foreground(handler)
        };
        async move {
            // Responds however this future ends: with the handler's output, or dropped early
            // because the client went away (workerd then drops the fetch handler's future).
            // Either way the session ends once its `wait_until` work has settled.
            let _respond = RespondOnDrop(self.request.clone());
            match task.caught().await {
                Ok(output) => Ok(output),
                Err(Unfinished::Panicked(panicked)) => {
                    if self.request.pass_through.get() {
                        panicked.resume();
                    }
                    Err(self.request.handler_panicked(panicked.into_message()))
                }
                Err(Unfinished::Cancelled(handler)) => panic!(
                    "{handler} (the request's handler) was cancelled before it finished (its \
                     scheduler shut down)"
                ),
            }
        }
    }

    /// Like [`wait_until`](ExecutionContext::wait_until) for a fallible future: an error is
    /// logged with `console.error` and rejects the promise handed to the runtime (so the
    /// runtime reports it too); it is never swallowed.
    #[track_caller]
    pub fn wait_until_result<F, E>(&self, future: F)
    where
        F: Future<Output = Result<(), E>> + 'static,
        E: Display + 'static,
    {
        let location = Location::caller();
        self.request.clone().register(location, async move {
            future.await.map_err(|error| error.to_string())
        });
    }
}

impl ExecutionContext for CloudflareExecutionContext {
    /// Runs `future` as a task of the request's session and hands `ctx.waitUntil` a promise
    /// that settles when the task ends: resolved when it completes, rejected (and logged) if it
    /// is cancelled.
    #[track_caller]
    fn wait_until_boxed(&self, future: LocalFuture) {
        let location = Location::caller();
        self.request.clone().register(location, async move {
            future.await;
            Ok(())
        });
    }

    fn pass_through_on_exception(&self) {
        self.request.pass_through.set(true);
        self.request.context.pass_through_on_exception();
    }
}

impl Request {
    /// Records that the handler panicked (`message`: its task, spawn location and panic) and
    /// returns the request's failure.
    fn handler_panicked(&self, message: String) -> RequestFailed {
        CloudflareStats::update(|stats| stats.handlers_panicked += 1);
        let failed = RequestFailed {
            session: self.session,
            cause: RequestFailure::Panicked,
            message,
            passed_through: false,
        };
        log_error(&format!("scheduler: {failed}; answered with its failure"));
        *self.handler_panic.borrow_mut() = Some(failed.message.clone());
        failed
    }

    /// Runs `future` as a task of the session, and next to it a *settle* task of the session
    /// that waits for it, then settles the promise handed to `ctx.waitUntil` and ends the session
    /// if it was the last pending work. The settle task belongs to the session, so it runs in
    /// the request's own I/O context (a yield puts it in the session's continuation, never in a
    /// shared one armed by another request), and it is exempt when the session ends (it is the
    /// caller then, not a leak).
    fn register<F>(self: Rc<Self>, location: &'static Location<'static>, future: F)
    where
        F: Future<Output = Result<(), String>> + 'static,
    {
        CloudflareStats::update(|stats| stats.wait_until_registered += 1);
        self.pending.set(self.pending.get() + 1);
        let (promise, functions) = settled_promise();
        let mut settle = Settle {
            functions: Some(functions),
            location,
        };
        let scheduler: Arc<dyn Scheduler> = self.scheduler.clone();
        let request = self.clone();
        let settler = session::with(Some(self.session), || {
            let work = scheduler.spawn_foreground(future);
            scheduler.spawn_foreground(async move {
                // The work task has ended (and the scheduler counted it) once its handle is ready.
                let outcome = work.fallible().await;
                request.pending.set(request.pending.get() - 1);
                match outcome {
                    Some(Ok(())) => settle.resolve(),
                    Some(Err(error)) => settle.reject(&error),
                    None => settle.cancelled(),
                }
                request.end_session_if_settled();
            })
        });
        if let Some(id) = settler.id() {
            self.settlers.borrow_mut().push(id);
        }
        settler.detach();
        if let Err(error) = self.context.as_ref().wait_until(&promise) {
            log_error(&format!(
                "scheduler: ctx.waitUntil refused the promise of the wait_until at {location}: \
                 {error:?}"
            ));
        }
    }

    /// Ends the session once the response is out and no `wait_until` task is pending.
    fn end_session_if_settled(&self) {
        if !self.responded.get() || self.pending.get() > 0 || self.ended.borrow().is_some() {
            return;
        }
        // Every `wait_until` task has settled, so only the settle tasks are exempt (one of them
        // may be the caller): whatever else still runs is a leak. They never wait on a timer,
        // so the session's timers are cancelled as when nothing is exempt.
        let settlers = std::mem::take(&mut *self.settlers.borrow_mut());
        let end = self
            .scheduler
            .wasm()
            .end_session_cancelling_timers(self.session, &settlers);
        self.scheduler.forget_session(self.session);
        wasm_platform::request_ended_here();
        let leaked = end.cancelled.len() as u64;
        CloudflareStats::update(|stats| {
            stats.sessions_ended += 1;
            stats.leaked_tasks += leaked;
        });
        *self.ended.borrow_mut() = Some(end);
    }
}

/// Marks the request's response as sent when dropped, and ends the session if nothing else is
/// pending.
struct RespondOnDrop(Rc<Request>);

impl Drop for RespondOnDrop {
    fn drop(&mut self) {
        self.0.responded.set(true);
        self.0.end_session_if_settled();
    }
}

/// A promise and its `(resolve, reject)` functions.
fn settled_promise() -> (Promise, (Function, Function)) {
    let mut functions = None;
    let mut slot = std::panic::AssertUnwindSafe(&mut functions);
    let promise = Promise::new(&mut move |resolve, reject| **slot = Some((resolve, reject)));
    let functions = functions.expect("the Promise executor runs synchronously");
    (promise, functions)
}

/// Settles the promise of one `wait_until` task exactly once; if the task is dropped before it
/// completes (cancelled), rejects it and logs why.
struct Settle {
    functions: Option<(Function, Function)>,
    location: &'static Location<'static>,
}

impl Settle {
    fn resolve(&mut self) {
        if let Some((resolve, _)) = self.functions.take() {
            CloudflareStats::update(|stats| stats.wait_until_completed += 1);
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }

    fn reject(&mut self, error: &str) {
        if let Some((_, reject)) = self.functions.take() {
            CloudflareStats::update(|stats| stats.wait_until_failed += 1);
            let message = format!("wait_until spawned at {} failed: {error}", self.location);
            log_error(&format!("scheduler: {message}"));
            let _ = reject.call1(&JsValue::UNDEFINED, &js_sys::Error::new(&message));
        }
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        self.cancelled();
    }
}

impl Settle {
    fn cancelled(&mut self) {
        if let Some((_, reject)) = self.functions.take() {
            CloudflareStats::update(|stats| stats.wait_until_cancelled += 1);
            let message = format!(
                "wait_until spawned at {} was cancelled before it finished",
                self.location
            );
            log_error(&format!("scheduler: {message}"));
            let _ = reject.call1(&JsValue::UNDEFINED, &js_sys::Error::new(&message));
        }
    }
}

fn log_error(message: &str) {
    worker::console_error!("{message}");
}

/// A 500 answering a failed request, its JSON body naming the failure:
/// `{"status":"failed","cause":"panicked","session":"session#3","error":"task#5 (session#3)
/// spawned at src/lib.rs:9:5 panicked: boom"}`.
impl From<RequestFailed> for worker::Response {
    fn from(failed: RequestFailed) -> Self {
        let cause = match failed.cause {
            RequestFailure::Panicked => "panicked",
            RequestFailure::ClientDisconnected => "client disconnected",
            RequestFailure::IsolateReset => "isolate reset",
        };
        let object = js_sys::Object::new();
        for (key, value) in [
            ("status", "failed".to_string()),
            ("cause", cause.to_string()),
            ("session", failed.session.to_string()),
            ("error", failed.message),
        ] {
            // Setting a property on a fresh plain object cannot fail.
            let _ = js_sys::Reflect::set(&object, &key.into(), &value.into());
        }
        // A plain object of strings always stringifies.
        let body = js_sys::JSON::stringify(&object)
            .map(String::from)
            .unwrap_or_default();
        let headers = worker::Headers::new();
        // A valid header name and value: setting them cannot fail.
        let _ = headers.set("content-type", "application/json");
        worker::Response::builder()
            .with_status(500)
            .with_headers(headers)
            .fixed(body.into_bytes())
    }
}
