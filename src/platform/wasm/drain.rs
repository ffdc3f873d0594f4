//! The WasmScheduler's shared state and its drain loop: queueing runnables, running them in
//! bounded batches from JS microtasks (macrotasks once a slice is used up), recording task ends,
//! and closing when the scheduler is dropped.

use super::fairness::{NextDrain, Slice, WasmSchedulerConfig};
use super::host::Host;
use super::run_queue::RunQueue;
use super::sessions::SessionBook;
use super::timers::{ClosureCounter, TimerBook};
use crate::{Runnable, TaskMetadata, TaskOutcome};
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
    /// The callback of every drain (microtask or macrotask). `None` only while being dropped.
    drain_callback: Option<Closure<dyn FnMut(JsValue)>>,
    pub(super) weak_self: Weak<Shared>,
}

pub(super) struct State {
    pub(super) queue: RunQueue,
    /// A drain is queued (as a microtask or a macrotask) and has not started yet.
    drain_pending: bool,
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
            let drain_target = weak.clone();
            Shared {
                state: RefCell::new(State {
                    queue: RunQueue::new(),
                    drain_pending: false,
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
                host: Host::detect(),
                config,
                timer_closures: ClosureCounter::default(),
                drain_callback: Some(Closure::new(move |_: JsValue| {
                    if let Some(shared) = drain_target.upgrade() {
                        shared.drain();
                    }
                })),
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

    fn drain_function(&self) -> &js_sys::Function {
        self.drain_callback
            .as_ref()
            .expect("the drain callback lives as long as the scheduler")
            .as_ref()
            .unchecked_ref()
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
            Ok(state.push(runnable))
        });
        match outcome {
            Ok(true) => self.host.queue_microtask(self.drain_function()),
            Ok(false) => {}
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
            state.push(runnable)
        });
        if start_drain {
            self.host.queue_microtask(self.drain_function());
        }
    }

    /// Runs one batch: the runnables queued now, at most `batch_size`. Then queues the next
    /// drain if work remains, as a microtask or, once the slice is used up, as a macrotask.
    fn drain(&self) {
        let batch = self.with_state(|state| {
            state.drain_pending = false;
            if state.draining {
                // Unreachable through JS (a callback never runs inside another); refuse to nest.
                return None;
            }
            state.draining = true;
            state.drains += 1;
            state.slice.begin_drain();
            let mut taken = std::mem::take(&mut state.spare_batch);
            let count = if state
                .queue
                .take_single_lane(self.config.batch_size, &mut taken)
            {
                taken.len()
            } else {
                state.queue.len().min(self.config.batch_size)
            };
            Some((taken, count))
        });
        let Some((mut taken, count)) = batch else {
            return;
        };
        let sessions_ended = self.sessions_ended.get();
        // No borrow is held while a runnable runs: it may schedule, spawn or drop tasks.
        for _ in 0..count {
            if self.closed.get() {
                // The scheduler was dropped by a runnable of this batch: run nothing more.
                taken.clear();
                break;
            }
            let runnable = if taken.is_empty() {
                // Several sessions: one at a time, so each lane gets its turn.
                match self.with_state(|state| state.queue.pop()) {
                    Some(runnable) => runnable,
                    None => break,
                }
            } else {
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
                runnable
            };
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
            if state.drain_pending || closed {
                return None;
            }
            let next = state
                .slice
                .end_drain(count, !state.queue.is_empty(), &self.config);
            state.drain_pending = next.is_some();
            next
        });
        match next {
            Some(NextDrain::Microtask) => self.host.queue_microtask(self.drain_function()),
            Some(NextDrain::Macrotask) => self.host.queue_macrotask(self.drain_function()),
            None => {}
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
        self.sessions.task_spawned(metadata);
    }

    /// Queues `runnable`. Returns whether the caller must queue a drain (none is pending or
    /// running); the state then already counts that drain as pending.
    fn push(&mut self, runnable: Runnable) -> bool {
        self.queue.push(runnable);
        let start_drain = !self.drain_pending && !self.draining;
        self.drain_pending |= start_drain;
        start_drain
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let runnables = state.queue.take_all();
        let timers = state.timers.take_all();
        let drain_pending = state.drain_pending;
        for timer in &timers {
            timer.cancel();
        }
        // Dropping futures may wake tasks of this scheduler: it is closed, so those runnables
        // are dropped too and nothing re-enters this value.
        drop(runnables);
        drop(timers);
        if drain_pending {
            // A queued microtask or macrotask still holds the callback; freeing it would make
            // the host throw when it runs. Leak it: it only holds a dead `Weak`.
            if let Some(callback) = self.drain_callback.take() {
                callback.forget();
            }
        }
    }
}
