//! `GET /debug/handoff?key=K` waits (up to 10 s) until another request hands it a value for `K`;
//! `GET /debug/handoff?key=K&value=V` hands `V` over (409 if no request is waiting for `K`).
//!
//! The waiting request's task is woken by the handing request's task: a cross-request wake,
//! which workerd only lets run in the woken request's own I/O context. That is what
//! `WorkerdScheduler` routes, and what the e2e suite checks through this route. Served only
//! when `DEBUG_ROUTES` is `"true"`, like `/debug/leak`.

use crate::http::json_response;
use crate::isolate;
use futures::channel::oneshot;
use futures::future::{Either, select};
use scheduler::Scheduler;
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use worker::{Response, Result, Url};

/// How long a waiting request waits for its value.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

thread_local! {
    /// The requests waiting for a value, by key (one isolate, one thread).
    static WAITING: RefCell<HashMap<String, oneshot::Sender<String>>> = RefCell::default();
}

/// Waits for, or hands over, the value of the `key` query parameter.
pub async fn respond(url: &Url, enabled: bool) -> Result<Response> {
    if !enabled {
        return json_response(
            404,
            &json!({ "status": "not_found", "error": "debug routes are disabled (DEBUG_ROUTES)" }),
        );
    }
    let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let Some(key) = params.get("key").filter(|key| !key.is_empty()) else {
        return json_response(
            400,
            &json!({ "status": "rejected", "field": "key", "error": "the query needs a non-empty `key`" }),
        );
    };
    match params.get("value") {
        Some(value) => hand_over(key, value.clone()),
        None => wait_for(key.clone()).await,
    }
}

fn hand_over(key: &str, value: String) -> Result<Response> {
    let sender = WAITING.with(|waiting| waiting.borrow_mut().remove(key));
    match sender.map(|sender| sender.send(value)) {
        Some(Ok(())) => json_response(200, &json!({ "status": "handed_over", "key": key })),
        _ => json_response(
            409,
            &json!({ "status": "no_waiter", "key": key, "error": "no request is waiting for this key" }),
        ),
    }
}

async fn wait_for(key: String) -> Result<Response> {
    let (sender, receiver) = oneshot::channel();
    let taken = WAITING.with(|waiting| {
        let mut waiting = waiting.borrow_mut();
        if waiting.contains_key(&key) {
            return true;
        }
        waiting.insert(key.clone(), sender);
        false
    });
    if taken {
        return json_response(
            409,
            &json!({ "status": "already_waiting", "key": key, "error": "a request already waits for this key" }),
        );
    }
    let scheduler: Arc<dyn Scheduler> = isolate::scheduler();
    match select(receiver, scheduler.timer(WAIT_LIMIT)).await {
        Either::Left((Ok(value), _)) => json_response(
            200,
            &json!({ "status": "received", "key": key, "value": value }),
        ),
        _ => {
            WAITING.with(|waiting| waiting.borrow_mut().remove(&key));
            json_response(
                504,
                &json!({ "status": "timed_out", "key": key, "error": "no value was handed over in time" }),
            )
        }
    }
}
