//! `/debug/faults`: the isolate's store fault plan (see [`crate::faults`]). `GET` shows the
//! plan and what was injected so far; `POST` with a JSON [`FaultPlan`] sets it (counts restart
//! from 0, the generator from the plan's seed); `DELETE` turns injection off and keeps the
//! counts. The plan applies to the main routes' KV calls, not to the `/peer` routes. Served only
//! with `DEBUG_ROUTES = "true"`: without it, nothing can turn faults on.

use crate::faults::{FaultInjector, FaultPlan};
use crate::http::json_response;
use crate::isolate;
use serde_json::json;
use worker::{Method, Request, Response, Result};

/// Shows, sets or clears the fault plan (404 when debug routes are disabled).
pub async fn respond(mut request: Request, enabled: bool) -> Result<Response> {
    if !enabled {
        return json_response(
            404,
            &json!({ "status": "not_found", "error": "debug routes are disabled (DEBUG_ROUTES)" }),
        );
    }
    let faults = isolate::faults();
    match request.method() {
        Method::Get => state(&faults, 200),
        Method::Post => {
            let body = request.text().await?;
            let plan = match serde_json::from_str::<FaultPlan>(&body) {
                Ok(plan) => plan,
                Err(error) => return rejected(&format!("not a fault plan: {error}")),
            };
            match faults.set_plan(plan) {
                Ok(()) => state(&faults, 200),
                Err(error) => rejected(&error),
            }
        }
        Method::Delete => {
            faults.turn_off();
            state(&faults, 200)
        }
        _ => json_response(
            405,
            &json!({ "status": "method_not_allowed", "error": "GET, POST or DELETE on /debug/faults" }),
        ),
    }
}

fn state(faults: &FaultInjector, status: u16) -> Result<Response> {
    let plan = faults.plan();
    json_response(
        status,
        &json!({ "active": plan.is_active(), "plan": plan, "counts": faults.counts() }),
    )
}

fn rejected(error: &str) -> Result<Response> {
    json_response(
        400,
        &json!({ "status": "rejected", "field": "body", "error": error }),
    )
}
