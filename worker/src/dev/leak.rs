//! `GET /debug/leak`: a handler that leaks a task on purpose (a detached task, outside
//! `wait_until`, waiting an hour), to show what the scheduler logs when a request ends with a
//! task still running. A dev route; it takes no query parameter.

use crate::http::{self, json_response};
use crate::isolate;
use scheduler::cloud::CloudflareExecutionContext;
use scheduler::{Scheduler, TaskLabel};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use worker::{Context, Request, Response, Result, RouteContext};

/// How long the leaked task would wait if nothing cancelled it.
const LEAKED_WAIT: Duration = Duration::from_secs(3600);

/// `GET /debug/leak`: runs [`leak`] as a session of the isolate's scheduler.
pub async fn get(request: Request, route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let ctx = CloudflareExecutionContext::new(isolate::scheduler(), route.data);
    ctx.serve(leak()).await
}

/// Spawns the leaky task (in the current request's session) and answers 200 with its id.
async fn leak() -> Result<Response> {
    let scheduler: Arc<dyn Scheduler> = isolate::scheduler();
    let timers = scheduler.clone();
    let leaked = scheduler.spawn_labeled(TaskLabel::named("debug-leak"), async move {
        timers.timer(LEAKED_WAIT).await;
    });
    let id = leaked.id().map(|id| id.as_u64());
    let spawned_at = leaked
        .metadata()
        .map(|metadata| metadata.location().to_string());
    leaked.detach();
    json_response(
        200,
        &json!({ "status": "leaked", "task": id, "spawned_at": spawned_at }),
    )
}
