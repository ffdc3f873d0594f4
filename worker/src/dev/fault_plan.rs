//! `/debug/faults`: the isolate's store fault plan (see [`crate::faults`]). `GET` shows the
//! plan and what was injected so far; `POST` with a JSON [`FaultPlan`] (at most
//! [`MAX_PLAN_BYTES`]) sets it (counts restart from 0, the generator from the plan's seed);
//! `DELETE` turns injection off and keeps the counts. The plan applies to the app's KV calls,
//! not to the `/peer` routes. A dev route: deployed, it is not mounted, so nothing can turn
//! faults on. None of the three takes a query parameter.

use crate::faults::{FaultInjector, FaultPlan};
use crate::http::{self, json_response};
use crate::isolate;
use serde_json::json;
use worker::{Context, Request, Response, Result, RouteContext};

/// The largest accepted fault plan (a plan is about 150 bytes).
pub const MAX_PLAN_BYTES: usize = 4 * 1024;

/// `GET /debug/faults`: the plan and the counts.
pub fn get(request: Request, _route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    state(&isolate::faults())
}

/// `POST /debug/faults`: sets the plan (400 naming what is wrong with it).
pub async fn post(mut request: Request, _route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let body = match http::read_json_body(&mut request, MAX_PLAN_BYTES).await? {
        Ok(body) => body,
        Err(rejection) => return Ok(rejection),
    };
    let plan = match serde_json::from_str::<FaultPlan>(&body) {
        Ok(plan) => plan,
        Err(error) => return http::rejected("body", &format!("not a fault plan: {error}")),
    };
    let faults = isolate::faults();
    match faults.set_plan(plan) {
        Ok(()) => state(&faults),
        Err(error) => http::rejected("body", &error),
    }
}

/// `DELETE /debug/faults`: injection off, counts kept.
pub fn delete(request: Request, _route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let faults = isolate::faults();
    faults.turn_off();
    state(&faults)
}

fn state(faults: &FaultInjector) -> Result<Response> {
    let plan = faults.plan();
    json_response(
        200,
        &json!({ "active": plan.is_active(), "plan": plan, "counts": faults.counts() }),
    )
}
