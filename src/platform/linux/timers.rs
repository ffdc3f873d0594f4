//! Timers behind `schedule_after`: an ordered map of deadlines ([`TimerQueue`]), fired by
//! whichever thread notices first:
//! - the timer thread ([`TimerThread`]), which parks until the earliest deadline
//!   (`park_timeout`, futex-based: wake-ups accurate to tens of µs on an idle machine);
//! - the pool's workers, which check for due timers every few dozen tasks. When every core is
//!   busy running tasks, the OS may not give the timer thread a core for milliseconds; the
//!   workers then fire the timers themselves.
//!
//! Timers fire in deadline order (equal deadlines in insertion order): one thread at a time
//! fires, holding the `firing` lock while it pops and runs the due entries.

use crate::scheduler::deadline_after;
use crate::{Runnable, TaskId, TaskKind};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Orders entries by deadline, then by insertion, so equal deadlines fire in FIFO order.
type Key = (Instant, u64);

thread_local! {
    /// Set while this thread runs due `Timer` runnables (see [`is_firing`]).
    static FIRING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling thread is firing timers: the tasks woken now were waiting for a
/// deadline, and the pool runs them ahead of its backlog.
pub(super) fn is_firing() -> bool {
    FIRING.try_with(std::cell::Cell::get).unwrap_or(false)
}

/// Clears `FIRING` when dropped (also if a runnable unwinds).
struct FiringGuard;

impl FiringGuard {
    fn enter() -> Self {
        FIRING.with(|firing| firing.set(true));
        Self
    }
}

impl Drop for FiringGuard {
    fn drop(&mut self) {
        let _ = FIRING.try_with(|firing| firing.set(false));
    }
}

/// `next_deadline` when no timer is waiting.
const NO_DEADLINE: u64 = u64::MAX;

#[derive(Default)]
struct Queue {
    entries: BTreeMap<Key, Runnable>,
    by_task: HashMap<TaskId, Key>,
    next_sequence: u64,
    /// Set when the timer thread stops: timers inserted afterwards are dropped at once (their
    /// `Timer` then reports that its scheduler is gone) instead of waiting for ever.
    closed: bool,
}

/// The waiting timers, shared by the timer thread, the pool's workers and the scheduler.
pub(super) struct TimerQueue {
    queue: Mutex<Queue>,
    /// Held by the thread firing timers, so due timers run one at a time, in order.
    firing: Mutex<()>,
    /// The earliest deadline, in ns since `epoch` (`NO_DEADLINE` if none): lets workers check
    /// for due timers without taking a lock. Never later than the real earliest deadline.
    next_deadline: AtomicU64,
    epoch: Instant,
    /// Wakes the timer thread when an earlier deadline arrives.
    unparker: Mutex<Option<parking::Unparker>>,
}

impl TimerQueue {
    /// An empty queue.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(Queue::default()),
            firing: Mutex::new(()),
            next_deadline: AtomicU64::new(NO_DEADLINE),
            epoch: Instant::now(),
            unparker: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn nanos(&self, instant: Instant) -> u64 {
        u64::try_from(instant.saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(NO_DEADLINE - 1)
    }

    /// Fires `runnable` once `delay` has passed (a delay too large to represent, up to
    /// `Duration::MAX`, never fires in practice). Dropped at once if the queue is closed.
    pub(super) fn insert(&self, delay: Duration, runnable: Runnable) {
        let deadline = deadline_after(Instant::now(), delay);
        let id = runnable.metadata().id();
        let is_first = {
            let mut queue = self.lock();
            if queue.closed {
                drop(queue);
                drop(runnable);
                return;
            }
            let key = (deadline, queue.next_sequence);
            queue.next_sequence += 1;
            queue.by_task.insert(id, key);
            queue.entries.insert(key, runnable);
            let is_first = queue.entries.keys().next() == Some(&key);
            if is_first {
                self.next_deadline
                    .store(self.nanos(deadline), Ordering::Release);
            }
            is_first
        };
        if is_first && let Some(unparker) = &*self.unparker_slot() {
            unparker.unpark();
        }
    }

    fn unparker_slot(&self) -> MutexGuard<'_, Option<parking::Unparker>> {
        self.unparker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops the runnable of the timer `id` if it has not fired yet.
    pub(super) fn cancel(&self, id: TaskId) {
        // `next_deadline` may now be earlier than the real one: a worker then takes the lock,
        // finds nothing due and refreshes it. Never later, so no timer is missed.
        let removed = {
            let mut queue = self.lock();
            queue
                .by_task
                .remove(&id)
                .and_then(|key| queue.entries.remove(&key))
        };
        // Dropped outside the lock: dropping wakes the timer's awaiter, which may schedule.
        drop(removed);
    }

    /// How many timers are waiting.
    pub(super) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether a timer may be due at `now` (a lock-free check for the workers).
    pub(super) fn maybe_due(&self, now: Instant) -> bool {
        self.next_deadline.load(Ordering::Acquire) <= self.nanos(now)
    }

    /// Fires every due timer: runs `Timer` runnables here (they only wake their awaiter) and
    /// hands other runnables to `dispatch`. With `wait` false, returns at once if another
    /// thread is firing. Returns the next deadline, if any.
    pub(super) fn fire_due(&self, dispatch: &dyn Fn(Runnable), wait: bool) -> Option<Instant> {
        let _firing = if wait {
            self.firing.lock().unwrap_or_else(PoisonError::into_inner)
        } else {
            match self.firing.try_lock() {
                Ok(guard) => guard,
                Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return None,
            }
        };
        let mut due = Vec::new();
        let next = {
            let mut queue = self.lock();
            let now = Instant::now();
            while let Some(entry) = queue.entries.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let runnable = entry.remove();
                queue.by_task.remove(&runnable.metadata().id());
                due.push(runnable);
            }
            let next = queue.entries.keys().next().map(|key| key.0);
            let next_nanos = next.map_or(NO_DEADLINE, |deadline| self.nanos(deadline));
            self.next_deadline.store(next_nanos, Ordering::Release);
            next
        };
        let _firing = FiringGuard::enter();
        for runnable in due {
            if runnable.metadata().kind() == TaskKind::Timer {
                runnable.run();
            } else {
                dispatch(runnable);
            }
        }
        next
    }

    /// Drops every waiting timer, and every timer inserted from now on.
    fn close(&self) {
        let entries = {
            let mut queue = self.lock();
            queue.closed = true;
            queue.by_task.clear();
            std::mem::take(&mut queue.entries)
        };
        self.next_deadline.store(NO_DEADLINE, Ordering::Release);
        drop(entries);
    }
}

/// Where the timer thread sends due runnables that are not `Timer`s (the background pool).
pub(super) type Dispatch = Box<dyn Fn(Runnable) + Send + Sync>;

/// The thread that fires timers when no worker does.
pub(super) struct TimerThread {
    queue: Arc<TimerQueue>,
    shutdown: Arc<AtomicBool>,
    unparker: parking::Unparker,
    thread: Option<JoinHandle<()>>,
}

impl TimerThread {
    /// Starts the timer thread, named `name`, firing `queue`.
    pub(super) fn new(
        name: &str,
        queue: Arc<TimerQueue>,
        dispatch: Dispatch,
    ) -> std::io::Result<Self> {
        let (parker, unparker) = parking::pair();
        *queue.unparker_slot() = Some(unparker.clone());
        let shutdown = Arc::new(AtomicBool::new(false));
        let thread = thread::Builder::new().name(name.to_owned()).spawn({
            let queue = queue.clone();
            let shutdown = shutdown.clone();
            move || {
                while !shutdown.load(Ordering::Acquire) {
                    match queue.fire_due(&dispatch, true) {
                        Some(deadline) => {
                            let now = Instant::now();
                            if deadline > now {
                                crate::sync::park_timeout(&parker, deadline - now);
                            }
                        }
                        None => parker.park(),
                    }
                }
            }
        })?;
        Ok(Self {
            queue,
            shutdown,
            unparker,
            thread: Some(thread),
        })
    }
}

impl Drop for TimerThread {
    /// Stops and joins the thread, then drops the timers that did not fire.
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::Release);
        self.unparker.unpark();
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != thread::current().id()
        {
            let _ = thread.join();
        }
        self.queue.close();
    }
}
