//! A Cloudflare Worker on the `scheduler` crate, to copy: a handler written once against
//! `scheduler::cloud`, tested natively over many seeds (`tests/handler.rs`), served by workerd
//! with every request one session of the isolate's `WorkerdScheduler`.
//!
//! - `POST /hello/{name}`: 202 `{"greeting":"hello, {name}"}` at once; the greeting is recorded
//!   afterwards, under `wait_until`.
//! - `GET /hello/{name}`: `{"name":…,"greeted":n}`, the greetings of `name` recorded so far.
//!
//! A bad name is a 400, another path a 404, another method a 405.

use scheduler::cloud::{ExecutionContext, PlatformRuntime};
use serde_json::{Value, json};
use std::{cell::RefCell, collections::HashMap, rc::Rc, time::Duration};

/// The longest name a route accepts.
pub const MAX_NAME_LEN: usize = 32;

/// How long the work after the response takes; it stands in for a store write or a
/// subrequest.
pub const FOLLOW_UP: Duration = Duration::from_millis(20);

/// An answer: an HTTP status code and a JSON body.
pub type Reply = (u16, Value);

/// The greetings recorded per name. In the Worker, this isolate's memory (one per isolate,
/// lost when it is evicted): keep state that must last in KV, D1 or a Durable Object.
#[derive(Clone, Default)]
pub struct Greetings(Rc<RefCell<HashMap<String, u64>>>);

/// `POST /hello/{name}`: answers at once and registers one `wait_until` job that records the
/// greeting after [`FOLLOW_UP`].
pub fn hello<R>(ctx: &impl ExecutionContext, runtime: R, greetings: &Greetings, name: &str) -> Reply
where
    R: PlatformRuntime + 'static,
{
    if let Err(rejection) = check_name(name) {
        return rejection;
    }
    let (greetings, recorded) = (greetings.clone(), name.to_string());
    ctx.wait_until(async move {
        runtime.delay(FOLLOW_UP).await;
        *greetings.0.borrow_mut().entry(recorded).or_default() += 1;
    });
    (202, json!({ "greeting": format!("hello, {name}") }))
}

/// `GET /hello/{name}`: the greetings of `name` recorded so far.
pub fn greeted(greetings: &Greetings, name: &str) -> Reply {
    if let Err(rejection) = check_name(name) {
        return rejection;
    }
    let count = greetings.0.borrow().get(name).copied().unwrap_or(0);
    (200, json!({ "name": name, "greeted": count }))
}

/// A name is 1 to [`MAX_NAME_LEN`] characters of `a-z`, `0-9` and `-`.
fn check_name(name: &str) -> Result<(), Reply> {
    let valid = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if name.is_empty() || name.len() > MAX_NAME_LEN || !valid {
        let error = format!("`name` must be 1 to {MAX_NAME_LEN} characters of a-z, 0-9 or `-`");
        return Err((
            400,
            json!({ "status": "rejected", "field": "name", "error": error }),
        ));
    }
    Ok(())
}

/// The Worker around the handler (wasm32 only).
#[cfg(target_arch = "wasm32")]
mod worker_glue {
    use super::{Greetings, Reply, greeted, hello};
    use scheduler::cloud::{CloudflareExecutionContext, SchedulerRuntime, WorkerdScheduler};
    use scheduler::platform::wasm::{WasmScheduler, WasmSchedulerConfig};
    use std::{sync::Arc, time::Duration};
    use worker::{Context, Env, Request, Response, Result, RouteContext, Router, event};

    thread_local! {
        /// One scheduler per isolate. workerd runs a callback in the I/O context of the
        /// request that armed it, so the scheduler must not yield to a macrotask that would
        /// run other requests' tasks there: each wake is drained where it happened.
        static SCHEDULER: Arc<WorkerdScheduler> = WorkerdScheduler::new(WasmScheduler::with_config(
            WasmSchedulerConfig {
                slice_budget: Duration::from_secs(3600),
                slice_max_runs: usize::MAX,
                ..WasmSchedulerConfig::default()
            },
        ));
        static GREETINGS: Greetings = Greetings::default();
    }

    #[event(fetch)]
    async fn fetch(request: Request, env: Env, context: Context) -> Result<Response> {
        Router::with_data(context)
            .post_async("/hello/:name", |_, route| serve(route, true))
            .get_async("/hello/:name", |_, route| serve(route, false))
            .run(request, env)
            .await
    }

    /// Runs the handler as one session of the isolate's scheduler.
    async fn serve(route: RouteContext<Context>, post: bool) -> Result<Response> {
        let name = route.param("name").cloned().unwrap_or_default();
        let scheduler = SCHEDULER.with(Arc::clone);
        let runtime = SchedulerRuntime::new(scheduler.clone());
        let greetings = GREETINGS.with(Greetings::clone);
        let ctx = CloudflareExecutionContext::new(scheduler, route.data);
        let handler_ctx = ctx.clone();
        let (status, body): Reply = ctx
            .serve(async move {
                if post {
                    hello(&handler_ctx, runtime, &greetings, &name)
                } else {
                    greeted(&greetings, &name)
                }
            })
            .await;
        Ok(Response::from_json(&body)?.with_status(status))
    }
}
