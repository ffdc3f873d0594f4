//! The `panic = "abort"` reset scenario, driven from Node by `wasm-tests/reset/run.js`
//! (scripts/test.d/30-wasm.sh): the module is bound as `worker-build` binds a Worker
//! (`--experimental-reset-state-function --force-enable-abort-handler`, and the `worker`
//! crate's start function asks for a reinit once the instance aborts), requests are in flight
//! on a `WorkerdScheduler` (sessions with their 50 ms ticks, a pending timer each), and a task
//! panics: the instance traps. The driver then checks that no callback of the dead instance
//! enters wasm (neither the dead instance nor its replacement), that the ticks stop, and that
//! the next instance serves and reports the reset with the requests that died with it.

use scheduler::cloud::CloudflareExecutionContext;
use scheduler::platform::wasm::{WasmScheduler, WorkerdScheduler};
use scheduler::{Scheduler, session};
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen::prelude::*;

thread_local! {
    static SCHEDULER: Arc<WorkerdScheduler> = WorkerdScheduler::new(WasmScheduler::new());
}

/// Serves one request per fake `ExecutionContext` in `contexts`, each with a handler that waits
/// an hour (in flight until the instance dies). Returns how many.
#[wasm_bindgen]
pub fn reset_scenario_start(contexts: js_sys::Array) -> u32 {
    let workerd = SCHEDULER.with(Arc::clone);
    for context in contexts.iter() {
        let ctx = CloudflareExecutionContext::new(
            workerd.clone(),
            worker::Context::new(context.unchecked_into()),
        );
        let timers: Arc<dyn Scheduler> = workerd.clone();
        let served = ctx.serve(async move {
            timers.timer(Duration::from_secs(3600)).await;
            worker::Response::ok("late")
        });
        wasm_bindgen_futures::spawn_local(async move {
            let _ = served.await;
        });
    }
    contexts.length()
}

/// Spawns, in a new session, a task that panics: under `panic = "abort"` the drain that runs
/// it traps the instance.
#[wasm_bindgen]
pub fn reset_scenario_panic() {
    let workerd = SCHEDULER.with(Arc::clone);
    let scheduler: Arc<dyn Scheduler> = workerd.clone();
    let doomed = workerd.create_session();
    session::with(Some(doomed), || {
        scheduler.spawn(async { panic!("reset scenario: a task panics") })
    })
    .detach();
}

/// On the instance after the reset: `instances,requests_in_flight` of the reset this instance
/// found (`none` if it found none), then `,ok` once a task of a fresh scheduler has run.
#[wasm_bindgen]
pub async fn reset_scenario_after() -> String {
    // Asserted: under `panic = "unwind"` an exported future needs `UnwindSafe`; a panic here
    // just fails the run.
    std::panic::AssertUnwindSafe(after_reset()).await
}

async fn after_reset() -> String {
    let reset = CloudflareExecutionContext::take_instance_reset();
    let scheduler: Arc<dyn Scheduler> = SCHEDULER.with(Arc::clone);
    let ran = scheduler.spawn(async { "ok" }).await;
    match reset {
        Some(reset) => format!("{},{},{ran}", reset.instances, reset.requests_in_flight),
        None => format!("none,{ran}"),
    }
}
