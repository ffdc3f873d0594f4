//! [`DedicatedThread`]: an OS thread of its own with a local queue, for one dedicated executor
//! or one realtime task. It ends by itself once every task on it has ended.

use crate::Runnable;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::ThreadId;

/// An OS thread with its own queue of runnables, started for a dedicated executor
/// (`spawn_dedicated`) or a [`Priority::Realtime`](crate::Priority::Realtime) task by the
/// default [`Scheduler::dedicated_thread`](crate::Scheduler::dedicated_thread).
///
/// The thread runs what is queued on it, sleeps while nothing is, and ends by itself once every
/// task on it has ended; code on it may block (on I/O, a lock, a blocking call) without holding
/// up any other thread. A realtime thread raises its OS priority first (`SCHED_FIFO` on Linux,
/// `THREAD_PRIORITY_TIME_CRITICAL` on Windows, QoS user-interactive on macOS); where the process
/// may not, it prints one warning and runs at normal priority.
///
/// A value that is dropped without being used lets its thread end at once.
pub struct DedicatedThread {
    /// `None` once handed to its first task.
    shared: Option<Arc<ThreadShared>>,
}

/// What the thread and everything that queues work on it share.
pub(crate) struct ThreadShared {
    queue: Mutex<VecDeque<Runnable>>,
    unparker: parking::Unparker,
    /// Tasks on this thread whose future is alive (plus one held by an unused
    /// `DedicatedThread`); the thread ends when it reaches zero.
    live: AtomicUsize,
    /// Set by the thread when it ends: nothing queued afterwards runs.
    closed: AtomicBool,
    thread: OnceLock<ThreadId>,
}

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

impl DedicatedThread {
    /// Starts the thread, named `scheduler-dedicated-N` (or `scheduler-realtime-N` when
    /// `realtime`). Fails where threads cannot be started (always on wasm32).
    pub fn spawn(realtime: bool) -> io::Result<Self> {
        let (parker, unparker) = parking::pair();
        let shared = Arc::new(ThreadShared {
            queue: Mutex::new(VecDeque::new()),
            unparker,
            // This value's reservation, handed to the first task (`into_parts`).
            live: AtomicUsize::new(1),
            closed: AtomicBool::new(false),
            thread: OnceLock::new(),
        });
        start(shared.clone(), parker, realtime)?;
        Ok(Self {
            shared: Some(shared),
        })
    }

    /// The thread's shared queue, and the guard that counts the first task on it (this value's
    /// reservation of the thread).
    pub(crate) fn into_parts(mut self) -> (Arc<ThreadShared>, LiveGuard) {
        let shared = self.shared.take().expect("a DedicatedThread is used once");
        (shared.clone(), LiveGuard(Some(shared)))
    }
}

#[cfg(not(wasm))]
fn start(shared: Arc<ThreadShared>, parker: parking::Parker, realtime: bool) -> io::Result<()> {
    let kind = if realtime { "realtime" } else { "dedicated" };
    let number = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
    std::thread::Builder::new()
        .name(format!("scheduler-{kind}-{number}"))
        .spawn(move || run(&shared, &parker, realtime))?;
    Ok(())
}

#[cfg(wasm)]
fn start(_shared: Arc<ThreadShared>, _parker: parking::Parker, _realtime: bool) -> io::Result<()> {
    let _ = &NEXT_THREAD;
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "wasm32 has no threads",
    ))
}

/// The thread's body: run what is queued, sleep while nothing is, end when no task is left.
#[cfg(not(wasm))]
fn run(shared: &ThreadShared, parker: &parking::Parker, realtime: bool) {
    let _ = shared.thread.set(std::thread::current().id());
    if realtime {
        crate::platform::desktop::thread_priority::raise_to_realtime();
    }
    loop {
        let next = shared.lock().pop_front();
        match next {
            Some(runnable) => crate::runnable::run_contained(runnable),
            // Every task ended (their futures were dropped here, on this thread).
            None if shared.live.load(Ordering::Acquire) == 0 => break,
            // Woken by `push`, or by the last task's end.
            None => parker.park(),
        }
    }
    shared.closed.store(true, Ordering::SeqCst);
    let left = std::mem::take(&mut *shared.lock());
    drop(left);
}

impl ThreadShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Runnable>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `runnable` on the thread and wakes it.
    pub(crate) fn push(&self, runnable: Runnable) {
        if self.closed.load(Ordering::Acquire) {
            self.refuse(runnable);
            return;
        }
        self.lock().push_back(runnable);
        self.unparker.unpark();
    }

    /// A runnable for a thread that ended. Its future may be `!Send`: dropped on the thread
    /// itself, leaked anywhere else. (Only a task spawned on the executor after its last task
    /// ended gets here: every other task's future was dropped before the thread ended.)
    fn refuse(&self, runnable: Runnable) {
        if self.thread.get() == Some(&std::thread::current().id()) {
            drop(runnable);
        } else {
            std::mem::forget(runnable);
        }
    }

    /// Counts one more task on the thread until the returned guard is dropped.
    pub(crate) fn guard(self: &Arc<Self>) -> LiveGuard {
        self.live.fetch_add(1, Ordering::AcqRel);
        LiveGuard(Some(self.clone()))
    }
}

/// Counts one live task on a dedicated thread (nothing for a simulated one); dropped with the
/// task's future, on the thread.
pub(crate) struct LiveGuard(pub(crate) Option<Arc<ThreadShared>>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take()
            && shared.live.fetch_sub(1, Ordering::AcqRel) == 1
        {
            shared.unparker.unpark();
        }
    }
}

impl Drop for DedicatedThread {
    /// Never used: give up the reservation, so the thread ends.
    fn drop(&mut self) {
        drop(self.shared.take().map(|shared| LiveGuard(Some(shared))));
    }
}

impl fmt::Debug for DedicatedThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DedicatedThread").finish_non_exhaustive()
    }
}
