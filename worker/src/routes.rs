//! The app's routes on `worker::Router` (see the table in `lib.rs`): each checks its inputs
//! ([`http`]), then runs the ingest handler as one session of the isolate's scheduler
//! (`CloudflareExecutionContext`), so the handler's subtasks and `wait_until` work belong to
//! the request.

use crate::http::{self, MAX_BODY_BYTES};
use crate::{dev, isolate};
use scheduler::cloud::CloudflareExecutionContext;
use worker::{Context, Request, Response, Result, RouteContext};

/// `POST /events`: checks the body (JSON, at most [`MAX_BODY_BYTES`]), then the handler
/// validates the event and answers 202 at once; its processing runs under `wait_until`.
pub async fn post_event(mut request: Request, route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    // Read in the fetch event's own context, before the session starts.
    let body = match http::read_json_body(&mut request, MAX_BODY_BYTES).await? {
        Ok(body) => body,
        Err(rejection) => return Ok(rejection),
    };
    let service = isolate::service(&route.env)?;
    let dev_routes = dev::enabled(&route.env);
    let ctx = CloudflareExecutionContext::new(isolate::scheduler(), route.data);
    let served = ctx.clone();
    served
        .serve(async move {
            let response = service.ingest(&ctx, &body);
            if let (true, Some(id)) = (dev_routes, response.accepted_id()) {
                // In the poll that accepted the event (so recorded even if the client goes
                // away): the dev routes' record of 202s, for the fault suite and the benchmark.
                dev::record_accepted(&body, id);
            }
            http::to_response(&response)
        })
        .await
}

/// `GET /events/{id}`: the stored summary (404 until stored; 400 for a malformed `id`).
pub async fn get_event(request: Request, route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let id = route.param("id").cloned().unwrap_or_default();
    let service = isolate::service(&route.env)?;
    let ctx = CloudflareExecutionContext::new(isolate::scheduler(), route.data);
    ctx.serve(async move { http::to_response(&service.event(&id).await) })
        .await
}

/// `GET /counts/{type}`: the events of a type counted so far (400 for a malformed type).
pub async fn get_count(request: Request, route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let kind = route.param("type").cloned().unwrap_or_default();
    let service = isolate::service(&route.env)?;
    let ctx = CloudflareExecutionContext::new(isolate::scheduler(), route.data);
    ctx.serve(async move { http::to_response(&service.count(&kind).await) })
        .await
}

/// Any path no route serves: 404, saying so when it is a dev-only route that is off.
pub fn no_route(request: Request, route: RouteContext<Context>) -> Result<Response> {
    let path = request.path();
    if dev::is_dev_path(&path) && !dev::enabled(&route.env) {
        return dev::off(&request.method(), &path);
    }
    http::no_route(&request.method(), &path)
}
