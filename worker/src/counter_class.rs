//! The counter's Durable Object class on workerd (`EventCounterObject`, bound as `COUNTER` in
//! `wrangler.toml`): workers-rs's `#[durable_object]` struct around the object's logic,
//! [`EventCounter`], which is written once and tested natively. Each `fetch` event is one
//! session of the isolate's scheduler ([`CloudflareDurableObjectState::serve_fetch`]); the
//! Worker sends them with a `CloudflareDurableObjectNamespace` (`isolate.rs`).
//!
//! worker-build exports the class from `build/index.js`; the `[[migrations]]` entry of
//! `wrangler.toml` creates it (`new_sqlite_classes`: SQLite-backed storage).

use crate::ingest::EventCounter;
use crate::isolate;
use scheduler::cloud::CloudflareDurableObjectState;
use std::rc::Rc;
use worker::{DurableObject, Env, Request, Response, Result, State, durable_object};

/// One event type's counter (the object named by the type).
#[durable_object]
pub struct EventCounterObject {
    state: CloudflareDurableObjectState,
    counter: Rc<EventCounter<CloudflareDurableObjectState>>,
}

// Under `panic = "unwind"`, wasm-bindgen requires an exported type to be unwind safe (its
// methods run inside `catch_unwind`). The object's state is interior-mutable (RefCell, Cell,
// Rc), but every event runs as tasks of the isolate's scheduler, whose wrappers catch a panic
// at the task and leave the books consistent (the session ends, the panic is reported): a panic
// never leaves this value half-updated.
impl std::panic::UnwindSafe for EventCounterObject {}
impl std::panic::RefUnwindSafe for EventCounterObject {}

impl DurableObject for EventCounterObject {
    fn new(state: State, _env: Env) -> Self {
        let state = CloudflareDurableObjectState::new(isolate::scheduler(), state);
        Self {
            counter: Rc::new(EventCounter::new(state.clone())),
            state,
        }
    }

    async fn fetch(&self, request: Request) -> Result<Response> {
        self.state.serve_fetch(self.counter.clone(), request).await
    }
}
