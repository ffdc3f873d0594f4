//! `/debug/accepted?type=T`: the ids of the events of type `T` this isolate answered 202, so a
//! test can tell exactly which events were accepted, including those whose client went away
//! before it read the answer. `POST` starts recording type `T` (nothing is recorded before, so
//! the list never grows unless a test asks for it); `GET` lists the ids recorded so far.
//! Served only with `DEBUG_ROUTES = "true"`, like the other debug routes.

use crate::http::json_response;
use crate::ingest::Event;
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{Method, Request, Response, Result};

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

/// `POST` starts recording the `type` of the query, `GET` lists its ids (404 when debug routes
/// are disabled).
pub fn respond(request: &Request, enabled: bool) -> Result<Response> {
    if !enabled {
        return json_response(
            404,
            &json!({ "status": "not_found", "error": "debug routes are disabled (DEBUG_ROUTES)" }),
        );
    }
    let url = request.url()?;
    let Some(kind) = url
        .query_pairs()
        .find(|(name, _)| name == "type")
        .map(|(_, value)| value.into_owned())
        .filter(|kind| !kind.is_empty())
    else {
        return json_response(
            400,
            &json!({ "status": "rejected", "field": "type", "error": "the query needs a non-empty `type`" }),
        );
    };
    match request.method() {
        Method::Post => {
            ACCEPTED.with(|accepted| {
                accepted.borrow_mut().entry(kind.clone()).or_default();
            });
            json_response(200, &json!({ "status": "recording", "type": kind }))
        }
        Method::Get => {
            let ids = ACCEPTED.with(|accepted| accepted.borrow().get(&kind).cloned());
            match ids {
                Some(ids) => json_response(
                    200,
                    &json!({ "type": kind, "count": ids.len(), "ids": ids }),
                ),
                None => json_response(
                    404,
                    &json!({ "status": "not_found", "error": format!("type {kind} is not recorded; POST first") }),
                ),
            }
        }
        _ => json_response(
            405,
            &json!({ "status": "method_not_allowed", "error": "GET or POST on /debug/accepted" }),
        ),
    }
}
