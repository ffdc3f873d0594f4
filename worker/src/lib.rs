//! The event-ingest Worker, the example app of the `scheduler` crate: a handler written once
//! against `scheduler::cloud`, tested natively over many seeds, deployed unchanged. (To start a
//! Worker of your own, copy `templates/worker/` instead.)
//!
//! - [`ingest`] is the handler (target-independent): validation, the response, the background
//!   processing under `wait_until`, the per-type counters, the store trait and an in-memory
//!   store. Its simulation tests (`worker/tests/`) run it on a `SimulatedExecutionContext` over
//!   a seeded `TestScheduler` with `cargo test -p scheduler-worker`.
//! - On wasm32, the Worker around it: the `#[event(fetch)]` entry point below (a
//!   `worker::Router`), the routes (`routes.rs`), the HTTP edge with every route's input limits
//!   (`http.rs`), the Workers KV store, the per-isolate scheduler and service (`isolate.rs`) and
//!   `/stats`. Every request to a route that runs the handler is one session of the isolate's
//!   `WorkerdScheduler` (`CloudflareExecutionContext`).
//! - [`faults`] wraps the store to fail or stall its calls on purpose (the native fault seeds,
//!   and the dev server's `/debug/faults`); it injects nothing unless asked.
//! - [`dev`] holds the benchmark, fault and debug routes and the `spawn_local` peer: **off when
//!   deployed**, mounted only when the local dev server sets `DEV_ROUTES = "true"`.
//!
//! The app's routes (see `worker/README.md`):
//!
//! | route | answer |
//! | --- | --- |
//! | `POST /events` | 202 `{"status":"accepted","id":…}` at once, processing under `wait_until`; 400 naming the bad field, 413 over 64 KiB, 415 for a non-JSON content type |
//! | `GET /events/{id}` | the stored summary (404 until stored; 400 for a malformed `id`) |
//! | `GET /counts/{type}` | `{"type":…,"count":n}` (400 for a malformed type) |
//! | `GET /stats` | the scheduler's counters, the handler's failures and pending counts |
//!
//! Every other path is a 404, every other method on these paths a 405, a URL over 2 KiB a 414,
//! and an unknown or malformed query parameter a 400, each with a JSON body that says why.

#![warn(missing_docs)]

pub mod dev;
pub mod faults;
pub mod ingest;

#[cfg(target_arch = "wasm32")]
mod counter_class;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod ids;
#[cfg(target_arch = "wasm32")]
mod isolate;
#[cfg(target_arch = "wasm32")]
mod kv_store;
#[cfg(target_arch = "wasm32")]
mod routes;
#[cfg(target_arch = "wasm32")]
mod stats;

#[cfg(target_arch = "wasm32")]
use worker::{Context, Env, Request, Response, Result, Router, event};

/// The Worker's entry point: checks the URL's length, then routes the request with
/// `worker::Router` (its data is the fetch event's context, which a route turns into the
/// request's session). The dev routes are mounted only when [`dev::enabled`].
#[cfg(target_arch = "wasm32")]
#[event(fetch)]
async fn fetch(request: Request, env: Env, context: Context) -> Result<Response> {
    if let Err(rejection) = http::check_url_length(&request)? {
        return Ok(rejection);
    }
    let (method, path) = (request.method(), request.path());
    let app = Router::with_data(context)
        .post_async("/events", routes::post_event)
        .get_async("/events/:id", routes::get_event)
        .get_async("/counts/:type", routes::get_count)
        .get("/stats", stats::get);
    let app = if dev::enabled(&env) {
        dev::routes(app)
    } else {
        app
    };
    let response = app
        .or_else_any_method("/", routes::no_route)
        .or_else_any_method("/*path", routes::no_route)
        .run(request, env)
        .await?;
    http::method_not_allowed_as_json(&method, &path, response)
}
