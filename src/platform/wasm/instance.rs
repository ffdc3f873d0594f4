//! The wasm instance the scheduler runs in, and what must not outlive it: every callback the
//! scheduler hands to JS (drains, timeouts, workerd's anchor reactions and ticks) enters wasm
//! only while the instance that made it is alive.
//!
//! A `panic = "abort"` build (and a hard abort under `panic = "unwind"`: a panic in a `Drop`
//! that async-task turns into an abort, out of memory, a stack overflow) traps: the instance is
//! dead, and its Rust state is stuck halfway (borrows held, a drain marked running). wasm-bindgen
//! can then replace it with a fresh instance of the same module (`__wbg_reset_state`, which
//! `worker-build` wires to the first call after a trap). JS still holds the old instance's
//! callbacks: a timeout, a queued drain, a session's 50 ms tick. Called after the trap they would
//! run the stuck state; called after the reset, wasm-bindgen's glue may reset on that very call
//! and then run the *new* instance's code with the *old* closure's pointer (its instance check
//! comes before the reset). So each callback is wrapped in a JS guard that reads the old
//! instance's own termination flag (wasm-bindgen's `__instance_terminated`, in the old memory)
//! and returns without entering wasm once it is set, or once the callback failed as a dead
//! instance's callback does (a trap, "Cannot invoke closure from previous WASM instance",
//! "Module terminated"); an interval clears itself. A trap is still rethrown once, so the host
//! (and `worker-build`'s shim) sees it.
//!
//! Each instance registers a record on `globalThis` (it outlives the instance). The next
//! instance finds the dead records: how many instances died and how many requests were in
//! flight on them (counted by the Worker's execution context), for
//! [`take_reset`](super::take_reset) and the Worker's stats. (Records are per realm: two
//! different wasm modules using this crate in one JS realm would see each other's dead
//! instances.)

use js_sys::Function;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
const book = (globalThis.__tandem_scheduler_instances ??= {
  records: [], resets: 0, requests_failed: 0, skipped_callbacks: 0,
});

function isDead(record) {
  if (!record.dead) {
    let view = record.view;
    if (view === null || view.buffer !== record.memory.buffer) {
      view = record.view = new Int32Array(record.memory.buffer);
    }
    if (view[record.flagAddress >>> 2] !== 0) record.dead = true;
  }
  return record.dead;
}

function staleCall(error) {
  return error instanceof Error &&
    /from previous W(?:asm|ASM) instance|Module terminated/.test(error.message);
}

export function register_instance(memory, flagAddress) {
  const record = {
    memory, flagAddress, view: null, dead: false, inFlight: 0, previous: null,
  };
  let instances = 0, inFlight = 0;
  book.records = book.records.filter((other) => {
    if (!isDead(other)) return true;
    instances += 1;
    inFlight += other.inFlight;
    return false;
  });
  if (instances > 0) {
    book.resets += instances;
    book.requests_failed += inFlight;
    record.previous = { instances, inFlight };
  }
  book.records.push(record);
  return record;
}

export function guard(record, callback) {
  return function (argument) {
    if (isDead(record)) {
      book.skipped_callbacks += 1;
      return undefined;
    }
    try {
      return callback(argument);
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError) {
        record.dead = true;
      } else if (staleCall(error)) {
        record.dead = true;
        book.skipped_callbacks += 1;
        return undefined;
      }
      throw error;
    }
  };
}

export function start_interval(record, callback, millis) {
  const guarded = guard(record, callback);
  const handle = setInterval(() => {
    try {
      guarded();
    } finally {
      if (record.dead) clearInterval(handle);
    }
  }, millis);
  return handle;
}

export function request_started(record) { record.inFlight += 1; }
export function request_ended(record) { record.inFlight -= 1; }

export function take_previous(record) {
  const previous = record.previous;
  record.previous = null;
  return previous === null ? undefined : [previous.instances, previous.inFlight];
}

export function totals() {
  return [book.resets, book.requests_failed, book.skipped_callbacks];
}
"#)]
extern "C" {
    /// This instance's record on `globalThis` (see the module docs).
    type InstanceRecord;

    fn register_instance(memory: &JsValue, flag_address: u32) -> InstanceRecord;
    fn guard(record: &InstanceRecord, callback: &JsValue) -> Function;
    fn start_interval(record: &InstanceRecord, callback: &JsValue, millis: f64) -> JsValue;
    fn request_started(record: &InstanceRecord);
    fn request_ended(record: &InstanceRecord);
    fn take_previous(record: &InstanceRecord) -> Option<Vec<f64>>;
    fn totals() -> Vec<f64>;
}

thread_local! {
    static RECORD: InstanceRecord = register_instance(
        &wasm_bindgen::memory(),
        // The address of wasm-bindgen's termination flag in this instance's memory: its glue
        // sets it when a call into the instance traps (with worker-build's
        // `--force-enable-abort-handler`, and under `panic = "unwind"`).
        (&raw const wasm_bindgen::__rt::__instance_terminated) as usize as u32,
    );
}

/// `callback` wrapped so that it enters wasm only while this instance is alive (see the module
/// docs). Every callback the scheduler hands to JS goes through here.
pub(super) fn guarded(callback: &JsValue) -> Function {
    RECORD.with(|record| guard(record, callback))
}

/// `setInterval(callback, millis)` whose callback enters wasm only while this instance is
/// alive, and which clears itself once the instance is dead. Returns the interval's handle.
#[cfg_attr(not(workerd), allow(dead_code))]
pub(super) fn start_guarded_interval(callback: &JsValue, millis: f64) -> JsValue {
    RECORD.with(|record| start_interval(record, callback, millis))
}

/// A request started on this instance (the Worker's execution context counts them, so that
/// the next instance can tell how many died with this one).
#[cfg_attr(not(workerd), allow(dead_code))]
pub(crate) fn request_started_here() {
    RECORD.with(request_started);
}

/// A request of this instance ended (its session ended).
#[cfg_attr(not(workerd), allow(dead_code))]
pub(crate) fn request_ended_here() {
    RECORD.with(request_ended);
}

/// Earlier wasm instances of this JS realm (this isolate) that died before this one started: a
/// trap (a panic under `panic = "abort"`, or a hard abort) and then a reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstanceReset {
    /// How many instances died.
    pub instances: u64,
    /// Requests (Worker execution contexts) that were in flight on them and failed with them.
    pub requests_in_flight: u64,
}

/// The earlier instances that died before this one registered, once: the first call in an
/// instance returns them (if any), later calls `None`.
pub fn take_reset() -> Option<InstanceReset> {
    let previous = RECORD.with(take_previous)?;
    Some(InstanceReset {
        instances: previous.first().copied().unwrap_or(0.0) as u64,
        requests_in_flight: previous.get(1).copied().unwrap_or(0.0) as u64,
    })
}

/// Totals of this JS realm, kept on `globalThis` across resets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstanceTotals {
    /// Instances found dead by a later instance.
    pub resets: u64,
    /// Requests in flight on those instances.
    pub requests_failed: u64,
    /// Callbacks of dead instances that were skipped instead of entering wasm.
    pub skipped_callbacks: u64,
}

/// The totals of this JS realm so far (they survive instance resets).
pub fn instance_totals() -> InstanceTotals {
    let totals = totals();
    let at = |index: usize| totals.get(index).copied().unwrap_or(0.0) as u64;
    InstanceTotals {
        resets: at(0),
        requests_failed: at(1),
        skipped_callbacks: at(2),
    }
}
