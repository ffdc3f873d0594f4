//! The WasmScheduler's shared state and its drain loop: queueing runnables, running them in
//! bounded batches from JS microtasks (macrotasks once a slice is used up), recording task ends,
//! and closing when the scheduler is dropped.
//!
//! Priorities: a drain runs high runnables first (also those woken by its own batch); low ones
//! run only in macrotask drains (at least one per such drain, after the high and medium work),
//! so low work yields to the host's macrotask queue, and a drain for low work alone is queued
//! as a macrotask (`postTask` at `background` priority where the host has it). A high
//! runnable queued while only a macrotask drain is pending gets a microtask drain of its own.
//!
//! Yields are per session: when a slice runs out with high or medium work still queued, that
//! work leaves the queue, grouped by session (with the oldest low runnable of one of those
//! sessions first, as a macrotask drain runs one low runnable first), and each group gets a
//! *continuation*: a macrotask armed now, which runs that group and nothing else
//! ([`Shared::run_continuation`]). Work queued
//! afterwards gets microtask drains as usual. In workerd this keeps every request in its own
//! I/O context: a runnable is queued either by a drain or in an event of its own request, and
//! a microtask drain runs in the checkpoint of the event that queued it, so what is still
//! queued when a drain ends was queued in the current context, the one the continuation is
//! armed in (a timer runs in the context that armed it). A single shared yield macrotask would
//! instead run whatever other requests queued meanwhile in the context of the request that
//! armed it, and workerd refuses their I/O ("Cannot perform I/O on behalf of a different
//! request").
//!
//! Panics: a task's panic is caught in its wrapper (`task::future`). Under `panic = "unwind"`,
//! a panic that escapes a drain outside any task's poll (a scheduler hook of a custom
//! `Scheduler`, or a bug here) is caught at the drain, reported with `console.error`, and the
//! batch's remaining runnables are queued again, so the drain state stays consistent and the
//! scheduler keeps running. (A panic in a task's `Drop` or in a waker is an abort in async-task,
//! as on native targets: the instance traps; see `instance.rs`.)
//!
//! Time slices ([`WasmSchedulerConfig`], `Slice`): a drain runs a batch, the runnables queued
//! when it starts, at most [`batch_size`](WasmSchedulerConfig::batch_size). If work remains,
//! the next drain is queued as a microtask while the current *slice* (consecutive drains
//! without a pause) is within budget; once it is not, the work waits for macrotasks (the
//! continuations above), so that due timers, I/O and other requests get a turn even while a
//! task keeps waking itself.

use super::host::Host;
use super::instance;
use super::run_queue::{Band, RunQueue};
use super::sessions::SessionBook;
use super::timers::{ClosureCounter, TimerBook};
use crate::scheduler::LocalQueue;
use crate::{Instant, Priority, Runnable, SessionId, TaskMetadata, TaskOutcome};
use js_sys::Function;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::Duration;
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
    /// A high runnable was queued since the drain last looked.
    high_waiting: Cell<bool>,
    /// Bumped whenever a running batch must look up from its runnables: the scheduler closed,
    /// a high runnable was queued, a session ended. The batch compares it once per runnable
    /// instead of testing each of those.
    attention: Cell<u32>,
    /// The callbacks of microtask and of macrotask drains. `None` only while being dropped.
    drain_callbacks: Option<[DrainCallback; 2]>,
    /// The same, as handed to JS: guarded so that they never enter a dead instance.
    drain_functions: [Function; 2],
    /// The session whose continuation is running now (`Some(None)`: the work of no session).
    continuing: Cell<Option<Option<SessionId>>>,
    pub(super) weak_self: Weak<Shared>,
    /// The run queue's no-session lane, which tasks hold for their wakes (kept here so that a
    /// spawn gets it without borrowing the state).
    local: LocalQueue,
}

/// What JS calls to run a drain.
type DrainCallback = Closure<dyn FnMut(JsValue)>;

/// What a drain runs: its batch (in order), how many of them, and first a low runnable.
struct Batch {
    taken: VecDeque<Runnable>,
    count: usize,
    first_low: Option<Runnable>,
    low: bool,
    /// A session's continuation: runs exactly `taken`, nothing from the queue.
    continuation: bool,
}

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
    /// A drain is running now.
    draining: bool,
    pub(super) slice: Slice,
    pub(super) timers: TimerBook,
    pub(super) sessions: SessionBook,
    pub(super) drains: u64,
    /// JS timeouts that came back before their timer's deadline (armed in chunks, or fired
    /// early by the host) and were re-armed.
    pub(super) early_timeouts: u64,
    /// `setImmediate` re-checks of timeouts that came back less than a millisecond early.
    pub(super) early_rechecks: u64,
    /// The buffer of the batch being run, kept between drains to reuse its allocation.
    spare_batch: VecDeque<Runnable>,
    /// Continuations armed by yields (one per session with queued work).
    pub(super) continuations: u64,
}

impl Shared {
    /// The shared state of a new scheduler.
    pub(super) fn new(config: WasmSchedulerConfig) -> Rc<Self> {
        Rc::new_cyclic(|weak: &Weak<Shared>| {
            let callback = |kind: Kind| {
                let target = weak.clone();
                // Unwind-safe as asserted: no panic escapes a drain (it catches them, see the
                // module docs), and its state is consistent between drains.
                DrainCallback::own_assert_unwind_safe(move |_: JsValue| {
                    if let Some(shared) = target.upgrade() {
                        shared.drain(kind);
                    }
                })
            };
            let local = LocalQueue::new();
            let callbacks = [callback(Kind::Microtask), callback(Kind::Macrotask)];
            let drain_functions = [
                instance::guarded(callbacks[0].as_ref()),
                instance::guarded(callbacks[1].as_ref()),
            ];
            Shared {
                state: RefCell::new(State {
                    queue: RunQueue::new(local.clone()),
                    pending: [false; 2],
                    draining: false,
                    slice: Slice::default(),
                    timers: TimerBook::default(),
                    sessions: SessionBook::default(),
                    drains: 0,
                    early_timeouts: 0,
                    early_rechecks: 0,
                    spare_batch: VecDeque::new(),
                    continuations: 0,
                }),
                sessions_ended: Cell::new(0),
                closed: Cell::new(false),
                high_waiting: Cell::new(false),
                attention: Cell::new(0),
                host: Host::detect(),
                config,
                timer_closures: ClosureCounter::default(),
                drain_callbacks: Some(callbacks),
                drain_functions,
                continuing: Cell::new(None),
                weak_self: weak.clone(),
                local,
            }
        })
    }

    /// Runs `f` with the state borrowed. `f` must not run or drop runnables, nor call out to
    /// code that could re-enter the scheduler: it returns such things for the caller to handle.
    /// Then opens or closes the no-session lane to direct pushes from wakes (see
    /// [`State::takes_wakes`]).
    #[inline]
    pub(super) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.borrow_mut();
        let result = f(&mut state);
        let open = !self.closed.get() && state.takes_wakes();
        state.queue.local().set_open(open);
        result
    }

    /// The queue that wakes of this scheduler's tasks push into directly while it is open.
    pub(super) fn local_queue(&self) -> &LocalQueue {
        &self.local
    }

    fn drain_function(&self, kind: Kind) -> &Function {
        &self.drain_functions[kind as usize]
    }

    /// The session whose yield continuation is running now, if one is: `Some(None)` for the
    /// work of no session.
    pub(super) fn continuing(&self) -> Option<Option<SessionId>> {
        self.continuing.get()
    }

    /// Queues a drain of `kind` (state says it is pending); a macrotask one for `low` work
    /// alone asks the host for its background priority.
    fn queue_drain(&self, kind: Kind, low: bool) {
        match kind {
            Kind::Microtask => self.host.queue_microtask(self.drain_function(kind)),
            Kind::Macrotask => self.host.queue_macrotask(self.drain_function(kind), low),
        }
    }

    /// Something a running batch must look at happened (see `attention`).
    pub(super) fn attend(&self) {
        self.attention.set(self.attention.get().wrapping_add(1));
    }

    /// Queues `runnable`, arranging a drain if none is pending or running. The runnable of a
    /// task doomed by an ended session is dropped instead (which cancels the task).
    ///
    /// The common case (open, nothing doomed, no session lanes or priority bands in use) is
    /// inline: one borrow, one push, no metadata read.
    #[inline]
    pub(super) fn enqueue(&self, runnable: Runnable) {
        if let Some(runnable) = self.enqueue_plain(runnable) {
            self.enqueue_routed(runnable);
        }
    }

    /// The common case of [`enqueue`](Self::enqueue); gives the runnable back otherwise.
    #[inline(always)]
    fn enqueue_plain(&self, runnable: Runnable) -> Option<Runnable> {
        if self.closed.get() {
            return Some(runnable);
        }
        let mut state = self.state.borrow_mut();
        if state.sessions.any_doomed() {
            return Some(runnable);
        }
        if let Some(runnable) = state.queue.push_plain(runnable) {
            return Some(runnable);
        }
        let next = state.medium_queued();
        let open = state.takes_wakes();
        state.queue.local().set_open(open);
        drop(state);
        if let Some((kind, low)) = next {
            self.queue_drain(kind, low);
        }
        None
    }

    /// [`enqueue`](Self::enqueue) past the common case: closed, doomed tasks, or routing by
    /// session or priority.
    #[inline(never)]
    fn enqueue_routed(&self, runnable: Runnable) {
        if self.closed.get() {
            drop(runnable);
            return;
        }
        let outcome = self.with_state(|state| {
            if state.sessions.any_doomed() && state.sessions.is_doomed(runnable.metadata().id()) {
                return Err(runnable);
            }
            Ok(state.push(runnable, self))
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
            match state.queue.push_plain(runnable) {
                None => state.medium_queued(),
                Some(runnable) => state.push(runnable, self),
            }
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
            if !state.begin_drain() {
                // Unreachable through JS (a callback never runs inside another); refuse to nest.
                return None;
            }
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
            Some(Batch {
                taken,
                count,
                first_low,
                low,
                continuation: false,
            })
        });
        let Some(mut batch) = batch else {
            return;
        };
        let count = batch.count;
        self.run_guarded(&mut batch);
        self.finish_drain(count, batch.taken);
    }

    /// A session's continuation after a yield (see the module docs), in the macrotask armed
    /// by the yield: runs `runnables`, and nothing else, as one drain. Runnables they wake are
    /// drained as usual (in this context).
    fn run_continuation(&self, session: Option<SessionId>, runnables: Vec<Runnable>) {
        if self.closed.get() {
            drop(runnables);
            return;
        }
        let started = self.with_state(|state| state.begin_drain());
        if !started {
            // Unreachable through JS (a callback never runs inside another): queue them.
            runnables
                .into_iter()
                .for_each(|runnable| self.enqueue(runnable));
            return;
        }
        let mut batch = Batch {
            count: runnables.len(),
            taken: runnables.into(),
            first_low: None,
            low: true,
            continuation: true,
        };
        let count = batch.count;
        let outer = self.continuing.replace(Some(session));
        self.run_guarded(&mut batch);
        self.continuing.set(outer);
        self.finish_drain(count, std::mem::take(&mut batch.taken));
    }

    /// Arms `session`'s continuation: a macrotask, armed now (so in the current I/O context),
    /// that runs `runnables`. If the scheduler is gone by then, they are dropped (which cancels
    /// their tasks).
    fn arm_continuation(&self, session: Option<SessionId>, runnables: Vec<Runnable>) {
        let target = self.weak_self.clone();
        // Unwind-safe as asserted: a continuation runs its runnables in a drain, which catches
        // every panic.
        let continuation =
            Closure::<dyn FnMut(JsValue)>::once_assert_unwind_safe(move |_: JsValue| match target
                .upgrade()
            {
                Some(shared) => shared.run_continuation(session, runnables),
                None => drop(runnables),
            })
            .into_js_value();
        self.host
            .queue_macrotask(&instance::guarded(&continuation), false);
    }

    /// Runs `batch` (see [`run_batch`](Self::run_batch)). Under `panic = "unwind"`, a panic that
    /// escapes it (outside any task's poll: tasks catch their own) is reported and the batch's
    /// remaining runnables are queued again, so that the drain ends normally.
    fn run_guarded(&self, batch: &mut Batch) {
        #[cfg(panic = "unwind")]
        {
            let escaped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.run_batch(batch);
            }));
            if let Err(payload) = escaped {
                let remaining: Vec<Runnable> = batch.taken.drain(..).collect();
                super::host::escaped_panic(
                    crate::task::panic::panic_message(&payload),
                    remaining.len(),
                );
                for runnable in remaining {
                    self.with_state(|state| state.queue.push(runnable));
                }
            }
        }
        #[cfg(not(panic = "unwind"))]
        self.run_batch(batch);
    }

    /// Runs a drain's batch. No borrow is held while a runnable runs: it may schedule, spawn or
    /// drop tasks.
    fn run_batch(&self, batch: &mut Batch) {
        let Batch {
            taken,
            count,
            first_low,
            low,
            continuation,
        } = batch;
        let (count, low, continuation) = (*count, *low, *continuation);
        let sessions_ended = self.sessions_ended.get();
        let mut high_budget = self.config.batch_size;
        if let Some(runnable) = first_low.take() {
            runnable.run();
        }
        // What the batch saw of `attention`: different at first, so that high work queued
        // before the drain goes first.
        let mut seen = self.attention.get().wrapping_sub(1);
        let mut check_doomed = continuation;
        let mut left = count;
        while left > 0 {
            while self.attention.get() != seen {
                seen = self.attention.get();
                if self.closed.get() {
                    // The scheduler was dropped by a runnable of this batch: run nothing more.
                    taken.clear();
                    return;
                }
                // A session was ended by an earlier runnable of this batch: its runnables
                // left in the batch are dropped instead of run.
                check_doomed |= self.sessions_ended.get() != sessions_ended;
                // High work woken by this batch goes before the rest of it (not in a
                // continuation, which runs its session's runnables only). Running it may
                // close the scheduler or end a session: hence the loop.
                while !continuation
                    && !taken.is_empty()
                    && self.high_waiting.get()
                    && high_budget > 0
                    && !self.closed.get()
                {
                    let Some(high) = self.with_state(|state| state.queue.pop_high()) else {
                        self.high_waiting.set(false);
                        break;
                    };
                    high_budget -= 1;
                    high.run();
                }
            }
            if !check_doomed && !taken.is_empty() {
                // The common case, in a loop of its own: nothing to look at, nothing doomed.
                left -= self.run_plain(taken, left, seen);
                continue;
            }
            left -= 1;
            let Some(runnable) = taken.pop_front() else {
                if continuation {
                    break;
                }
                // Several sessions or priorities: one at a time, so each lane gets its turn and
                // high work woken meanwhile goes first.
                match self.with_state(|state| state.queue.pop_by_priority(low)) {
                    Some(runnable) => {
                        runnable.run();
                    }
                    None => break,
                }
                continue;
            };
            if check_doomed
                && self.with_state(|state| {
                    state.sessions.any_doomed()
                        && state.sessions.is_doomed(runnable.metadata().id())
                })
            {
                // Its session was ended by an earlier runnable of this batch (or, for a
                // continuation, since the yield).
                drop(runnable);
                continue;
            }
            runnable.run();
        }
    }

    /// Runs runnables from the front of `taken`, at most `max`, while nothing needs the batch's
    /// attention (`attention` still equals `seen`); returns how many ran. Kept small and apart
    /// from `run_batch`, so that the loop of the common case keeps its values in registers.
    #[inline(never)]
    fn run_plain(&self, taken: &mut VecDeque<Runnable>, max: usize, seen: u32) -> usize {
        let mut ran = 0;
        while ran < max && self.attention.get() == seen {
            let Some(runnable) = taken.pop_front() else {
                break;
            };
            ran += 1;
            runnable.run();
        }
        ran
    }

    /// Ends a drain that ran `count` runnables: keeps the batch buffer, and queues the next
    /// drain if work remains: a microtask one, or, once the slice is used up, a continuation
    /// per session for the high and medium work (see the module docs); low work alone waits
    /// for a macrotask drain.
    fn finish_drain(&self, count: usize, mut taken: VecDeque<Runnable>) {
        if taken.capacity() > 4 * self.config.batch_size {
            // A burst grew it; a small buffer serves normal batches better.
            taken = VecDeque::new();
        }
        let closed = self.closed.get();
        let (next, yielded) = self.with_state(|state| {
            state.spare_batch = taken;
            state.draining = false;
            if closed {
                return (None, Vec::new());
            }
            let urgent = state.queue.urgent_len() > 0;
            let (next, yielded) = match state.slice.end_drain(count, urgent, &self.config) {
                Some(NextDrain::Microtask) => ((Kind::Microtask, false), Vec::new()),
                Some(NextDrain::Macrotask) => {
                    let mut yielded = state.queue.take_urgent_by_session();
                    // Low work progresses however much urgent work keeps coming (a host may
                    // run its background macrotasks only when idle): the oldest low runnable
                    // of a session yielded now runs first in that session's continuation.
                    let low = state
                        .queue
                        .take_low_of(|session| yielded.iter().any(|(s, _)| *s == session));
                    if let Some(low) = low {
                        let session = low.metadata().session();
                        match yielded.iter_mut().find(|(s, _)| *s == session) {
                            Some((_, group)) => group.insert(0, low),
                            // Unreachable (it was taken for one of these sessions): keep it.
                            None => {
                                state.queue.push(low);
                            }
                        }
                    }
                    state.continuations += yielded.len() as u64;
                    if state.queue.low_len() == 0 {
                        return (None, yielded);
                    }
                    ((Kind::Macrotask, true), yielded)
                }
                // Only low work left: it waits for a macrotask.
                None if state.queue.low_len() > 0 => ((Kind::Macrotask, true), Vec::new()),
                None => return (None, Vec::new()),
            };
            if state.pending[next.0 as usize] {
                // A drain of that kind is already queued (a macrotask one, for low work): it
                // takes over.
                return (None, yielded);
            }
            state.pending[next.0 as usize] = true;
            (Some(next), yielded)
        });
        for (session, runnables) in yielded {
            self.arm_continuation(session, runnables);
        }
        if let Some((kind, low)) = next {
            self.queue_drain(kind, low);
        }
    }

    pub(super) fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        if !self.closed.get() {
            self.with_state(|state| {
                state.sessions.task_ended(metadata, outcome);
                if metadata.priority() != Priority::Medium && !state.sessions.non_medium_running() {
                    // The last task of another priority ended: back to the common case.
                    state.queue.stop_priority_bands();
                }
            });
        }
    }

    /// The `WasmScheduler` was dropped: refuse all work from now on, drop what is queued
    /// (cancelling those tasks) and clear every timer. Tasks may keep this value alive a while
    /// (through their handle); it frees itself once the last one lets go.
    pub(super) fn close(&self) {
        self.closed.set(true);
        self.attend();
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
    /// Whether a wake may push its runnable straight into the no-session lane (the
    /// [`LocalQueue`](crate::scheduler::LocalQueue) that tasks hold) instead of calling the
    /// scheduler: while nothing needs routing (no session lanes, no priority bands), no task is
    /// doomed, and a drain is running or a microtask drain is pending (so none needs arranging).
    /// The scheduler must also be open (checked by the caller).
    #[inline]
    fn takes_wakes(&self) -> bool {
        !self.queue.routed()
            && !self.sessions.any_doomed()
            && (self.draining || self.pending[Kind::Microtask as usize])
    }

    /// A medium runnable was queued: the drain the caller must queue, if any (see
    /// [`push`](Self::push)).
    #[inline(always)]
    fn medium_queued(&mut self) -> Option<(Kind, bool)> {
        let micro = &mut self.pending[Kind::Microtask as usize];
        if self.draining || *micro {
            return None;
        }
        *micro = true;
        Some((Kind::Microtask, false))
    }

    /// Marks a drain running; `false` if one already is (drains never nest).
    fn begin_drain(&mut self) -> bool {
        if self.draining {
            return false;
        }
        self.draining = true;
        self.drains += 1;
        self.slice.begin_drain();
        true
    }

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
    /// drain runs: its end decides. A high or medium runnable gets a microtask drain unless one
    /// is pending (work a yield put off waits in its continuations, not in the queue); a low
    /// one a macrotask drain unless any drain is pending.
    fn push(&mut self, runnable: Runnable, shared: &Shared) -> Option<(Kind, bool)> {
        let band = self.queue.push(runnable);
        if band == Band::High {
            shared.high_waiting.set(true);
            shared.attend();
        }
        let [micro, macro_] = self.pending;
        let next = match band {
            _ if self.draining => return None,
            Band::High | Band::Medium if !micro => (Kind::Microtask, false),
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
        state.queue.local().set_open(false);
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

/// Tuning of a [`WasmScheduler`](super::WasmScheduler). `Default` suits browsers, Node and
/// Workers.
#[derive(Clone, Debug)]
pub struct WasmSchedulerConfig {
    /// Most runnables one microtask drain runs before queueing the next drain.
    pub batch_size: usize,
    /// After this much time running drains back to back, the queued work waits for a macrotask.
    pub slice_budget: Duration,
    /// After this many runnables in one slice, the queued work waits for a macrotask even if
    /// the clock did not move (Workers freeze the clock while JS runs).
    pub slice_max_runs: usize,
}

impl Default for WasmSchedulerConfig {
    fn default() -> Self {
        Self {
            batch_size: 1024,
            slice_budget: Duration::from_millis(4),
            slice_max_runs: 50_000,
        }
    }
}

/// Where the next drain runs, if any.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum NextDrain {
    Microtask,
    Macrotask,
}

/// One slice: drains that followed each other with work always pending.
#[derive(Default)]
pub(super) struct Slice {
    started: Option<Instant>,
    runs: usize,
    /// Slices ended by the budget (observability for tests and stats).
    yields: u64,
}

impl Slice {
    /// Called when a drain starts.
    pub(super) fn begin_drain(&mut self) {
        if self.started.is_none() {
            self.started = Some(Instant::now());
            self.runs = 0;
        }
    }

    /// Called when a drain that ran `ran` runnables ends; `more` tells whether work is queued.
    pub(super) fn end_drain(
        &mut self,
        ran: usize,
        more: bool,
        config: &WasmSchedulerConfig,
    ) -> Option<NextDrain> {
        self.runs += ran;
        if !more {
            self.started = None;
            return None;
        }
        let over_budget = self.runs >= config.slice_max_runs
            || self
                .started
                .is_some_and(|started| started.elapsed() >= config.slice_budget);
        if over_budget {
            self.started = None;
            self.yields += 1;
            Some(NextDrain::Macrotask)
        } else {
            Some(NextDrain::Microtask)
        }
    }

    /// How many slices ended because they ran out of budget.
    pub(super) fn yields(&self) -> u64 {
        self.yields
    }
}
