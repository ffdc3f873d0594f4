//! Test helpers: JS sleeps and a yield future (which do not go through the scheduler under
//! test), the usual way to make a scheduler and spawn into a session, and a fake
//! `worker::Context` for `CloudflareExecutionContext`.

use js_sys::{Array, Function, Promise, Reflect};
use scheduler::platform::wasm::WasmScheduler;
use scheduler::{Scheduler, SessionId, Task, session};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, millis: f64) -> JsValue;
}

/// Resolves after `millis` ms, on a plain JS `setTimeout` (not the scheduler under test).
pub async fn js_sleep(millis: f64) {
    let promise = Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, millis);
    });
    JsFuture::from(promise)
        .await
        .expect("a setTimeout promise never rejects");
}

/// Resolves on a later macrotask: every microtask queued before has run by then.
pub async fn next_macrotask() {
    js_sleep(0.0).await;
}

/// A future that returns `Pending` `times` times, waking itself each time (a cooperative yield).
pub struct Yield {
    left: u32,
}

impl Future for Yield {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.left == 0 {
            Poll::Ready(())
        } else {
            self.left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Yields once.
pub fn yield_now() -> Yield {
    Yield { left: 1 }
}

/// Yields `times` times.
pub fn yield_times(times: u32) -> Yield {
    Yield { left: times }
}

/// A fresh `WasmScheduler`, as itself and as the `Arc<dyn Scheduler>` tasks are spawned on.
pub fn new_wasm_scheduler() -> (Arc<WasmScheduler>, Arc<dyn Scheduler>) {
    let wasm = WasmScheduler::new();
    let scheduler: Arc<dyn Scheduler> = wasm.clone();
    (wasm, scheduler)
}

/// Spawns `future` on `scheduler` as a task of `session`.
pub fn spawn_in<T: Send + 'static>(
    scheduler: &Arc<dyn Scheduler>,
    session: SessionId,
    future: impl Future<Output = T> + Send + 'static,
) -> Task<T> {
    session::with(Some(session), || scheduler.spawn(future))
}

/// A fake `ExecutionContext` object of the Workers runtime, and its record: the promises handed
/// to `waitUntil` (see [`wait_until_promises`]) and whether `passThroughOnException` was called
/// (`passedThrough`).
pub fn fake_context() -> (worker::Context, JsValue) {
    let make = Function::new_no_args(
        "const record = { promises: [], passedThrough: false };
         record.context = {
             waitUntil(promise) { record.promises.push(promise); },
             passThroughOnException() { record.passedThrough = true; },
         };
         return record;",
    );
    let record = make.call0(&JsValue::UNDEFINED).expect("makes the record");
    let context = Reflect::get(&record, &"context".into()).expect("has a context");
    (worker::Context::new(context.unchecked_into()), record)
}

/// The promises handed to the fake context's `waitUntil` so far (see [`fake_context`]).
pub fn wait_until_promises(record: &JsValue) -> Vec<Promise> {
    let promises: Array = Reflect::get(record, &"promises".into())
        .expect("has promises")
        .unchecked_into();
    promises.iter().map(JsCast::unchecked_into).collect()
}
