//! The benchmark routes (`scripts/bench-worker.sh`) and what they leave behind to verify:
//!
//! - `GET /fanout`: the CPU-bound handler ([`super::fanout`]) on the WorkerdScheduler, through
//!   `CloudflareExecutionContext` (one session per request);
//! - `GET /peer/fanout`: the same handler on plain `wasm_bindgen_futures::spawn_local`, its
//!   job under `ctx.waitUntil` as workers-rs hands it over ([`SpawnLocalContext`]);
//! - `GET /debug/bench`: both routes' tallies (requests, `wait_until` jobs registered,
//!   completed, completed twice, wrong sums), and the number of events each ingest route
//!   (`POST /events`, `POST /peer/events`) answered 202, counted by the server (a client may
//!   stop counting before the last answers arrive).
//!
//! None takes a query parameter.

use super::fanout::{self, Tally, TallySnapshot};
use super::peer::{SpawnLocalContext, SpawnLocalRuntime};
use crate::http::{self, json_response};
use crate::isolate;
use scheduler::cloud::{CloudflareExecutionContext, SchedulerRuntime};
use serde_json::{Value, json};
use std::cell::Cell;
use worker::{Context, Request, Response, Result, RouteContext};

thread_local! {
    static OURS: Tally = Tally::new();
    static PEER: Tally = Tally::new();
    static INGEST_ACCEPTED: Cell<[u64; 2]> = const { Cell::new([0, 0]) };
}

/// `GET /fanout`: the handler on the WorkerdScheduler.
pub async fn fanout_ours(request: Request, route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let context = route.data;
    let tally = OURS.with(Tally::clone);
    let runtime = SchedulerRuntime::new(isolate::scheduler());
    let ctx = CloudflareExecutionContext::new(isolate::scheduler(), context);
    let served = ctx.clone();
    served
        .serve(async move {
            let answer = fanout::handle(&runtime, &ctx, &tally).await;
            answer_response(answer)
        })
        .await
}

/// `GET /peer/fanout`: the same handler on `spawn_local`.
pub async fn fanout_peer(request: Request, route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let tally = PEER.with(Tally::clone);
    let ctx = SpawnLocalContext::new(route.data);
    let answer = fanout::handle(&SpawnLocalRuntime, &ctx, &tally).await;
    answer_response(answer)
}

fn answer_response(answer: fanout::FanoutAnswer) -> Result<Response> {
    json_response(
        200,
        &json!({ "request": answer.request, "sum": answer.sum.to_string() }),
    )
}

/// Counts an event the ingest route answered 202 (`peer`: the `/peer/events` route).
pub fn ingest_accepted(peer: bool) {
    INGEST_ACCEPTED.with(|accepted| {
        let mut counts = accepted.get();
        counts[usize::from(peer)] += 1;
        accepted.set(counts);
    });
}

/// `GET /debug/bench`: both fanout routes' tallies and both ingest routes' 202 counts.
pub fn tallies(request: Request, _route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let [ours_accepted, peer_accepted] = INGEST_ACCEPTED.with(Cell::get);
    json_response(
        200,
        &json!({
            "fanout": {
                "ours": tally_json(OURS.with(Tally::snapshot)),
                "peer": tally_json(PEER.with(Tally::snapshot)),
            },
            "ingest": {
                "ours": { "accepted": ours_accepted },
                "peer": { "accepted": peer_accepted },
            },
        }),
    )
}

fn tally_json(counts: TallySnapshot) -> Value {
    json!({
        "requests": counts.requests,
        "jobs_registered": counts.jobs_registered,
        "jobs_completed": counts.jobs_completed,
        "pending": counts.pending(),
        "doubled": counts.doubled,
        "wrong_sums": counts.wrong_sums,
    })
}
