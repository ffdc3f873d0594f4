//! The benchmark peer: the same handlers with their subtasks, timers and `wait_until` work on
//! plain `wasm_bindgen_futures::spawn_local` (wasm-bindgen-futures' own microtask queue)
//! instead of the WasmScheduler: what a Worker gets without this crate. Used only by the
//! `/peer` routes: the ingest routes here, `/peer/fanout` in `bench.rs`.
//!
//! The peer's ingest service keeps its KV entries under `peer/`, so its counters never race
//! with the app's; no faults are injected into it.

use super::bench;
use super::fanout::FanoutRuntime;
use crate::http::{self, MAX_BODY_BYTES};
use crate::isolate::{self, Service};
use futures::channel::oneshot;
use scheduler::cloud::{ExecutionContext, LocalFuture, SchedulerRuntime};
use scheduler::{Instant, Runnable, Scheduler, Unparker};
use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use wasm_bindgen_futures::spawn_local;
use worker::{Context, Env, Request, Response, Result, RouteContext};

thread_local! {
    static PEER_SERVICE: OnceCell<Service> = const { OnceCell::new() };
}

/// The ingest handler for the `/peer` routes, its subtasks on `spawn_local`.
fn service(env: &Env) -> Result<Service> {
    let runtime = SchedulerRuntime::new(Arc::new(SpawnLocalScheduler));
    isolate::cached_service(&PEER_SERVICE, env, runtime, "peer/", None)
}

/// `POST /peer/events`: `POST /events` on `spawn_local`.
pub async fn post_event(mut request: Request, route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let body = match http::read_json_body(&mut request, MAX_BODY_BYTES).await? {
        Ok(body) => body,
        Err(rejection) => return Ok(rejection),
    };
    let service = service(&route.env)?;
    let ctx = SpawnLocalContext::new(route.data);
    let response = service.ingest(&ctx, &body);
    if response.accepted_id().is_some() {
        bench::ingest_accepted(true);
    }
    http::to_response(&response)
}

/// `GET /peer/events/{id}`: `GET /events/{id}` on `spawn_local`.
pub async fn get_event(request: Request, route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let id = route.param("id").cloned().unwrap_or_default();
    http::to_response(&service(&route.env)?.event(&id).await)
}

/// `GET /peer/counts/{type}`: `GET /counts/{type}` on `spawn_local`.
pub async fn get_count(request: Request, route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let kind = route.param("type").cloned().unwrap_or_default();
    http::to_response(&service(&route.env)?.count(&kind).await)
}

/// A [`Scheduler`] that hands every runnable straight to `spawn_local`, and timers to
/// `setTimeout` (`worker::Delay`) then `spawn_local`. No sessions, no fairness, no counters:
/// exactly what a Worker gets without this crate.
pub struct SpawnLocalScheduler;

impl Scheduler for SpawnLocalScheduler {
    fn schedule(&self, runnable: Runnable) {
        spawn_local(async move {
            runnable.run();
        });
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.schedule(runnable);
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        spawn_local(async move {
            worker::Delay::from(delay).await;
            runnable.run();
        });
    }

    fn park(&self, _timeout: Option<Duration>) -> bool {
        panic!("SpawnLocalScheduler cannot block: a Worker has one JS thread; `.await` instead");
    }

    fn unparker(&self) -> Unparker {
        parking::pair().1
    }

    fn is_main_thread(&self) -> bool {
        true
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn num_cpus(&self) -> usize {
        1
    }
}

/// `worker::Context` as an [`ExecutionContext`], as workers-rs does it: `wait_until` turns the
/// future into a promise with `future_to_promise`, which runs it on `spawn_local`.
pub struct SpawnLocalContext {
    context: Context,
}

impl SpawnLocalContext {
    /// Wraps the fetch event's context.
    pub fn new(context: Context) -> Self {
        Self { context }
    }
}

/// How often a `wait_until` promise checks, on a timer of its own request, whether its future
/// has finished (see [`SpawnLocalContext::wait_until_boxed`]).
const SETTLE_TICK: Duration = Duration::from_millis(50);

impl ExecutionContext for SpawnLocalContext {
    /// Runs `future` on `spawn_local`; the promise handed to `ctx.waitUntil` settles in this
    /// request's own context. A `spawn_local` future runs in the context of whatever event woke
    /// it: when another request's event finishes it (the ingest counters wake waiters across
    /// requests), a promise settled right there is settled from that other request's context,
    /// and workerd then gives up on it ("Uncaught Error: Promise will never complete") unless it
    /// defers the settling to the promise's own context, which it was seen not to do under
    /// sustained load (see `WorkerdScheduler`). So the future only raises a flag; the promise's
    /// own future, woken only from this request's context, looks at it: twice through the
    /// microtask queue (a job that ends in this request's own event settles at once), then on a
    /// timer armed here every [`SETTLE_TICK`] (as the WorkerdScheduler's sessions do with their
    /// tick).
    fn wait_until_boxed(&self, future: LocalFuture) {
        let done = Rc::new(Cell::new(false));
        let finished = done.clone();
        spawn_local(async move {
            future.await;
            finished.set(true);
        });
        self.context.wait_until(async move {
            for _ in 0..2 {
                if done.get() {
                    return;
                }
                yield_once().await;
            }
            while !done.get() {
                worker::Delay::from(SETTLE_TICK).await;
            }
        });
    }

    fn pass_through_on_exception(&self) {
        self.context.pass_through_on_exception();
    }
}

/// The peer's platform: subtasks on `spawn_local` (their output through a oneshot channel),
/// timers on `setTimeout` (`worker::Delay`). What a Worker gets without this crate.
#[derive(Clone, Copy)]
pub struct SpawnLocalRuntime;

impl FanoutRuntime for SpawnLocalRuntime {
    type Handle<T: 'static> = SpawnLocalHandle<T>;

    fn spawn<F>(&self, future: F) -> SpawnLocalHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let (sender, receiver) = oneshot::channel();
        spawn_local(async move {
            let _ = sender.send(future.await);
        });
        SpawnLocalHandle(receiver)
    }

    fn delay(&self, duration: Duration) -> impl Future<Output = ()> + 'static {
        worker::Delay::from(duration)
    }
}

/// The output of a subtask spawned with `spawn_local`.
pub struct SpawnLocalHandle<T>(oneshot::Receiver<T>);

impl<T> Future for SpawnLocalHandle<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|output| output.expect("a spawn_local subtask ran to completion"))
    }
}

/// Wakes itself once, then completes: one trip through `spawn_local`'s microtask queue, in the
/// context of the event being handled.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}
