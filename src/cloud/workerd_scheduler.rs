//! [`WorkerdScheduler`]: the [`WasmScheduler`] as workerd needs it, with wakes routed into the
//! right request's I/O context.
//!
//! In workerd every request has its own I/O context, and JS code runs in the context of whatever
//! armed it: a promise reaction in the context that called `then`, a timeout in the context that
//! set it. I/O started in a request's context is cancelled when that request ends. When a task of
//! request A wakes a task of request B directly (A releases a lock B waits on, A sends on a
//! channel B reads), B would run inside A's drain, in A's context: its I/O would belong to A and
//! die with A ("The Workers runtime canceled this request because it detected that your Worker's
//! code had hung"), and I/O objects of B would be refused ("Cannot perform I/O on behalf of a
//! different request").
//!
//! So each session keeps an *anchor*: a pending promise whose reaction was registered in the
//! session's own context. A wake of a task of session B from a task of another session is parked
//! on B's anchor and the anchor is resolved; the reaction then runs in B's context and hands the
//! parked runnables to the WasmScheduler there (re-arming the anchor from B's context). Wakes
//! from the task's own session, from JS callbacks (which already run in the right context) and of
//! tasks without a session go straight to the WasmScheduler.

use crate::platform::wasm::WasmScheduler;
use crate::{
    Instant, Runnable, Scheduler, SessionId, TaskMetadata, TaskOutcome, Unparker, session,
};
use js_sys::{Function, Promise};
use rustc_hash::FxHashMap;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// A promise, seen only through `then(function)`.
    type Thenable;
    #[wasm_bindgen(method)]
    fn then(this: &Thenable, callback: &Function) -> JsValue;
}

/// A [`WasmScheduler`] whose cross-request wakes run in the woken request's I/O context (see
/// the module docs). Use it as the `Arc<dyn Scheduler>` of a Worker; sessions are created and
/// ended through [`CloudflareExecutionContext`](super::CloudflareExecutionContext).
pub struct WorkerdScheduler {
    wasm: Arc<WasmScheduler>,
    anchors: Rc<RefCell<FxHashMap<SessionId, Anchor>>>,
    routed_wakes: Cell<u64>,
}

// SAFETY: wasm32 without the `atomics` target feature has exactly one thread (the wasm platform
// module refuses to compile with `atomics`), so the `Rc`, `RefCell` and JS handles inside can
// never be reached from two threads. `Scheduler`'s `Send + Sync` bounds exist for the native
// multi-threaded backends.
unsafe impl Send for WorkerdScheduler {}
// SAFETY: as for `Send` above: there is no second thread to share it with.
unsafe impl Sync for WorkerdScheduler {}

/// A session's way back into its own I/O context.
struct Anchor {
    /// Resolves the pending promise; `None` once resolved (the reaction is on its way).
    resolve: Option<Function>,
    /// Runnables woken from other sessions, waiting for the reaction.
    parked: Vec<Runnable>,
}

impl std::fmt::Debug for WorkerdScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerdScheduler")
            .field("routed_wakes", &self.routed_wakes.get())
            .finish_non_exhaustive()
    }
}

impl WorkerdScheduler {
    /// Wraps `wasm`. A `WorkerdScheduler` lives as long as the isolate: its tasks hold it (see
    /// [`Scheduler::task_handle`]'s default).
    pub fn new(wasm: Arc<WasmScheduler>) -> Arc<Self> {
        Arc::new(Self {
            wasm,
            anchors: Rc::default(),
            routed_wakes: Cell::new(0),
        })
    }

    /// The WasmScheduler inside (sessions, counters).
    pub fn wasm(&self) -> &Arc<WasmScheduler> {
        &self.wasm
    }

    /// How many wakes came from another session's task and were routed through the woken
    /// session's anchor so far.
    pub fn routed_wakes(&self) -> u64 {
        self.routed_wakes.get()
    }

    /// Opens a session and arms its anchor. Call it in the request's own context (in the fetch
    /// handler); [`CloudflareExecutionContext::new`](super::CloudflareExecutionContext::new)
    /// does.
    pub fn create_session(&self) -> SessionId {
        let session = self.wasm.create_session();
        arm(&self.anchors, session);
        session
    }

    /// Forgets the session's anchor once the session has ended; runnables still parked on it
    /// are dropped (they belong to the ended session's cancelled tasks).
    pub fn forget_session(&self, session: SessionId) {
        let anchor = self.anchors.borrow_mut().remove(&session);
        if let Some(anchor) = anchor {
            // Let the pending reaction run (and free its closure); it finds no anchor.
            if let Some(resolve) = anchor.resolve {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
            drop(anchor.parked);
        }
    }

    /// Routes a runnable: parked on its session's anchor when woken from another session.
    fn route(&self, runnable: Runnable, schedule: impl FnOnce(&WasmScheduler, Runnable)) {
        let target = runnable.metadata().session();
        let cross_session = matches!(
            (target, session::current()),
            (Some(target), Some(current)) if target != current
        );
        if !cross_session {
            return schedule(&self.wasm, runnable);
        }
        let target = target.expect("a cross-session wake has a target session");
        let mut anchors = self.anchors.borrow_mut();
        let Some(anchor) = anchors.get_mut(&target) else {
            drop(anchors);
            return schedule(&self.wasm, runnable);
        };
        anchor.parked.push(runnable);
        self.routed_wakes.set(self.routed_wakes.get() + 1);
        let resolve = anchor.resolve.take();
        drop(anchors);
        if let Some(resolve) = resolve {
            // Only queues the reaction: nothing runs re-entrantly here.
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }
}

/// Creates `session`'s anchor: a promise whose reaction, registered now (in the current
/// context), re-arms the anchor and schedules the runnables parked on it.
fn arm(anchors: &Rc<RefCell<FxHashMap<SessionId, Anchor>>>, session: SessionId) {
    let mut resolve = None;
    let promise = Promise::new(&mut |resolve_fn, _reject| resolve = Some(resolve_fn));
    let weak = Rc::downgrade(anchors);
    let reaction = Closure::once_into_js(move |_: JsValue| {
        let Some(anchors) = weak.upgrade() else {
            return;
        };
        let parked = match anchors.borrow_mut().get_mut(&session) {
            Some(anchor) => std::mem::take(&mut anchor.parked),
            None => return,
        };
        arm(&anchors, session);
        for runnable in parked {
            // In this session's context now: the drain it queues runs here too.
            runnable.schedule();
        }
    });
    promise
        .unchecked_ref::<Thenable>()
        .then(reaction.unchecked_ref());
    let resolve = resolve.expect("the Promise executor runs synchronously");
    let mut anchors = anchors.borrow_mut();
    let anchor = anchors.entry(session).or_insert_with(|| Anchor {
        resolve: None,
        parked: Vec::new(),
    });
    anchor.resolve = Some(resolve);
}

impl Scheduler for WorkerdScheduler {
    fn schedule(&self, runnable: Runnable) {
        self.route(runnable, |wasm, runnable| wasm.schedule(runnable));
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.route(runnable, |wasm, runnable| {
            wasm.schedule_foreground(runnable)
        });
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        self.wasm.schedule_after(delay, runnable);
    }

    fn park(&self, timeout: Option<Duration>) -> bool {
        self.wasm.park(timeout)
    }

    fn unparker(&self) -> Unparker {
        self.wasm.unparker()
    }

    fn is_main_thread(&self) -> bool {
        true
    }

    fn now(&self) -> Instant {
        self.wasm.now()
    }

    fn next_task_id(&self) -> crate::TaskId {
        self.wasm.next_task_id()
    }

    fn num_cpus(&self) -> usize {
        1
    }

    /// Records the task in the WasmScheduler's counters and queues it.
    fn schedule_spawned(&self, runnable: Runnable) {
        self.route(runnable, |wasm, runnable| wasm.schedule_spawned(runnable));
    }

    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        self.wasm.task_ended(metadata, outcome);
    }

    fn timer_cancelled(&self, timer: &TaskMetadata) {
        self.wasm.timer_cancelled(timer);
    }
}
