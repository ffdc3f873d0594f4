//! Dev-only: what the example app carries for its benchmark, its fault suite and its debugging,
//! kept apart from the app and **off when deployed**.
//!
//! The routes below are mounted (`routes`) only when the Worker's variable `DEV_ROUTES` is
//! `"true"`. The committed `worker/wrangler.toml` never sets it; the local dev server does
//! (`scripts/serve-worker.sh` and the test suites run `wrangler dev --var DEV_ROUTES:true`).
//! Deployed as committed, none is mounted, and every path under [`PREFIXES`] answers 404 with a
//! message saying it is a dev-only route (`off`); `scripts/test.d/60-worker-e2e.sh` checks
//! both configurations.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /fanout` | the CPU-bound benchmark handler ([`fanout`]) on the WorkerdScheduler |
//! | `GET /peer/fanout` | the same on plain `wasm_bindgen_futures::spawn_local` |
//! | `POST /peer/events`, `GET /peer/events/{id}`, `GET /peer/counts/{type}` | the ingest handler on `spawn_local`, into its own KV keys (benchmark peer) |
//! | `GET /debug/bench` | the fanout routes' `wait_until` tallies and the ingest routes' 202 counts |
//! | `GET`, `POST`, `DELETE /debug/faults` | the isolate's KV fault plan ([`crate::faults`]) |
//! | `GET`, `POST /debug/accepted?type=T` | the ids of accepted events of a type |
//! | `GET /debug/stored[?ids=true]` | how many summaries KV holds (and their ids) |
//! | `GET /debug/handoff?key=K[&value=V]` | one request waits for a value another hands over (a cross-request wake) |
//! | `GET /debug/leak` | a handler that leaks a task on purpose |
//! | `GET /debug/counter?type=T` | the audit of type `T`'s counter object: its count and every event it counted |
//! | `POST /debug/counter/reset?type=T` | resets type `T`'s counter object on purpose |
//! | `POST /debug/counter/busy?type=T&yields=N` | keeps one event of type `T`'s counter object busy yielding `N` times; the isolate serves other requests meanwhile |
//! | `POST /debug/counter/panic?type=T` | makes type `T`'s counter object's handler panic on purpose (only that event fails) |
//! | `GET /debug/panic[?panic=true]` | a subtask of the request panics on demand ([`chaos`]) |
//! | `GET /debug/spin?seconds=S`, `GET /debug/spin?stop=true` | a request that wakes itself forever (bounded), and its stop |
//! | `GET /debug/isolate` | the isolate's identity and counters (state that survives a panic) |
//!
//! A new dev route goes under one of [`PREFIXES`] (so it is off when deployed) and into
//! `worker/tests/dev_routes.mjs` (which checks it is off in the deploy configuration).
//!
//! [`fanout`] (the benchmark handler) and [`chaos`]'s handlers are target-independent and
//! tested natively; the rest is wasm32 only.

pub mod chaos;
pub mod fanout;

#[cfg(target_arch = "wasm32")]
mod accepted;
#[cfg(target_arch = "wasm32")]
mod bench;
#[cfg(target_arch = "wasm32")]
mod counter;
#[cfg(target_arch = "wasm32")]
mod fault_plan;
#[cfg(target_arch = "wasm32")]
mod handoff;
#[cfg(target_arch = "wasm32")]
mod leak;
#[cfg(target_arch = "wasm32")]
mod peer;
#[cfg(target_arch = "wasm32")]
mod stored;

/// The Worker variable that mounts the dev routes when it is `"true"`.
pub const VAR: &str = "DEV_ROUTES";

/// Every dev route lives under one of these paths (the path itself or below it).
pub const PREFIXES: [&str; 3] = ["/debug", "/peer", "/fanout"];

/// Whether `path` belongs to the dev routes (under one of [`PREFIXES`]).
///
/// ```
/// use scheduler_worker::dev::is_dev_path;
/// assert!(is_dev_path("/debug/leak") && is_dev_path("/peer/events") && is_dev_path("/fanout"));
/// assert!(!is_dev_path("/events") && !is_dev_path("/debugger") && !is_dev_path("/stats"));
/// ```
pub fn is_dev_path(path: &str) -> bool {
    PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

#[cfg(target_arch = "wasm32")]
pub use wasm::{enabled, off, record_accepted, routes};

#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::{VAR, accepted, bench, chaos, counter, fault_plan, handoff, leak, peer, stored};
    use crate::http;
    use worker::{Context, Env, Method, Response, Result, Router};

    /// Whether the dev routes are on: the Worker variable `DEV_ROUTES` is `"true"`.
    pub fn enabled(env: &Env) -> bool {
        env.var(VAR).is_ok_and(|value| value.to_string() == "true")
    }

    /// Mounts every dev route on `router` (call it only when [`enabled`]).
    pub fn routes<'a>(router: Router<'a, Context>) -> Router<'a, Context> {
        router
            .get_async("/fanout", bench::fanout_ours)
            .get_async("/peer/fanout", bench::fanout_peer)
            .post_async("/peer/events", peer::post_event)
            .get_async("/peer/events/:id", peer::get_event)
            .get_async("/peer/counts/:type", peer::get_count)
            .get("/debug/bench", bench::tallies)
            .get("/debug/faults", fault_plan::get)
            .post_async("/debug/faults", fault_plan::post)
            .delete("/debug/faults", fault_plan::delete)
            .get("/debug/accepted", accepted::list)
            .post("/debug/accepted", accepted::start)
            .get_async("/debug/stored", stored::get)
            .get_async("/debug/handoff", handoff::get)
            .get_async("/debug/leak", leak::get)
            .get_async("/debug/counter", counter::audit)
            .post_async("/debug/counter/reset", counter::reset)
            .post_async("/debug/counter/panic", counter::panic)
            .post_async("/debug/counter/busy", counter::busy)
            .get_async("/debug/panic", chaos::panic)
            .get_async("/debug/spin", chaos::spin_route)
            .get("/debug/isolate", chaos::isolate)
    }

    /// The answer to a dev route while the dev routes are off: 404, saying why.
    pub fn off(method: &Method, path: &str) -> Result<Response> {
        http::error(
            404,
            "not_found",
            &format!(
                "{method} {}: a dev-only route (benchmark, fault, debug and peer routes), \
                 off in this deployment; the local dev server turns them on \
                 (scripts/serve-worker.sh sets {VAR}=true)",
                http::shown_path(path)
            ),
        )
    }

    /// Notes an event the app's `POST /events` answered 202 (call it in the poll that
    /// accepted it): for `/debug/accepted` (if its type is recorded) and `/debug/bench`.
    pub fn record_accepted(body: &str, id: &str) {
        accepted::record(body, id);
        bench::ingest_accepted(false);
    }
}
