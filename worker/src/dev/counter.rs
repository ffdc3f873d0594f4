//! The counter objects, seen and shaken from outside (dev routes):
//!
//! - `GET /debug/counter?type=T`: the audit of type `T`'s counter object: its count and every
//!   event it counted, with the count each made (the fault suite checks that every value
//!   `1..=count` appears once: nothing counted twice);
//! - `POST /debug/counter/reset?type=T`: resets the object on purpose (it fails a
//!   `block_concurrency_while`, which the platform answers by resetting the object: its events
//!   in flight fail, its confirmed storage stays). Answers 200 saying whether the object's
//!   event failed as a reset does.
//!
//! The query's `type` must be a valid event type.

use crate::http::{self, QueryParam, json_response};
use crate::ingest::{CounterReply, CounterRequest, MAX_TYPE_LEN, validate_type};
use crate::isolate;
use scheduler::cloud::CloudflareExecutionContext;
use serde_json::json;
use worker::{Context, Request, Response, Result, RouteContext};

/// The query both routes take: `type`, an event type.
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
    let service = isolate::service(&route.env)?;
    let ctx = CloudflareExecutionContext::new(isolate::scheduler(), route.data);
    ctx.serve(async move {
        match service.counters().send(&kind, CounterRequest::Audit).await {
            Ok(CounterReply::Audit { count, applied }) => json_response(
                200,
                &json!({ "type": kind, "count": count, "applied": applied }),
            ),
            Ok(other) => http::error(500, "internal_error", &format!("{other:?}")),
            Err(failure) => http::error(500, "internal_error", &failure.to_string()),
        }
    })
    .await
    .unwrap_or_else(http::failed)
}

/// `POST /debug/counter/reset?type=T`: resets the object.
pub async fn reset(request: Request, route: RouteContext<Context>) -> Result<Response> {
    let kind = match counter_type(&request)? {
        Ok(kind) => kind,
        Err(rejection) => return Ok(rejection),
    };
    let service = isolate::service(&route.env)?;
    let ctx = CloudflareExecutionContext::new(isolate::scheduler(), route.data);
    ctx.serve(async move {
        let (reset, answer) = match service.counters().send(&kind, CounterRequest::Reset).await {
            Ok(reply) => (false, format!("{reply:?}")),
            Err(failure) => (true, failure.to_string()),
        };
        json_response(
            200,
            &json!({ "type": kind, "reset": reset, "answer": answer }),
        )
    })
    .await
    .unwrap_or_else(http::failed)
}

/// Interim (issue 19's measurement, deleted with the KV counter): `GET
/// /debug/count-bench/{kv|object}` counts one new event of type `countbench` in the KV counter
/// book or on its counter object, awaited in the request; 200 once counted.
pub async fn bench(request: Request, route: RouteContext<Context>) -> Result<Response> {
    let (on_object, read) = match route.param("backend").map(String::as_str) {
        Some("object") => (true, false),
        Some("kv") => (false, false),
        Some("object-read") => (true, true),
        Some("kv-read") => (false, true),
        _ => return http::rejected("backend", "must be `kv` or `object` (`-read`)"),
    };
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let service = isolate::service(&route.env)?;
    let id = isolate::next_bench_id();
    let ctx = CloudflareExecutionContext::new(isolate::scheduler(), route.data);
    ctx.serve(async move {
        if read {
            return match service.bench_read("countbench", on_object).await {
                Some(count) => json_response(200, &json!({ "count": count })),
                None => http::error(500, "internal_error", "not read"),
            };
        }
        if service.bench_count(&id, "countbench", on_object).await {
            json_response(200, &json!({ "counted": id }))
        } else {
            http::error(500, "internal_error", &format!("{id} was not counted"))
        }
    })
    .await
    .unwrap_or_else(http::failed)
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
