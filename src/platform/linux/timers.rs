//! The timer thread behind `schedule_after`: an ordered map of deadlines and a thread that parks
//! until the earliest one (`park_timeout`, futex-based, so wake-ups are accurate to tens of µs).

use crate::{Runnable, TaskId, TaskKind};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Where a due runnable goes: the timer thread runs `Timer` runnables itself (they only wake
/// their awaiter) and hands everything else to this callback (the background pool).
pub(super) type Dispatch = Box<dyn Fn(Runnable) + Send + Sync>;

/// Orders entries by deadline, then by insertion, so equal deadlines fire in FIFO order.
type Key = (Instant, u64);

#[derive(Default)]
struct Queue {
    entries: BTreeMap<Key, Runnable>,
    by_task: HashMap<TaskId, Key>,
    next_sequence: u64,
}

struct Shared {
    queue: Mutex<Queue>,
    unparker: parking::Unparker,
    shutdown: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A thread that fires runnables at their deadlines.
pub(super) struct TimerThread {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl TimerThread {
    /// Starts the timer thread, named `name`; due non-timer runnables go to `dispatch`.
    pub(super) fn new(name: &str, dispatch: Dispatch) -> std::io::Result<Self> {
        let (parker, unparker) = parking::pair();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            unparker,
            shutdown: AtomicBool::new(false),
        });
        let thread = thread::Builder::new().name(name.to_owned()).spawn({
            let shared = shared.clone();
            move || timer_main(&shared, &parker, &dispatch)
        })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Fires `runnable` once `delay` has passed.
    pub(super) fn insert(&self, delay: Duration, runnable: Runnable) {
        let now = Instant::now();
        // A delay too large to represent never fires in practice: park it far in the future.
        let deadline = now
            .checked_add(delay)
            .unwrap_or_else(|| now + Duration::from_secs(60 * 60 * 24 * 365 * 100));
        let id = runnable.metadata().id();
        let is_first = {
            let mut queue = self.shared.lock();
            let key = (deadline, queue.next_sequence);
            queue.next_sequence += 1;
            queue.by_task.insert(id, key);
            queue.entries.insert(key, runnable);
            queue.entries.keys().next() == Some(&key)
        };
        if is_first {
            self.shared.unparker.unpark();
        }
    }

    /// Drops the runnable of the timer `id` if it has not fired yet.
    pub(super) fn cancel(&self, id: TaskId) {
        let removed = {
            let mut queue = self.shared.lock();
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
        self.shared.lock().entries.len()
    }
}

fn timer_main(shared: &Shared, parker: &parking::Parker, dispatch: &Dispatch) {
    let mut due = Vec::new();
    while !shared.shutdown.load(Ordering::Acquire) {
        let next_deadline = {
            let mut queue = shared.lock();
            let now = Instant::now();
            while let Some(entry) = queue.entries.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let runnable = entry.remove();
                queue.by_task.remove(&runnable.metadata().id());
                due.push(runnable);
            }
            queue.entries.keys().next().map(|key| key.0)
        };
        for runnable in due.drain(..) {
            if runnable.metadata().kind() == TaskKind::Timer {
                // Completes at once and wakes the timer's awaiter; cheap enough to run here.
                runnable.run();
            } else {
                dispatch(runnable);
            }
        }
        match next_deadline {
            Some(deadline) => {
                let now = Instant::now();
                if deadline > now {
                    parker.park_timeout(deadline - now);
                }
            }
            None => parker.park(),
        }
    }
}

impl Drop for TimerThread {
    /// Stops and joins the thread, then drops the timers that did not fire.
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.unparker.unpark();
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != thread::current().id()
        {
            let _ = thread.join();
        }
        let entries = std::mem::take(&mut self.shared.lock().entries);
        drop(entries);
    }
}
