//! The event-ingest Worker, and the template for writing your own: a handler written once
//! against `scheduler::cloud`, tested natively over many seeds, deployed unchanged.
//!
//! - [`ingest`] is the handler (target-independent): validation, the response, the
//!   background processing under `wait_until`, the per-type counters, the store trait and an
//!   in-memory store. It compiles natively and for wasm32; its simulation tests
//!   (`worker/tests/`) run it on a `SimulatedExecutionContext` over a seeded `TestScheduler`
//!   with `cargo test -p scheduler-worker`.
//! - On wasm32 only, the Worker around it: the `#[event(fetch)]` entry point, the HTTP layer on
//!   `worker::Request` / `Response`, the Workers KV store, and debug and benchmark routes. Every
//!   task of every request runs on the `WasmScheduler` (`scheduler::platform::wasm`), one
//!   session per request.
//!
//! Routes (see `worker/README.md`):
//! - `POST /events` → 202 `{"status":"accepted","id":…}`; 400 naming the bad field, 413 over
//!   64 KiB, 415 for a non-JSON content type. Processing runs under `wait_until`.
//! - `GET /events/{id}` → the stored summary (404 until stored); `GET /counts/{type}`.
//! - `GET /stats` → the scheduler's counters, and the handler's failures and pending counts.
//! - `/peer/…` → the same handler on plain `wasm_bindgen_futures::spawn_local` (benchmark peer).
//! - `GET /fanout`, `GET /peer/fanout` → the CPU-bound benchmark handler ([`fanout`], no KV) on
//!   the WorkerdScheduler and on `spawn_local`; `GET /debug/bench` → their `wait_until` tallies
//!   and the ingest routes' 202 counts, for the benchmark to verify (debug only).
//! - `GET /debug/leak` → leaks a task on purpose; `GET /debug/stored` → how many summaries KV
//!   holds; `GET /debug/handoff?key=K[&value=V]` → one request waits for a value another hands
//!   over (a cross-request wake); `/debug/faults` → the KV fault plan ([`faults`]);
//!   `/debug/accepted?type=T` → the ids of accepted events of a type (all only with
//!   `DEBUG_ROUTES = "true"`).

#![warn(missing_docs)]

pub mod fanout;
pub mod faults;
pub mod ingest;

#[cfg(target_arch = "wasm32")]
mod accepted;
#[cfg(target_arch = "wasm32")]
mod bench_routes;
#[cfg(target_arch = "wasm32")]
mod fault_route;
#[cfg(target_arch = "wasm32")]
mod handoff;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod ids;
#[cfg(target_arch = "wasm32")]
mod isolate;
#[cfg(target_arch = "wasm32")]
mod kv_store;
#[cfg(target_arch = "wasm32")]
mod leak;
#[cfg(target_arch = "wasm32")]
mod peer;
#[cfg(target_arch = "wasm32")]
mod stats;
#[cfg(target_arch = "wasm32")]
mod stored;

#[cfg(target_arch = "wasm32")]
use worker::{Context, Env, Request, Response, Result, event};

/// The Worker's entry point: routes a request to the stats, debug, peer or ingest handlers.
#[cfg(target_arch = "wasm32")]
#[event(fetch)]
async fn fetch(request: Request, env: Env, context: Context) -> Result<Response> {
    use http::IngestRequest;
    use scheduler::cloud::CloudflareExecutionContext;

    let path = request.path();
    if path == "/stats" {
        return stats::respond(&request);
    }
    let debug_routes = env
        .var("DEBUG_ROUTES")
        .is_ok_and(|value| value.to_string() == "true");
    if path == "/fanout" {
        return bench_routes::ours(context).await;
    }
    if path == "/peer/fanout" {
        return bench_routes::peer(context).await;
    }
    if path == "/debug/bench" {
        return bench_routes::respond(debug_routes);
    }
    if path == "/debug/stored" {
        return stored::respond(&request, &env, debug_routes).await;
    }
    if path == "/debug/faults" {
        return fault_route::respond(request, debug_routes).await;
    }
    if path == "/debug/accepted" {
        return accepted::respond(&request, debug_routes);
    }
    if path == "/debug/handoff" {
        let url = request.url()?;
        let ctx = CloudflareExecutionContext::new(isolate::scheduler(), context);
        return ctx
            .serve(async move { handoff::respond(&url, debug_routes).await })
            .await;
    }
    if path == "/debug/leak" {
        let enabled = debug_routes;
        let ctx = CloudflareExecutionContext::new(isolate::scheduler(), context);
        return ctx.serve(leak::respond(enabled)).await;
    }
    let ingest = match IngestRequest::read(request).await? {
        Ok(ingest) => ingest,
        Err(rejection) => return Ok(rejection),
    };
    if let Some(rest) = path.strip_prefix("/peer") {
        let service = isolate::peer_service(&env)?;
        let ctx = peer::SpawnLocalContext::new(context);
        let response = ingest.serve(&service, &ctx, rest).await?;
        if response.status_code() == 202 {
            bench_routes::ingest_accepted(true);
        }
        return Ok(response);
    }
    let service = isolate::service(&env)?;
    let ctx = CloudflareExecutionContext::new(isolate::scheduler(), context);
    let served = ctx.clone();
    served
        .serve(async move {
            let response = ingest.respond(&service, &ctx, &path).await;
            if let Some(id) = response.accepted_id() {
                // In the poll that accepted the event: recorded even if the client goes away.
                accepted::record(ingest.body(), id);
                bench_routes::ingest_accepted(false);
            }
            http::to_response(&response)
        })
        .await
}
