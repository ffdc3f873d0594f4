//! `/debug/accepted?type=T`: the ids of the events of type `T` this isolate answered 202, so a
//! test can tell exactly which events were accepted, including those whose client went away
//! before it read the answer. `POST` starts recording type `T` (nothing is recorded before, so
//! the list never grows unless a test asks for it); `GET` lists the ids recorded so far. The
//! query's `type` must be a valid event type. A dev route, like the other `/debug` routes.

use crate::http::{self, QueryParam, json_response};
use crate::ingest::{Event, MAX_TYPE_LEN, validate_type};
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{Context, Request, Response, Result, RouteContext};

thread_local! {
    /// Recorded types and their accepted ids, in acceptance order (one isolate, one thread).
    static ACCEPTED: RefCell<HashMap<String, Vec<String>>> = RefCell::default();
}

/// Records that the event posted with `body` was accepted as `id`, if its type is recorded.
/// Call it in the same poll as the handler's answer, so a request cancelled after it was
/// accepted is recorded too.
pub fn record(body: &str, id: &str) {
    if ACCEPTED.with(|accepted| accepted.borrow().is_empty()) {
        return;
    }
    let Ok(event) = Event::parse(body) else {
        return;
    };
    ACCEPTED.with(|accepted| {
        if let Some(ids) = accepted.borrow_mut().get_mut(&event.kind) {
            ids.push(id.to_string());
        }
    });
}

/// The query both methods take: `type`, an event type.
const QUERY: &[QueryParam] = &[QueryParam {
    name: "type",
    max_len: MAX_TYPE_LEN,
    check: Some(|kind| validate_type(kind).map_err(|error| error.problem)),
}];

/// `POST /debug/accepted?type=T`: starts recording the ids of accepted events of type `T`.
pub fn start(request: Request, _route: RouteContext<Context>) -> Result<Response> {
    let kind = match recorded_type(&request)? {
        Ok(kind) => kind,
        Err(rejection) => return Ok(rejection),
    };
    ACCEPTED.with(|accepted| {
        accepted.borrow_mut().entry(kind.clone()).or_default();
    });
    json_response(200, &json!({ "status": "recording", "type": kind }))
}

/// `GET /debug/accepted?type=T`: the ids recorded so far (404 if `T` is not recorded).
pub fn list(request: Request, _route: RouteContext<Context>) -> Result<Response> {
    let kind = match recorded_type(&request)? {
        Ok(kind) => kind,
        Err(rejection) => return Ok(rejection),
    };
    let ids = ACCEPTED.with(|accepted| accepted.borrow().get(&kind).cloned());
    match ids {
        Some(ids) => json_response(
            200,
            &json!({ "type": kind, "count": ids.len(), "ids": ids }),
        ),
        None => http::error(
            404,
            "not_found",
            &format!("type {kind} is not recorded; POST first"),
        ),
    }
}

/// The query's `type` (400 when it is missing or malformed).
fn recorded_type(request: &Request) -> Result<http::Rejectable<String>> {
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
