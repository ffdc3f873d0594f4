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
//!
//! workerd defers the reaction of a promise resolved from another request's context to the
//! promise's own context, but not always: under sustained load (after some thousands of
//! requests; seen with wrangler 4.164 and workerd 2026-11-17) the reactions start to run in the
//! resolving request's context. So the reaction checks where it runs (with a `ContextProbe`
//! made with the anchor) and, in the wrong context, leaves the runnables parked. Each session
//! also has a *tick*: an interval armed in its own context when the session is created, which
//! every `TICK` (50 ms) hands over whatever a reaction could not, and re-arms the anchor there
//! (a timer always runs in the context that armed it). The tick also keeps the request alive
//! while it waits for another request (workerd cancels a request with nothing pending in its
//! context as hung), and it stops itself, in its own context, once the session is forgotten.
//!
//! The starvation guard needs none of this: when a slice runs long, the WasmScheduler (with its
//! default [`WasmSchedulerConfig`](super::WasmSchedulerConfig)) yields per session, each
//! session's queued work to a continuation armed in the context it was queued in, its own (see
//! [`WasmScheduler::running_continuation`]). So a request that wakes itself forever gives way to
//! timers, I/O and the other requests after each slice, and resumes in its own I/O context.
//!
//! Every callback handed to JS here (anchor reactions, ticks) is guarded: it never enters a
//! wasm instance that died (see `instance.rs`), and a tick of a dead instance clears itself.

use super::instance;
use crate::platform::wasm::WasmScheduler;
use crate::{
    Instant, Runnable, Scheduler, SessionId, TaskMetadata, TaskOutcome, Unparker, session,
};
use js_sys::{Function, Promise};
use rustc_hash::FxHashMap;
use std::cell::{Cell, RefCell};
use std::panic::AssertUnwindSafe;
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

    /// A `Response`, only to own a body stream (see [`ContextProbe`]).
    #[wasm_bindgen(js_name = Response)]
    type ProbeResponse;
    #[wasm_bindgen(catch, constructor, js_class = "Response")]
    fn new(body: &str) -> Result<ProbeResponse, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn body(this: &ProbeResponse) -> JsValue;

    /// A `ReadableStream`, seen only through `tee()`.
    type ProbeStream;
    #[wasm_bindgen(method, catch)]
    fn tee(this: &ProbeStream) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = clearInterval)]
    fn clear_interval(handle: &JsValue);
}

/// How often a session's tick runs (see the module docs).
const TICK: Duration = Duration::from_millis(50);

/// An I/O object (a response body stream) of the context it was made in. Using it from another
/// request's context throws ("Cannot perform I/O on behalf of a different request"): that is
/// how a callback tells whether it runs in that context. Each probe is used once.
struct ContextProbe(Option<JsValue>);

impl ContextProbe {
    /// A probe of the current context (none on a host without `Response` streams: then every
    /// check passes).
    fn new() -> Self {
        Self(ProbeResponse::new(" ").ok().map(|response| response.body()))
    }

    /// Whether this runs in the probe's context. Uses the probe up.
    fn in_context(self) -> bool {
        match self.0 {
            Some(stream) if !stream.is_null() => {
                stream.unchecked_ref::<ProbeStream>().tee().is_ok()
            }
            _ => true,
        }
    }
}

/// A [`WasmScheduler`] whose cross-request wakes run in the woken request's I/O context (see
/// the module docs). Use it as the `Arc<dyn Scheduler>` of a Worker; sessions are created and
/// ended through [`CloudflareExecutionContext`](crate::cloud::CloudflareExecutionContext).
pub struct WorkerdScheduler {
    wasm: Arc<WasmScheduler>,
    anchors: Anchors,
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
    /// Resolves the pending promise; `None` once resolved (its reaction, or the tick, hands the
    /// parked runnables over and re-arms).
    resolve: Option<Function>,
    /// Counts the armings: only the reaction of the current one acts.
    generation: u64,
    /// Runnables woken from other sessions, waiting for the reaction or the tick.
    parked: Vec<Runnable>,
    /// The session's interval (see the module docs).
    tick: JsValue,
}

/// Every session's anchor, and how many reactions ran in the wrong context.
#[derive(Default)]
struct AnchorBook {
    anchors: RefCell<FxHashMap<SessionId, Anchor>>,
    misplaced_reactions: Cell<u64>,
}

type Anchors = Rc<AnchorBook>;

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

    /// How many anchor reactions ran in another request's context so far (workerd did not
    /// defer them); the session's tick handed their runnables over instead.
    pub fn misplaced_reactions(&self) -> u64 {
        self.anchors.misplaced_reactions.get()
    }

    /// Opens a session, arms its anchor and starts its tick. Call it in the request's own
    /// context (in the fetch handler);
    /// [`CloudflareExecutionContext::new`](crate::cloud::CloudflareExecutionContext::new) does.
    pub fn create_session(&self) -> SessionId {
        let session = self.wasm.create_session();
        let tick = start_tick(&self.anchors, session);
        self.anchors.anchors.borrow_mut().insert(
            session,
            Anchor {
                resolve: None,
                generation: 0,
                parked: Vec::new(),
                tick,
            },
        );
        arm(&self.anchors, session);
        session
    }

    /// Forgets the session's anchor once the session has ended; runnables still parked on it
    /// are dropped (they belong to the ended session's cancelled tasks). Its tick is cleared
    /// (from any other context, its next run stops it).
    pub fn forget_session(&self, session: SessionId) {
        let anchor = self.anchors.anchors.borrow_mut().remove(&session);
        if let Some(anchor) = anchor {
            clear_interval(&anchor.tick);
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
        let mut anchors = self.anchors.anchors.borrow_mut();
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

/// Arms `session`'s anchor (if the session is still known): a promise whose reaction,
/// registered now (in the current context, which must be the session's), hands the parked
/// runnables over, if it runs in that context.
fn arm(anchors: &Anchors, session: SessionId) {
    let generation = {
        let mut anchors = anchors.anchors.borrow_mut();
        let Some(anchor) = anchors.get_mut(&session) else {
            return;
        };
        anchor.generation += 1;
        anchor.generation
    };
    let probe = ContextProbe::new();
    let (promise, resolve) = pending_promise();
    let weak = Rc::downgrade(anchors);
    // Unwind-safe as asserted: handing over only schedules runnables.
    let reaction = Closure::<dyn FnMut(JsValue)>::once_assert_unwind_safe(move |_: JsValue| {
        let Some(anchors) = weak.upgrade() else {
            return;
        };
        // In another request's context, nothing here may run: the tick hands them over.
        if probe.in_context() {
            hand_over(&anchors, session, Some(generation));
        } else {
            let misplaced = &anchors.misplaced_reactions;
            misplaced.set(misplaced.get() + 1);
        }
    })
    .into_js_value();
    promise
        .unchecked_ref::<Thenable>()
        .then(&instance::guarded(&reaction));
    if let Some(anchor) = anchors.anchors.borrow_mut().get_mut(&session) {
        anchor.resolve = Some(resolve);
    }
}

/// In `session`'s context: schedules the runnables parked on its anchor and re-arms it, unless
/// the anchor is armed and unresolved (nothing to do) or `generation` names an older arming.
fn hand_over(anchors: &Anchors, session: SessionId, generation: Option<u64>) {
    let parked = {
        let mut anchors = anchors.anchors.borrow_mut();
        let Some(anchor) = anchors.get_mut(&session) else {
            return;
        };
        if anchor.resolve.is_some() || generation.is_some_and(|g| g != anchor.generation) {
            return;
        }
        std::mem::take(&mut anchor.parked)
    };
    arm(anchors, session);
    for runnable in parked {
        // In this session's context now: the drain it queues runs here too.
        runnable.schedule();
    }
}

/// A pending promise and its `resolve` function.
fn pending_promise() -> (Promise, Function) {
    let mut resolve = None;
    let mut slot = AssertUnwindSafe(&mut resolve);
    let promise = Promise::new(&mut move |resolve_fn, _reject| **slot = Some(resolve_fn));
    let resolve = resolve.expect("the Promise executor runs synchronously");
    (promise, resolve)
}

/// Starts `session`'s tick in the current context (the session's): every [`TICK`] it hands
/// over what the anchor's reaction could not; once the session is forgotten it clears itself.
/// The callback is owned by JS, so a tick that fires late never finds it freed.
fn start_tick(anchors: &Anchors, session: SessionId) -> JsValue {
    let weak = Rc::downgrade(anchors);
    let own_handle = Rc::new(RefCell::new(JsValue::UNDEFINED));
    let handle_seen = own_handle.clone();
    // Unwind-safe as asserted: handing over only schedules runnables.
    let callback = Closure::<dyn FnMut()>::own_assert_unwind_safe(move || {
        let live = weak
            .upgrade()
            .filter(|anchors| anchors.anchors.borrow().contains_key(&session));
        match live {
            Some(anchors) => hand_over(&anchors, session, None),
            None => clear_interval(&handle_seen.borrow()),
        }
    })
    .into_js_value();
    // Guarded: once this instance is dead the interval clears itself (see `instance.rs`).
    let handle = instance::start_guarded_interval(&callback, TICK.as_secs_f64() * 1000.0);
    *own_handle.borrow_mut() = handle.clone();
    handle
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

    fn unobserved_panic(&self, task: &TaskMetadata, message: &str) {
        self.wasm.unobserved_panic(task, message);
    }
}
