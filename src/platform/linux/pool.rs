//! The background thread pool: named worker threads fed by a global injector queue plus one
//! local work-stealing deque per worker (crossbeam-deque), with spin-then-park idling.
//!
//! Priorities: medium work takes that path; high and low work have one global queue each.
//! A worker serves high first, then medium, then low, with a bounded-starvation rule
//! (`Shared::find_work`): every [`MEDIUM_TURN`]th run takes medium before high, and every
//! [`LOW_TURN`]th run takes low first. With all three bands waiting, a worker's runs split
//! 60/30/10 (the weights of [`Priority`](crate::Priority)); a low runnable waits at most
//! [`LOW_TURN`] runs of each worker, however much high work keeps coming.

use super::sleepers::Sleepers;
use super::timers::TimerQueue;
use crate::task::runnable::run_contained;
use crate::{Priority, Runnable};
use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::Backoff;
use parking::Parker;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};

/// After this many local runnables a worker looks at the injector first, so work posted from
/// outside the pool is not starved by tasks that keep rescheduling themselves locally.
const INJECTOR_CHECK_INTERVAL: u32 = 61;

/// Every this many runs, a worker takes medium work before high work.
const MEDIUM_TURN: u32 = 3;

/// Every this many runs, a worker takes low work before anything else but timers.
const LOW_TURN: u32 = 10;

static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The local deque of the pool worker running on this thread (none on other threads).
    static LOCAL: RefCell<Option<LocalQueue>> = const { RefCell::new(None) };
}

struct LocalQueue {
    pool_id: u64,
    worker: Worker<Runnable>,
}

/// State shared by the pool handle and its worker threads.
struct Shared {
    id: u64,
    injector: Injector<Runnable>,
    /// Tasks woken by due timers: every worker takes these before anything else, so a timer is
    /// not late by the length of the backlog queued before it fired.
    urgent: Injector<Runnable>,
    /// High-priority (and realtime, if one lands here) runnables.
    high: Injector<Runnable>,
    /// Low-priority runnables.
    low: Injector<Runnable>,
    /// About how many runnables `high` and `low` hold (a hint, kept in step with them): while
    /// it reads 0, a worker looks for medium work only, at the cost of one load. The sleeping
    /// handshake does not rely on it (`has_visible_work` looks at the queues themselves).
    banded: AtomicUsize,
    stealers: Vec<Stealer<Runnable>>,
    /// The parked workers and how to wake them.
    sleepers: Sleepers,
    shutdown: AtomicBool,
    /// Workers fire due timers too (see `timers.rs`).
    timers: Arc<TimerQueue>,
}

/// A fixed set of background threads running [`Runnable`]s.
pub(super) struct Pool {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `threads` workers named `{name}-{index}`; they also fire due `timers`.
    pub(super) fn new(
        threads: usize,
        name: &str,
        timers: Arc<TimerQueue>,
    ) -> std::io::Result<Self> {
        let workers: Vec<Worker<Runnable>> = (0..threads).map(|_| Worker::new_fifo()).collect();
        let (parkers, unparkers): (Vec<Parker>, Vec<_>) =
            (0..threads).map(|_| parking::pair()).unzip();
        let shared = Arc::new(Shared {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            injector: Injector::new(),
            urgent: Injector::new(),
            high: Injector::new(),
            low: Injector::new(),
            banded: AtomicUsize::new(0),
            stealers: workers.iter().map(Worker::stealer).collect(),
            sleepers: Sleepers::new(unparkers),
            shutdown: AtomicBool::new(false),
            timers,
        });
        let mut handles = Vec::with_capacity(threads);
        for (index, (worker, parker)) in workers.into_iter().zip(parkers).enumerate() {
            let worker_shared = shared.clone();
            let spawned = thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || worker_main(&worker_shared, index, worker, parker));
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(error) => {
                    // Stop the workers already started before reporting the failure.
                    let pool = Pool {
                        shared,
                        threads: handles,
                    };
                    drop(pool);
                    return Err(error);
                }
            }
        }
        Ok(Self {
            shared,
            threads: handles,
        })
    }

    /// A handle that queues runnables on this pool (for the scheduler and the timer thread).
    pub(super) fn handle(&self) -> PoolHandle {
        PoolHandle(self.shared.clone())
    }
}

/// Queues runnables on a [`Pool`]. Once the pool is dropped, pushed runnables are dropped.
pub(super) struct PoolHandle(Arc<Shared>);

impl PoolHandle {
    /// How many worker threads the pool runs.
    pub(super) fn size(&self) -> usize {
        self.0.sleepers.workers()
    }

    /// Queues `runnable`: a high or low one on its band's queue; a medium one on the caller's
    /// local deque if the caller is a worker of this pool, on the shared injector otherwise.
    /// Then wakes a parked worker if there is one.
    ///
    /// Once the pool is shutting down, runnables are dropped instead: a queued runnable holds
    /// the handle that queued it (through its task's schedule function), so keeping it would be
    /// a reference cycle, and it would never run anyway.
    pub(super) fn push(&self, runnable: Runnable) {
        if self.0.shutdown.load(Ordering::Acquire) {
            drop(runnable);
            return;
        }
        push(&self.0, runnable);
        // `push` ends with a SeqCst fence (in `Sleepers::wake_one`). Pairs with the fence in `Pool::drop`:
        // either the pool's final drain sees this runnable, or this load sees the shutdown.
        if self.0.shutdown.load(Ordering::SeqCst) {
            self.0.drain_injector();
        }
    }
}

fn push(shared: &Shared, runnable: Runnable) {
    if super::timers::is_firing() {
        shared.urgent.push(runnable);
        shared.sleepers.wake_one();
        return;
    }
    match runnable.metadata().priority() {
        Priority::Medium => {}
        Priority::High | Priority::Realtime => {
            shared.high.push(runnable);
            shared.banded.fetch_add(1, Ordering::Relaxed);
            shared.sleepers.wake_one();
            return;
        }
        Priority::Low => {
            shared.low.push(runnable);
            shared.banded.fetch_add(1, Ordering::Relaxed);
            shared.sleepers.wake_one();
            return;
        }
    }
    let mut pending = Some(runnable);
    // `try_with` fails only while this thread's locals are being destroyed: then the
    // injector takes the runnable.
    let _ = LOCAL.try_with(|local| {
        if let Some(queue) = local.borrow().as_ref()
            && queue.pool_id == shared.id
            && let Some(runnable) = pending.take()
        {
            queue.worker.push(runnable);
        }
    });
    if let Some(runnable) = pending {
        shared.injector.push(runnable);
    }
    shared.sleepers.wake_one();
}

impl Shared {
    /// Takes the next runnable for worker `index` (`ticks` runs so far): due timers' tasks, then
    /// high, medium and low work, except that every `LOW_TURN`th run takes low work first and
    /// every `MEDIUM_TURN`th run takes medium work before high (bounded starvation).
    fn find_work(&self, index: usize, local: &Worker<Runnable>, ticks: u32) -> Option<Runnable> {
        if !self.urgent.is_empty()
            && let Some(runnable) = steal_one(&self.urgent)
        {
            return Some(runnable);
        }
        if self.banded.load(Ordering::Relaxed) == 0 {
            return self.find_medium(index, local, ticks);
        }
        if ticks.is_multiple_of(LOW_TURN)
            && let Some(runnable) = self.take(&self.low)
        {
            return Some(runnable);
        }
        let medium_turn = ticks.is_multiple_of(MEDIUM_TURN);
        if !medium_turn && let Some(runnable) = self.take(&self.high) {
            return Some(runnable);
        }
        self.find_medium(index, local, ticks)
            .or_else(|| self.take(&self.high))
            .or_else(|| self.take(&self.low))
    }

    /// Takes one runnable from a band's queue, if it has any (one load when it is empty).
    #[inline]
    fn take(&self, band: &Injector<Runnable>) -> Option<Runnable> {
        if band.is_empty() {
            return None;
        }
        let runnable = steal_one(band)?;
        self.banded.fetch_sub(1, Ordering::Relaxed);
        Some(runnable)
    }

    /// Takes medium work: local deque, then injector, then stealing.
    fn find_medium(&self, index: usize, local: &Worker<Runnable>, ticks: u32) -> Option<Runnable> {
        // The periodic check takes one runnable, not a batch: a batch would go to the back of
        // this worker's deque, behind its backlog, which is what the check is meant to skip.
        if ticks.is_multiple_of(INJECTOR_CHECK_INTERVAL)
            && let Some(runnable) = self.steal_injector_one()
        {
            return Some(runnable);
        }
        local
            .pop()
            .or_else(|| self.steal_injector(local))
            .or_else(|| self.steal_others(index, local))
    }

    fn steal_injector_one(&self) -> Option<Runnable> {
        steal_one(&self.injector)
    }

    fn steal_injector(&self, local: &Worker<Runnable>) -> Option<Runnable> {
        loop {
            match self.injector.steal_batch_and_pop(local) {
                Steal::Success(runnable) => return Some(runnable),
                Steal::Empty => return None,
                Steal::Retry => {}
            }
        }
    }

    /// Steals about half of another worker's deque into `local` (one CAS for the batch).
    fn steal_others(&self, index: usize, local: &Worker<Runnable>) -> Option<Runnable> {
        let count = self.stealers.len();
        loop {
            let mut retry = false;
            for offset in 1..count {
                match self.stealers[(index + offset) % count].steal_batch_and_pop(local) {
                    Steal::Success(runnable) => return Some(runnable),
                    Steal::Empty => {}
                    Steal::Retry => retry = true,
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// Drops every runnable in the shared queues without running it.
    fn drain_injector(&self) {
        for queue in [&self.urgent, &self.high, &self.injector, &self.low] {
            while let Some(runnable) = steal_one(queue) {
                drop(runnable);
            }
        }
    }

    fn has_visible_work(&self) -> bool {
        !self.urgent.is_empty()
            || !self.high.is_empty()
            || !self.low.is_empty()
            || !self.injector.is_empty()
            || self.stealers.iter().any(|stealer| !stealer.is_empty())
    }
}

/// Fires the timers that are due, unless another thread is already doing it; the tasks they
/// wake land on this worker's deque.
fn fire_due_timers(shared: &Shared) {
    if shared.timers.maybe_due(std::time::Instant::now()) {
        shared
            .timers
            .fire_due(&|runnable| push(shared, runnable), false);
    }
}

/// Takes one runnable from `queue`, retrying on contention.
fn steal_one(queue: &Injector<Runnable>) -> Option<Runnable> {
    loop {
        match queue.steal() {
            Steal::Success(runnable) => return Some(runnable),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}

fn worker_main(shared: &Shared, index: usize, worker: Worker<Runnable>, parker: Parker) {
    LOCAL.with(|local| {
        *local.borrow_mut() = Some(LocalQueue {
            pool_id: shared.id,
            worker,
        });
    });
    let backoff = Backoff::new();
    let mut ticks: u32 = 0;
    while !shared.shutdown.load(Ordering::Acquire) {
        let next = LOCAL.with(|local| {
            let local = local.borrow();
            let queue = local.as_ref().expect("worker queue installed above");
            shared.find_work(index, &queue.worker, ticks)
        });
        match next {
            Some(runnable) => {
                ticks = ticks.wrapping_add(1);
                if ticks.is_multiple_of(INJECTOR_CHECK_INTERVAL) {
                    fire_due_timers(shared);
                }
                backoff.reset();
                run_contained(runnable);
            }
            None if !backoff.is_completed() => backoff.snooze(),
            None => {
                // Timers due now would otherwise wait for the timer thread to get a core. If
                // they woke tasks, `park` sees them in this worker's deque and returns at once.
                fire_due_timers(shared);
                shared.sleepers.park(index, &parker, || {
                    shared.has_visible_work() || shared.shutdown.load(Ordering::SeqCst)
                });
                backoff.reset();
            }
        }
    }
    // Shutting down: drop (never run) what is left in this worker's deque. Dropping a runnable
    // cancels its task; its wakers find the scheduler gone and drop what they would schedule.
    let local = LOCAL.with(|local| local.borrow_mut().take());
    if let Some(queue) = local {
        while let Some(runnable) = queue.worker.pop() {
            drop(runnable);
        }
    }
}

impl Drop for Pool {
    /// Stops the workers, joins them (except the calling thread, if it is one of them), and
    /// drops the runnables still queued without running them.
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.sleepers.wake_all();
        let current = thread::current().id();
        for handle in self.threads.drain(..) {
            if handle.thread().id() == current {
                // Dropped from inside one of our own tasks: this worker exits by itself once
                // the running runnable returns (it sees `shutdown`). Joining it would deadlock.
                continue;
            }
            // A worker only ends by returning (runnable panics are caught), so this is Ok.
            let _ = handle.join();
        }
        std::sync::atomic::fence(Ordering::SeqCst);
        self.shared.drain_injector();
    }
}
