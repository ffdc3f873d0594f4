//! The counter objects, seen and shaken from outside (dev routes):
//!
//! - `GET /debug/counter?type=T`: the audit of type `T`'s counter object: its count and every
//!   event it counted, with the count each made (the fault suite checks that every value
//!   `1..=count` appears once: nothing counted twice);
//! - `POST /debug/counter/reset?type=T`: resets the object on purpose (it fails a
//!   `block_concurrency_while`, which the platform answers by resetting the object: its events
//!   in flight fail, its confirmed storage stays). Answers 200 saying whether the object's
//!   event failed as a reset does;
//! - `POST /debug/counter/busy?type=T&yields=N`: keeps one event of the object busy yielding
//!   `N` times (at most 10,000,000); answers 200 once it is done, with its session's yields. The
//!   isolate's other requests are served meanwhile (the per-session time slices);
//! - `POST /debug/counter/panic?type=T`: makes the object's handler panic on purpose. Answers
//!   200 with the object's failure (`panicked`: whether it was the handler's panic, answered
//!   alone as a 500 by the object); the object is not reset.
//!
//! The query's `type` must be a valid event type.

use crate::http::{self, QueryParam, json_response};
use crate::ingest::{CounterReply, CounterRequest, MAX_BUSY_YIELDS, MAX_TYPE_LEN, validate_type};
use crate::isolate;
use scheduler::cloud::{CloudflareExecutionContext, DurableObjectFailure};
use serde_json::json;
use worker::{Context, Request, Response, Result, RouteContext};

/// The query of the audit, reset and panic routes: `type`, an event type.
const QUERY: &[QueryParam] = &[QueryParam {
    name: "type",
    max_len: MAX_TYPE_LEN,
    check: Some(|kind| validate_type(kind).map_err(|error| error.problem)),
}];

/// `GET /debug/counter?type=T`: the object's count and the events it counted.
pub async fn audit(request: Request, route: RouteContext<Context>) -> Result<Response> {
    let kind = match counter_type(&request)? {
        Ok(kind) => kind,
        Err(rejection) => return Ok(rejection),
    };
    ask_counter(
        route,
        kind,
        CounterRequest::Audit,
        |kind, reply| match reply {
            Ok(CounterReply::Audit { count, applied }) => json_response(
                200,
                &json!({ "type": kind, "count": count, "applied": applied }),
            ),
            other => unexpected(other),
        },
    )
    .await
}

/// `POST /debug/counter/reset?type=T`: resets the object.
pub async fn reset(request: Request, route: RouteContext<Context>) -> Result<Response> {
    let kind = match counter_type(&request)? {
        Ok(kind) => kind,
        Err(rejection) => return Ok(rejection),
    };
    ask_counter(route, kind, CounterRequest::Reset, |kind, reply| {
        let (reset, answer) = match reply {
            Ok(reply) => (false, format!("{reply:?}")),
            Err(failure) => (true, failure.to_string()),
        };
        json_response(
            200,
            &json!({ "type": kind, "reset": reset, "answer": answer }),
        )
    })
    .await
}

/// The query of the busy route: `type` and `yields`.
const BUSY_QUERY: &[QueryParam] = &[
    QueryParam {
        name: "type",
        max_len: MAX_TYPE_LEN,
        check: Some(|kind| validate_type(kind).map_err(|error| error.problem)),
    },
    QueryParam {
        name: "yields",
        max_len: 8,
        check: Some(|yields| match yields.parse::<u64>() {
            Ok(n) if n <= MAX_BUSY_YIELDS => Ok(()),
            _ => Err(format!("must be a whole number up to {MAX_BUSY_YIELDS}")),
        }),
    },
];

/// `POST /debug/counter/busy?type=T&yields=N`: keeps one event of the object busy.
pub async fn busy(request: Request, route: RouteContext<Context>) -> Result<Response> {
    let mut query = match http::query(&request, BUSY_QUERY)? {
        Ok(query) => query,
        Err(rejection) => return Ok(rejection),
    };
    let (Some(kind), Some(yields)) = (query.remove("type"), query.remove("yields")) else {
        return http::rejected("type", "the query needs `type` and `yields`");
    };
    let yields: u64 = yields.parse().expect("checked by the query");
    ask_counter(
        route,
        kind,
        CounterRequest::Busy { yields },
        |kind, reply| match reply {
            Ok(CounterReply::Yielded { yields }) => {
                json_response(200, &json!({ "type": kind, "yields": yields }))
            }
            other => unexpected(other),
        },
    )
    .await
}

/// `POST /debug/counter/panic?type=T`: makes the object's handler panic.
pub async fn panic(request: Request, route: RouteContext<Context>) -> Result<Response> {
    let kind = match counter_type(&request)? {
        Ok(kind) => kind,
        Err(rejection) => return Ok(rejection),
    };
    ask_counter(route, kind, CounterRequest::Panic, |kind, reply| {
        let (panicked, answer) = match reply {
            Err(DurableObjectFailure::Panicked(panic)) => (true, panic),
            Ok(reply) => (false, format!("{reply:?}")),
            Err(failure) => (false, failure.to_string()),
        };
        json_response(
            200,
            &json!({ "type": kind, "panicked": panicked, "answer": answer }),
        )
    })
    .await
}

/// The object's reply to `request` (sent to `kind`'s counter object), answered by `answer`,
/// within this request's session; a panicking `answer` is this request's 500.
async fn ask_counter(
    route: RouteContext<Context>,
    kind: String,
    request: CounterRequest,
    answer: impl FnOnce(
        &str,
        std::result::Result<CounterReply, DurableObjectFailure>,
    ) -> Result<Response>
    + 'static,
) -> Result<Response> {
    let service = isolate::service(&route.env)?;
    let ctx = CloudflareExecutionContext::new(isolate::scheduler(), route.data);
    ctx.serve(async move {
        let reply = service.counters().send(&kind, request).await;
        answer(&kind, reply)
    })
    .await
    .unwrap_or_else(http::failed)
}

/// A 500 for a reply the route did not expect, or the object's failure.
fn unexpected(reply: std::result::Result<CounterReply, DurableObjectFailure>) -> Result<Response> {
    match reply {
        Ok(other) => http::error(500, "internal_error", &format!("{other:?}")),
        Err(failure) => http::error(500, "internal_error", &failure.to_string()),
    }
}

/// The query's `type` (400 when it is missing or malformed).
fn counter_type(request: &Request) -> Result<http::Rejectable<String>> {
    let mut query = match http::query(request, QUERY)? {
        Ok(query) => query,
        Err(rejection) => return Ok(Err(rejection)),
    };
    match query.remove("type") {
        Some(kind) => Ok(Ok(kind)),
        None => Ok(Err(http::rejected(
            "type",
            "the query needs a non-empty `type`",
        )?)),
    }
}
