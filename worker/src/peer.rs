//! The benchmark peer: the same ingest handler with its subtasks, timers and `wait_until` work
//! on plain `wasm_bindgen_futures::spawn_local` (wasm-bindgen-futures' own microtask queue)
//! instead of the WasmScheduler. Used only by the `/peer` routes.

use scheduler::cloud::{ExecutionContext, LocalFuture};
use scheduler::{Instant, Runnable, Scheduler, Unparker};
use std::time::Duration;
use wasm_bindgen_futures::spawn_local;

/// A [`Scheduler`] that hands every runnable straight to `spawn_local`, and timers to
/// `setTimeout` (`worker::Delay`) then `spawn_local`. No sessions, no fairness, no counters:
/// exactly what a Worker gets without this crate.
pub struct SpawnLocalScheduler;

impl Scheduler for SpawnLocalScheduler {
    fn schedule(&self, runnable: Runnable) {
        spawn_local(async move {
            runnable.run();
        });
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.schedule(runnable);
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        spawn_local(async move {
            worker::Delay::from(delay).await;
            runnable.run();
        });
    }

    fn park(&self, _timeout: Option<Duration>) -> bool {
        panic!("SpawnLocalScheduler cannot block: a Worker has one JS thread; `.await` instead");
    }

    fn unparker(&self) -> Unparker {
        parking::pair().1
    }

    fn is_main_thread(&self) -> bool {
        true
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn num_cpus(&self) -> usize {
        1
    }
}

/// `worker::Context` as an [`ExecutionContext`], as workers-rs does it: `wait_until` turns the
/// future into a promise with `future_to_promise`, which runs it on `spawn_local`.
pub struct SpawnLocalContext {
    context: worker::Context,
}

impl SpawnLocalContext {
    /// Wraps the fetch event's context.
    pub fn new(context: worker::Context) -> Self {
        Self { context }
    }
}

impl ExecutionContext for SpawnLocalContext {
    fn wait_until_boxed(&self, future: LocalFuture) {
        self.context.wait_until(future);
    }

    fn pass_through_on_exception(&self) {
        self.context.pass_through_on_exception();
    }
}
