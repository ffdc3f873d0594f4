//! What a panicking task does on wasm32.
//!
//! `wasm32-unknown-unknown` only has `panic = "abort"` on stable Rust: a panic runs the panic
//! hook, then executes `unreachable`, which traps. Nothing unwinds, so the task's `catch_unwind`
//! (which re-raises a panic where the task is awaited on native targets) catches nothing. The
//! trap surfaces in the host as an uncaught `RuntimeError: unreachable` from the microtask that
//! ran the drain, and that scheduler never drains again: the instance must be recreated. This
//! file holds a single test because the trap leaves the Rust runtime marked as panicking.
#![cfg(all(target_arch = "wasm32", not(panic = "unwind")))]

use js_sys::{Array, Function, Reflect};
use scheduler::Scheduler;
use scheduler::platform::wasm::WasmScheduler;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::support::js_sleep;

/// Records uncaught exceptions (Node: `process.on('uncaughtException')`; browsers: the global
/// `error` event) into a JS array, instead of letting them end the run.
fn record_uncaught_errors() -> Array {
    let errors = Array::new();
    let install = Function::new_with_args(
        "errors",
        "if (typeof process !== 'undefined' && process.on) {
             process.on('uncaughtException', (error) => errors.push(String(error)));
         } else {
             globalThis.addEventListener('error', (event) => {
                 errors.push(String(event.error || event.message));
                 event.preventDefault();
             });
         }",
    );
    install
        .call1(&JsValue::UNDEFINED, &errors)
        .expect("installing the handler");
    errors
}

#[wasm_bindgen_test]
async fn a_panicking_task_traps_the_instance_and_its_scheduler_stops() {
    let errors = record_uncaught_errors();
    let console = wasm_tests::console_capture::ConsoleErrorCapture::start();
    let scheduler: Arc<dyn Scheduler> = WasmScheduler::new();
    let after_ran = Arc::new(AtomicBool::new(false));
    scheduler
        .spawn(async {
            panic!("boom in a task");
        })
        .detach();
    let after = scheduler.spawn({
        let after_ran = after_ran.clone();
        async move { after_ran.store(true, Ordering::SeqCst) }
    });
    js_sleep(50.0).await;
    let logged = console.lines();
    drop(console);

    let errors: Vec<String> = errors.iter().map(|e| e.as_string().unwrap()).collect();
    assert_eq!(errors.len(), 1, "one uncaught trap: {errors:?}");
    assert!(
        errors[0].contains("RuntimeError") && errors[0].contains("unreachable"),
        "the panic aborted with a wasm trap: {errors:?}"
    );
    assert!(
        logged.iter().any(|line| line.contains("boom in a task")),
        "the panic hook printed the message before the abort: {logged:?}"
    );
    assert!(
        !after_ran.load(Ordering::SeqCst),
        "the task queued behind the panicking one never runs: the drain was cut short"
    );
    assert!(!after.is_finished());
    assert!(std::thread::panicking(), "the aborted panic never finished");
    // Keep the wedged scheduler's tasks from being dropped while the runtime is in this state.
    std::mem::forget((after, scheduler));
    // The JS side of the instance is still usable.
    assert!(Reflect::has(&js_sys::global(), &"setTimeout".into()).unwrap());
}
