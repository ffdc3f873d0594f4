//! `GET /debug/leak`: a handler that leaks a task on purpose (a detached task, outside
//! `wait_until`, waiting an hour), to show what the scheduler logs when a request ends with a
//! task still running. Served only when the `DEBUG_ROUTES` variable is `"true"` (wrangler.toml
//! sets it for local development); 404 otherwise.

use crate::http::json_response;
use crate::isolate;
use scheduler::{Scheduler, TaskLabel};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use worker::{Response, Result};

/// How long the leaked task would wait if nothing cancelled it.
const LEAKED_WAIT: Duration = Duration::from_secs(3600);

/// Spawns the leaky task (in the current request's session) and answers 200 with its id.
pub async fn respond(enabled: bool) -> Result<Response> {
    if !enabled {
        return json_response(
            404,
            &json!({ "status": "not_found", "error": "debug routes are disabled (DEBUG_ROUTES)" }),
        );
    }
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
