//! `GET /stats`: the WasmScheduler's task counters (in total, per priority and per running
//! session), the `wait_until` counters of the isolate, the counter objects' events run in this
//! isolate, and what the increments went through, as JSON.

use crate::http::{self, json_response};
use crate::isolate;
use scheduler::cloud::{CloudflareDurableObjectStats, CloudflareStats};
use scheduler::platform::wasm::TaskCounters;
use serde_json::{Value, json};
use worker::{Context, Request, Response, Result, RouteContext};

/// Answers `GET /stats` (it takes no query parameter). Served outside any session, so it
/// counts only the requests' tasks.
pub fn get(request: Request, _route: RouteContext<Context>) -> Result<Response> {
    if let Err(rejection) = http::query(&request, &[])? {
        return Ok(rejection);
    }
    let workerd = isolate::scheduler();
    let scheduler = workerd.wasm().stats();
    let cloud = CloudflareStats::current();
    let objects = CloudflareDurableObjectStats::current();
    let counter = isolate::counter_stats();
    let sessions: Vec<Value> = scheduler
        .sessions
        .iter()
        .map(|(session, counters)| {
            let mut entry = counters_json(counters);
            entry["session"] = json!(session.as_u64());
            entry
        })
        .collect();
    let priorities: serde_json::Map<String, Value> = scheduler
        .priorities
        .iter()
        .map(|(priority, counters)| (priority.name().to_owned(), counters_json(counters)))
        .collect();
    json_response(
        200,
        &json!({
            "tasks": counters_json(&scheduler.total),
            "priorities": priorities,
            "sessions": sessions,
            "queued": scheduler.queued,
            "macrotask_yields": scheduler.macrotask_yields,
            "continuations": scheduler.continuations,
            "routed_wakes": workerd.routed_wakes(),
            "misplaced_reactions": workerd.misplaced_reactions(),
            "pending_timers": scheduler.pending_timers,
            "requests": cloud.requests,
            "sessions_ended": cloud.sessions_ended,
            "leaked_tasks": cloud.leaked_tasks,
            "wait_until": {
                "registered": cloud.wait_until_registered,
                "completed": cloud.wait_until_completed,
                "cancelled": cloud.wait_until_cancelled,
                "failed": cloud.wait_until_failed,
                "pending": cloud.wait_until_pending(),
            },
            "ingest_failures": isolate::ingest_failures(),
            "counter_increments_pending": isolate::pending_count_increments(),
            "counter": {
                "attempts": counter.attempts,
                "attempts_failed": counter.attempts_failed,
                "found_counted_on_retry": counter.found_counted_on_retry,
                "counted": counter.counted,
                "given_up": counter.given_up,
            },
            "durable_objects": {
                "events": objects.events,
                "sessions_ended": objects.sessions_ended,
                "abandoned_events": objects.abandoned_events,
                "leaked_tasks": objects.leaked_tasks,
                "handlers_panicked": objects.handlers_panicked,
                "wait_until_registered": objects.wait_until_registered,
                "wait_until_settled": objects.wait_until_settled,
            },
            "wasm_memory_bytes": wasm_memory_bytes(),
        }),
    )
}

/// The size of the module's linear memory (it only grows).
fn wasm_memory_bytes() -> f64 {
    use wasm_bindgen::JsCast;
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map_or(0.0, |memory| {
            memory
                .buffer()
                .unchecked_into::<js_sys::ArrayBuffer>()
                .byte_length() as f64
        })
}

fn counters_json(counters: &TaskCounters) -> Value {
    json!({
        "spawned": counters.spawned,
        "completed": counters.completed,
        "cancelled": counters.cancelled,
        "panicked": counters.panicked,
        "running": counters.running(),
    })
}
