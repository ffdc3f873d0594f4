//! The WasmScheduler's shared state and its drain loop: queueing runnables, running them in
//! bounded batches from JS microtasks (macrotasks once a slice is used up), recording task ends,
//! and closing when the scheduler is dropped.
//!
//! Priorities: a drain runs high runnables first (also those woken by its own batch); low ones
//! run only in macrotask drains (at least one per such drain, after the high and medium work),
//! so low work yields to the host's macrotask queue, and a drain for low work alone is queued
//! as a macrotask (`postTask` at `background` priority where the host has it). A high
//! runnable queued while only a macrotask drain is pending gets a microtask drain of its own.

use super::fairness::{NextDrain, Slice, WasmSchedulerConfig};
use super::host::Host;
use super::run_queue::{Band, RunQueue};
use super::sessions::SessionBook;
use super::timers::{ClosureCounter, TimerBook};
use crate::{Priority, Runnable, TaskMetadata, TaskOutcome};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;

/// What the scheduler's handles and the JS callbacks share (the callbacks through a `Weak`).
pub(super) struct Shared {
    pub(super) state: RefCell<State>,
    pub(super) host: Host,
    pub(super) config: WasmSchedulerConfig,
    pub(super) timer_closures: ClosureCounter,
    /// Counts `end_session` calls, so a drain notices (cheaply) that a runnable of its batch may
    /// have been doomed since the batch was taken from the queue.
    pub(super) sessions_ended: Cell<u64>,
    /// Set when the `WasmScheduler` is dropped: from then on every runnable handed in is dropped.
    pub(super) closed: Cell<bool>,
    /// A high runnable was queued since the drain last looked (cheap to test per runnable).
    high_waiting: Cell<bool>,
    /// The callbacks of microtask and of macrotask drains. `None` only while being dropped.
    drain_callbacks: Option<[DrainCallback; 2]>,
    pub(super) weak_self: Weak<Shared>,
}

/// What JS calls to run a drain.
type DrainCallback = Closure<dyn FnMut(JsValue)>;

/// Which JS queue a drain runs from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Microtask = 0,
    /// Low runnables run only here.
    Macrotask = 1,
}

pub(super) struct State {
    pub(super) queue: RunQueue,
    /// A drain is queued, by kind (microtask, macrotask), and has not started yet.
    pending: [bool; 2],
    /// The pending macrotask drain is a fairness yield (the slice ran out), not only one for
    /// low work: medium wakes from outside wait for it instead of queueing a microtask.
    yielding: bool,
    /// A drain is running now.
    draining: bool,
    pub(super) slice: Slice,
    pub(super) timers: TimerBook,
    pub(super) sessions: SessionBook,
    pub(super) drains: u64,
    /// JS timeouts that came back before their timer's deadline (armed in chunks, or fired
    /// early by the host) and were re-armed.
    pub(super) early_timeouts: u64,
    /// The buffer of the batch being run, kept between drains to reuse its allocation.
    spare_batch: VecDeque<Runnable>,
}

impl Shared {
    /// The shared state of a new scheduler.
    pub(super) fn new(config: WasmSchedulerConfig) -> Rc<Self> {
        Rc::new_cyclic(|weak: &Weak<Shared>| {
            let callback = |kind: Kind| {
                let target = weak.clone();
                Closure::new(move |_: JsValue| {
                    if let Some(shared) = target.upgrade() {
                        shared.drain(kind);
                    }
                })
            };
            Shared {
                state: RefCell::new(State {
                    queue: RunQueue::new(),
                    pending: [false; 2],
                    yielding: false,
                    draining: false,
                    slice: Slice::default(),
                    timers: TimerBook::default(),
                    sessions: SessionBook::default(),
                    drains: 0,
                    early_timeouts: 0,
                    spare_batch: VecDeque::new(),
                }),
                sessions_ended: Cell::new(0),
                closed: Cell::new(false),
                high_waiting: Cell::new(false),
                host: Host::detect(),
                config,
                timer_closures: ClosureCounter::default(),
                drain_callbacks: Some([callback(Kind::Microtask), callback(Kind::Macrotask)]),
                weak_self: weak.clone(),
            }
        })
    }

    /// Runs `f` with the state borrowed. `f` must not run or drop runnables, nor call out to
    /// code that could re-enter the scheduler: it returns such things for the caller to handle.
    #[inline]
    pub(super) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    fn drain_function(&self, kind: Kind) -> &js_sys::Function {
        self.drain_callbacks
            .as_ref()
            .expect("the drain callbacks live as long as the scheduler")[kind as usize]
            .as_ref()
            .unchecked_ref()
    }

    /// Queues a drain of `kind` (state says it is pending); a macrotask one for `low` work
    /// alone asks the host for its background priority.
    fn queue_drain(&self, kind: Kind, low: bool) {
        match kind {
            Kind::Microtask => self.host.queue_microtask(self.drain_function(kind)),
            Kind::Macrotask => self.host.queue_macrotask(self.drain_function(kind), low),
        }
    }

    /// Queues `runnable`, arranging a drain if none is pending or running. The runnable of a
    /// task doomed by an ended session is dropped instead (which cancels the task).
    pub(super) fn enqueue(&self, runnable: Runnable) {
        if self.closed.get() {
            drop(runnable);
            return;
        }
        let outcome = self.with_state(|state| {
            if state.sessions.any_doomed() && state.sessions.is_doomed(runnable.metadata().id()) {
                return Err(runnable);
            }
            Ok(state.push(runnable, &self.high_waiting))
        });
        match outcome {
            Ok(Some((kind, low))) => self.queue_drain(kind, low),
            Ok(None) => {}
            Err(doomed) => drop(doomed),
        }
    }

    /// Records a new task and queues its first runnable, in one borrow.
    pub(super) fn enqueue_spawned(&self, runnable: Runnable) {
        if self.closed.get() {
            drop(runnable);
            return;
        }
        let start_drain = self.with_state(|state| {
            state.record_spawn(runnable.metadata());
            state.push(runnable, &self.high_waiting)
        });
        if let Some((kind, low)) = start_drain {
            self.queue_drain(kind, low);
        }
    }

    /// Runs one batch: the runnables queued now, at most `batch_size`, high first (plus the high
    /// ones this batch wakes, up to another `batch_size`); low ones only in a macrotask drain.
    /// Then queues the next drain if work remains: a microtask, or a macrotask once the slice
    /// is used up or only low work is left.
    fn drain(&self, kind: Kind) {
        let low = kind == Kind::Macrotask;
        let batch = self.with_state(|state| {
            state.pending[kind as usize] = false;
            if low {
                state.yielding = false;
            }
            if state.draining {
                // Unreachable through JS (a callback never runs inside another); refuse to nest.
                return None;
            }
            state.draining = true;
            state.drains += 1;
            state.slice.begin_drain();
            let mut taken = std::mem::take(&mut state.spare_batch);
            // A macrotask drain runs one low runnable first, so low work progresses however
            // much high and medium work keeps coming.
            let first_low = if low { state.queue.pop_low() } else { None };
            let queue = &mut state.queue;
            let low_len = if low { queue.low_len() } else { 0 };
            let count = if !queue.has_high()
                && low_len == 0
                && queue.take_single_lane(self.config.batch_size, &mut taken)
            {
                taken.len()
            } else {
                (queue.urgent_len() + low_len).min(self.config.batch_size)
            };
            Some((taken, count, first_low))
        });
        let Some((mut taken, count, first_low)) = batch else {
            return;
        };
        let sessions_ended = self.sessions_ended.get();
        let mut high_budget = self.config.batch_size;
        if let Some(runnable) = first_low {
            runnable.run();
        }
        // No borrow is held while a runnable runs: it may schedule, spawn or drop tasks.
        for _ in 0..count {
            if self.closed.get() {
                // The scheduler was dropped by a runnable of this batch: run nothing more.
                taken.clear();
                break;
            }
            if taken.is_empty() {
                // Several sessions or priorities: one at a time, so each lane gets its turn and
                // high work woken meanwhile goes first.
                match self.with_state(|state| state.queue.pop_by_priority(low)) {
                    Some(runnable) => {
                        runnable.run();
                    }
                    None => break,
                }
                continue;
            }
            // High work woken by this batch goes before the rest of it.
            while self.high_waiting.get() && high_budget > 0 && !self.closed.get() {
                let Some(high) = self.with_state(|state| state.queue.pop_high()) else {
                    self.high_waiting.set(false);
                    break;
                };
                high_budget -= 1;
                high.run();
            }
            let runnable = taken.pop_front().expect("not empty");
            if self.sessions_ended.get() != sessions_ended
                && self.with_state(|state| {
                    state.sessions.any_doomed()
                        && state.sessions.is_doomed(runnable.metadata().id())
                })
            {
                // Its session was ended by an earlier runnable of this batch.
                drop(runnable);
                continue;
            }
            runnable.run();
        }
        if taken.capacity() > 4 * self.config.batch_size {
            // A burst grew it; a small buffer serves normal batches better.
            taken = VecDeque::new();
        }
        let closed = self.closed.get();
        let next = self.with_state(|state| {
            state.spare_batch = taken;
            state.draining = false;
            if closed {
                return None;
            }
            let urgent = state.queue.urgent_len() > 0;
            let next = match state.slice.end_drain(count, urgent, &self.config) {
                Some(NextDrain::Microtask) => (Kind::Microtask, false),
                Some(NextDrain::Macrotask) => (Kind::Macrotask, false),
                // Only low work left: it waits for a macrotask.
                None if state.queue.low_len() > 0 => (Kind::Macrotask, true),
                None => return None,
            };
            if next == (Kind::Macrotask, false) {
                state.yielding = true;
            }
            if state.pending[next.0 as usize] {
                // A drain of that kind is already queued (a macrotask one, for low work): it
                // takes over.
                return None;
            }
            state.pending[next.0 as usize] = true;
            Some(next)
        });
        if let Some((kind, low)) = next {
            self.queue_drain(kind, low);
        }
    }

    pub(super) fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        if !self.closed.get() {
            self.with_state(|state| state.sessions.task_ended(metadata, outcome));
        }
    }

    /// The `WasmScheduler` was dropped: refuse all work from now on, drop what is queued
    /// (cancelling those tasks) and clear every timer. Tasks may keep this value alive a while
    /// (through their handle); it frees itself once the last one lets go.
    pub(super) fn close(&self) {
        self.closed.set(true);
        let (runnables, timers) = self.with_state(|state| {
            let mut runnables = state.queue.take_all();
            runnables.extend(state.spare_batch.drain(..));
            (runnables, state.timers.take_all())
        });
        for timer in &timers {
            timer.cancel();
        }
        // Outside the borrow: dropping futures may wake or end tasks, which come back here and
        // are refused.
        drop(runnables);
        drop(timers);
    }
}

impl State {
    /// Counts a new task (and routes runnables by session once a session appears).
    fn record_spawn(&mut self, metadata: &TaskMetadata) {
        if metadata.session().is_some() {
            self.queue.use_session_lanes();
        }
        if metadata.priority() != Priority::Medium {
            self.queue.use_priority_bands();
        }
        self.sessions.task_spawned(metadata);
    }

    /// Queues `runnable`. Returns the drain the caller must queue, if any (and whether it is
    /// for low work alone); the state then already counts that drain as pending. None while a
    /// drain runs: its end decides. A high runnable gets a microtask drain unless one is
    /// pending; a medium one too, unless a fairness yield is pending (kept: the host's
    /// macrotasks go first); a low one a macrotask drain unless any drain is pending.
    fn push(&mut self, runnable: Runnable, high_waiting: &Cell<bool>) -> Option<(Kind, bool)> {
        let band = self.queue.push(runnable);
        if band == Band::High {
            high_waiting.set(true);
        }
        let [micro, macro_] = self.pending;
        let next = match band {
            _ if self.draining => return None,
            Band::High if !micro => (Kind::Microtask, false),
            Band::Medium if !(micro || macro_ && self.yielding) => (Kind::Microtask, false),
            Band::Low if !micro && !macro_ => (Kind::Macrotask, true),
            _ => return None,
        };
        self.pending[next.0 as usize] = true;
        Some(next)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let runnables = state.queue.take_all();
        let timers = state.timers.take_all();
        let pending = state.pending;
        for timer in &timers {
            timer.cancel();
        }
        // Dropping futures may wake tasks of this scheduler: it is closed, so those runnables
        // are dropped too and nothing re-enters this value.
        drop(runnables);
        drop(timers);
        if let Some(callbacks) = self.drain_callbacks.take() {
            for (callback, pending) in callbacks.into_iter().zip(pending) {
                if pending {
                    // A queued microtask or macrotask still holds the callback; freeing it
                    // would make the host throw when it runs. Leak it: it only holds a dead
                    // `Weak`.
                    callback.forget();
                }
            }
        }
    }
}
