//! `GET /debug/handoff?key=K` waits (up to 10 s) until another request hands it a value for `K`;
//! `GET /debug/handoff?key=K&value=V` hands `V` over (409 if no request is waiting for `K`).
//!
//! The waiting request's task is woken by the handing request's task: a cross-request wake,
//! which workerd only lets run in the woken request's own I/O context. That is what
//! `WorkerdScheduler` routes, and what the e2e suite checks through this route. A dev route.
//!
//! `key`: 1 to [`MAX_KEY_LEN`] characters of `A-Z`, `a-z`, `0-9`, `_`, `-`; `value`: at most
//! [`MAX_VALUE_LEN`] bytes of text. Anything else in the query is a 400 naming it.

use crate::http::{self, QueryParam, json_response};
use crate::isolate;
use futures::channel::oneshot;
use futures::future::{Either, select};
use scheduler::Scheduler;
use scheduler::cloud::CloudflareExecutionContext;
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use worker::{Context, Request, Response, Result, RouteContext};

/// How long a waiting request waits for its value.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// The longest key.
pub const MAX_KEY_LEN: usize = 64;

/// The longest value.
pub const MAX_VALUE_LEN: usize = 256;

/// The query: `key`, and `value` to hand over.
const QUERY: &[QueryParam] = &[
    QueryParam {
        name: "key",
        max_len: MAX_KEY_LEN,
        check: Some(|key| {
            let valid = key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if key.is_empty() || !valid {
                return Err(format!(
                    "must be 1 to {MAX_KEY_LEN} characters of A-Z, a-z, 0-9, `_` or `-`, found {key:?}"
                ));
            }
            Ok(())
        }),
    },
    QueryParam {
        name: "value",
        max_len: MAX_VALUE_LEN,
        check: None,
    },
];

thread_local! {
    /// The requests waiting for a value, by key (one isolate, one thread).
    static WAITING: RefCell<HashMap<String, oneshot::Sender<String>>> = RefCell::default();
}

/// `GET /debug/handoff?key=K[&value=V]`: waits for, or hands over, the value of `key`. The
/// request runs as a session of the isolate's scheduler, so its wake is a cross-request one.
pub async fn get(request: Request, route: RouteContext<Context>) -> Result<Response> {
    let mut query = match http::query(&request, QUERY)? {
        Ok(query) => query,
        Err(rejection) => return Ok(rejection),
    };
    let Some(key) = query.remove("key") else {
        return http::rejected("key", "the query needs a non-empty `key`");
    };
    let value = query.remove("value");
    let ctx = CloudflareExecutionContext::new(isolate::scheduler(), route.data);
    ctx.serve(async move {
        match value {
            Some(value) => hand_over(&key, value),
            None => wait_for(key).await,
        }
    })
    .await
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
