//! The benchmark routes (`scripts/bench-worker.sh`) and what they leave behind to verify:
//!
//! - `GET /fanout`: the CPU-bound handler ([`crate::fanout`]) on the WorkerdScheduler, through
//!   `CloudflareExecutionContext` (one session per request);
//! - `GET /peer/fanout`: the same handler on plain `wasm_bindgen_futures::spawn_local`, its
//!   job under `ctx.waitUntil` as workers-rs hands it over ([`SpawnLocalContext`]);
//! - `GET /debug/bench`: both routes' tallies (requests, `wait_until` jobs registered,
//!   completed, completed twice, wrong sums), and the number of events each ingest route
//!   (`POST /events`, `POST /peer/events`) answered 202, counted by the server (a client may
//!   stop counting before the last answers arrive). Debug only, like the other debug routes.

use crate::fanout::{self, FanoutRuntime, Tally, TallySnapshot};
use crate::http::json_response;
use crate::isolate;
use crate::peer::SpawnLocalContext;
use futures::channel::oneshot;
use scheduler::cloud::{CloudflareExecutionContext, SchedulerRuntime};
use serde_json::{Value, json};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use wasm_bindgen_futures::spawn_local;
use worker::{Response, Result};

thread_local! {
    static OURS: Tally = Tally::new();
    static PEER: Tally = Tally::new();
    static INGEST_ACCEPTED: Cell<[u64; 2]> = const { Cell::new([0, 0]) };
}

/// `GET /fanout`: the handler on the WorkerdScheduler.
pub async fn ours(context: worker::Context) -> Result<Response> {
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
pub async fn peer(context: worker::Context) -> Result<Response> {
    let tally = PEER.with(Tally::clone);
    let ctx = SpawnLocalContext::new(context);
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

/// `GET /debug/bench` (404 when debug routes are disabled).
pub fn respond(enabled: bool) -> Result<Response> {
    if !enabled {
        return json_response(
            404,
            &json!({ "status": "not_found", "error": "debug routes are disabled (DEBUG_ROUTES)" }),
        );
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

/// The peer's platform: subtasks on `spawn_local` (their output through a oneshot channel),
/// timers on `setTimeout` (`worker::Delay`). What a Worker gets without this crate.
#[derive(Clone, Copy)]
pub struct SpawnLocalRuntime;

impl FanoutRuntime for SpawnLocalRuntime {
    type Handle<T: 'static> = SpawnLocalHandle<T>;

    fn spawn<F>(&self, future: F) -> SpawnLocalHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let (sender, receiver) = oneshot::channel();
        spawn_local(async move {
            let _ = sender.send(future.await);
        });
        SpawnLocalHandle(receiver)
    }

    fn delay(&self, duration: Duration) -> impl Future<Output = ()> + 'static {
        worker::Delay::from(duration)
    }
}

/// The output of a subtask spawned with `spawn_local`.
pub struct SpawnLocalHandle<T>(oneshot::Receiver<T>);

impl<T> Future for SpawnLocalHandle<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|output| output.expect("a spawn_local subtask ran to completion"))
    }
}
