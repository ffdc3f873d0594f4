//! The JS host: its scheduling primitives, detected once (a microtask queue: `queueMicrotask`,
//! or a resolved promise; a macrotask queue: `scheduler.postTask`, with the priority
//! `background` for low-priority work, `setImmediate`, or `setTimeout(0)`; timeouts), and the
//! lines the WasmScheduler writes to `console.error` (a session ended with tasks still running,
//! a panic nobody awaited, a panic that escaped a drain).

use crate::{SessionId, TaskMetadata};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

#[wasm_bindgen]
extern "C" {
    /// `globalThis`, for feature detection.
    type Global;
    #[wasm_bindgen(method, getter, js_name = queueMicrotask)]
    fn queue_microtask_property(this: &Global) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = setImmediate)]
    fn set_immediate_property(this: &Global) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = scheduler)]
    fn scheduler_property(this: &Global) -> JsValue;

    /// The Prioritized Task Scheduling API object (`globalThis.scheduler`).
    type TaskScheduler;
    #[wasm_bindgen(method, getter, js_name = postTask)]
    fn post_task_property(this: &TaskScheduler) -> JsValue;
    #[wasm_bindgen(method, js_name = postTask)]
    fn post_task(this: &TaskScheduler, callback: &Function) -> JsValue;
    #[wasm_bindgen(method, js_name = postTask)]
    fn post_task_with(this: &TaskScheduler, callback: &Function, options: &JsValue) -> JsValue;

    /// Anything with a `then` method (a resolved promise here).
    type Thenable;
    #[wasm_bindgen(method)]
    fn then(this: &Thenable, callback: &Function) -> JsValue;

    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(callback: &Function);
    #[wasm_bindgen(js_name = setImmediate)]
    fn set_immediate(callback: &Function) -> JsValue;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, millis: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
    #[wasm_bindgen(js_name = clearImmediate)]
    fn clear_immediate(handle: &JsValue);

    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// How the host runs a callback "as soon as the current script is done".
enum Microtasks {
    QueueMicrotask,
    ResolvedPromise(Thenable),
}

/// How the host runs a callback after pending timers and I/O had their turn.
enum Macrotasks {
    /// `scheduler.postTask`, and its options `{ priority: "background" }` for low work.
    PostTask(TaskScheduler, JsValue),
    SetImmediate,
    SetTimeout,
}

/// The host's scheduling primitives, detected once per scheduler.
pub(super) struct Host {
    microtasks: Microtasks,
    macrotasks: Macrotasks,
}

impl Host {
    /// Looks at `globalThis` for each primitive and picks the best one present.
    pub(super) fn detect() -> Self {
        let global: Global = js_sys::global().unchecked_into();
        let microtasks = if global.queue_microtask_property().is_function() {
            Microtasks::QueueMicrotask
        } else {
            Microtasks::ResolvedPromise(Promise::resolve(&JsValue::UNDEFINED).unchecked_into())
        };
        let scheduler = global.scheduler_property();
        let macrotasks = if scheduler.is_object()
            && scheduler
                .unchecked_ref::<TaskScheduler>()
                .post_task_property()
                .is_function()
        {
            let background = js_sys::Object::new();
            // Setting a property on a fresh plain object cannot fail.
            let _ = js_sys::Reflect::set(
                &background,
                &JsValue::from_str("priority"),
                &JsValue::from_str("background"),
            );
            Macrotasks::PostTask(scheduler.unchecked_into(), background.into())
        } else if global.set_immediate_property().is_function() {
            Macrotasks::SetImmediate
        } else {
            Macrotasks::SetTimeout
        };
        Self {
            microtasks,
            macrotasks,
        }
    }

    /// Runs `callback` in a microtask: after the current script, before timers and I/O.
    pub(super) fn queue_microtask(&self, callback: &Function) {
        match &self.microtasks {
            Microtasks::QueueMicrotask => queue_microtask(callback),
            Microtasks::ResolvedPromise(promise) => {
                promise.then(callback);
            }
        }
    }

    /// Runs `callback` in a macrotask, so that due timers and I/O callbacks get a turn first;
    /// for `low` work at the host's background priority where it has one (`postTask`).
    pub(super) fn queue_macrotask(&self, callback: &Function, low: bool) {
        match &self.macrotasks {
            Macrotasks::PostTask(scheduler, background) => {
                if low {
                    scheduler.post_task_with(callback, background);
                } else {
                    scheduler.post_task(callback);
                }
            }
            Macrotasks::SetImmediate => {
                set_immediate(callback);
            }
            Macrotasks::SetTimeout => {
                set_timeout(callback, 0.0);
            }
        }
    }

    /// Whether the host has `setImmediate` (Node): a callback after the current turn's I/O,
    /// without `setTimeout`'s millisecond granularity.
    pub(super) fn has_set_immediate(&self) -> bool {
        matches!(self.macrotasks, Macrotasks::SetImmediate)
    }

    /// Which macrotask primitive was detected: `"postTask"`, `"setImmediate"` or `"setTimeout"`.
    pub(super) fn macrotask_kind(&self) -> &'static str {
        match self.macrotasks {
            Macrotasks::PostTask(..) => "postTask",
            Macrotasks::SetImmediate => "setImmediate",
            Macrotasks::SetTimeout => "setTimeout",
        }
    }
}

/// Runs `callback` once after `millis` milliseconds; returns the handle for [`cancel_timeout`].
pub(super) fn start_timeout(callback: &Function, millis: f64) -> JsValue {
    set_timeout(callback, millis)
}

/// Cancels a timeout started by [`start_timeout`] (harmless if it already ran).
pub(super) fn cancel_timeout(handle: &JsValue) {
    clear_timeout(handle);
}

/// Runs `callback` once with `setImmediate` (only where [`Host::has_set_immediate`]); returns the
/// handle for [`cancel_immediate`].
pub(super) fn start_immediate(callback: &Function) -> JsValue {
    set_immediate(callback)
}

/// Cancels a callback started by [`start_immediate`] (harmless if it already ran).
pub(super) fn cancel_immediate(handle: &JsValue) {
    clear_immediate(handle);
}

/// Writes `message` to the host's error log (`console.error`; `wrangler dev` prints it).
pub(super) fn log_error(message: &str) {
    console_error(message);
}

/// Logs one line per cancelled task: its id, label, session and spawn location.
pub(super) fn cancelled_tasks(session: SessionId, tasks: &[TaskMetadata]) {
    for task in tasks {
        log_error(&cancelled_task_line(session, task));
    }
}

/// `scheduler: session#3 ended with task#17 [label fetch] (session#3) spawned at src/a.rs:1:2
/// still running; cancelling it`
pub(super) fn cancelled_task_line(session: SessionId, task: &TaskMetadata) -> String {
    format!("scheduler: {session} ended with {task} still running; cancelling it")
}

/// `scheduler: task#4 (session#2) spawned at src/a.rs:1:2 panicked and nobody awaited it:
/// boom`: a panic nobody will re-raise (the task was detached, or its `Task` dropped unawaited).
pub(super) fn unobserved_panic(task: &TaskMetadata, message: &str) {
    log_error(&unobserved_panic_line(task, message));
}

/// The line of [`unobserved_panic`] (the text of the default hook on native targets).
pub(super) fn unobserved_panic_line(task: &TaskMetadata, message: &str) -> String {
    format!("scheduler: {task} panicked and nobody awaited it: {message}")
}

/// A panic escaped a drain outside any task's poll (see `drain.rs`); `requeued` runnables of
/// its batch were queued again.
#[cfg(panic = "unwind")]
pub(super) fn escaped_panic(message: &str, requeued: usize) {
    log_error(&format!(
        "scheduler: a panic escaped the drain outside any task's poll (a scheduler hook, or a \
         bug in the scheduler): {message}; the scheduler carries on ({requeued} runnables of \
         the batch queued again)"
    ));
}
