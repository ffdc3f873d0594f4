//! [`DedicatedThread`]: an OS thread of its own with a local queue, for one dedicated executor
//! or one realtime task. It ends by itself once every task on it has ended.

use crate::{Runnable, TaskId, TaskMetadata};
use rustc_hash::FxHashSet;
use std::cell::RefCell;
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
    /// The tasks whose runnables run here (a dedicated executor's root and local tasks), for
    /// refusing a `block` on one of them from this thread.
    tasks: Mutex<FxHashSet<TaskId>>,
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
            tasks: Mutex::default(),
        });
        start(shared.clone(), parker, realtime)?;
        Ok(Self {
            shared: Some(shared),
        })
    }

    /// The thread's shared queue, and the guard that counts `task`, the first task on it (this
    /// value's reservation of the thread).
    pub(crate) fn into_parts(mut self, task: TaskId) -> (Arc<ThreadShared>, LiveGuard) {
        let shared = self.shared.take().expect("a DedicatedThread is used once");
        shared.lock_tasks().insert(task);
        (shared.clone(), LiveGuard(Some((shared, Some(task)))))
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
fn run(shared: &Arc<ThreadShared>, parker: &parking::Parker, realtime: bool) {
    let _ = shared.thread.set(std::thread::current().id());
    let _ = CURRENT.try_with(|current| *current.borrow_mut() = Some(shared.clone()));
    if realtime {
        raise_to_realtime();
    }
    loop {
        let next = shared.lock().pop_front();
        match next {
            Some(runnable) => crate::task::runnable::run_contained(runnable),
            // Every task ended (their futures were dropped here, on this thread).
            None if shared.live.load(Ordering::Acquire) == 0 => break,
            // Woken by `push`, or by the last task's end.
            None => parker.park(),
        }
    }
    shared.closed.store(true, Ordering::SeqCst);
    let left = std::mem::take(&mut *shared.lock());
    drop(left);
    let _ = CURRENT.try_with(|current| current.borrow_mut().take());
}

thread_local! {
    /// On a dedicated thread: its shared part.
    static CURRENT: RefCell<Option<Arc<ThreadShared>>> = const { RefCell::new(None) };
}

/// Called when a `Task` of a dedicated executor is polled and not finished. Inside a `block`
/// on a dedicated thread, a task of that same thread's executor can never finish (it runs only
/// here, and the block holds the thread): panics, naming the call, instead of hanging.
#[cold]
pub(crate) fn awaited_dedicated_task(awaited: &TaskMetadata) {
    let Some(location) = super::block::innermost_block() else {
        return;
    };
    let own = CURRENT
        .try_with(|current| {
            current
                .borrow()
                .as_ref()
                .is_some_and(|shared| shared.lock_tasks().contains(&awaited.id()))
        })
        .unwrap_or(false);
    if own {
        panic!(
            "block at {location} waits for {awaited}, a task of the dedicated executor whose \
             thread it blocks: that executor's tasks run only on this thread, so it can never \
             finish (a deadlock). Await the task instead of blocking on it."
        );
    }
}

impl ThreadShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Runnable>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_tasks(&self) -> std::sync::MutexGuard<'_, FxHashSet<TaskId>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// Counts `task`, one more task on the thread, until the returned guard is dropped.
    pub(crate) fn guard(self: &Arc<Self>, task: TaskId) -> LiveGuard {
        self.live.fetch_add(1, Ordering::AcqRel);
        self.lock_tasks().insert(task);
        LiveGuard(Some((self.clone(), Some(task))))
    }
}

/// Counts one live task on a dedicated thread (nothing for a simulated one); dropped with the
/// task's future, on the thread. The task is `None` for an unused thread's reservation.
pub(crate) struct LiveGuard(pub(crate) Option<(Arc<ThreadShared>, Option<TaskId>)>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let Some((shared, task)) = self.0.take() else {
            return;
        };
        if let Some(task) = task {
            shared.lock_tasks().remove(&task);
        }
        if shared.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            shared.unparker.unpark();
        }
    }
}

impl Drop for DedicatedThread {
    /// Never used: give up the reservation, so the thread ends.
    fn drop(&mut self) {
        drop(
            self.shared
                .take()
                .map(|shared| LiveGuard(Some((shared, None)))),
        );
    }
}

impl fmt::Debug for DedicatedThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DedicatedThread").finish_non_exhaustive()
    }
}

#[cfg(not(wasm))]
use realtime::raise_to_realtime;

#[cfg(not(wasm))]
mod realtime {
    //! Raising the calling thread to a realtime OS priority, for the thread of a
    //! [`Priority::Realtime`](crate::Priority::Realtime) task: `SCHED_FIFO` on Linux and FreeBSD,
    //! `THREAD_PRIORITY_TIME_CRITICAL` on Windows, QoS user-interactive on macOS. Where the process
    //! may not (no `CAP_SYS_NICE` and an `RLIMIT_RTPRIO` of 0, a sandbox, …) the thread keeps its
    //! normal priority and the first refusal is printed once on stderr: never an error.

    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The `SCHED_FIFO` priority of realtime threads (1..=99; above every normal thread, below
    /// the kernel's own realtime threads).
    #[cfg(linux_like)]
    const FIFO_PRIORITY: i32 = 10;

    /// Raises the calling thread's priority, or warns (once per process) that it could not.
    pub(super) fn raise_to_realtime() {
        if let Err(error) = raise() {
            warn_once(&error);
        }
    }

    /// Prints the fallback warning the first time only.
    fn warn_once(error: &io::Error) {
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !WARNED.swap(true, Ordering::Relaxed) {
            eprintln!(
                "scheduler: warning: could not raise a realtime thread to {WHAT} ({error}); realtime \
                 tasks run at normal OS priority"
            );
        }
    }

    #[cfg(linux_like)]
    const WHAT: &str = "SCHED_FIFO";
    #[cfg(windows)]
    const WHAT: &str = "THREAD_PRIORITY_TIME_CRITICAL";
    #[cfg(target_os = "macos")]
    const WHAT: &str = "QoS user-interactive";
    #[cfg(not(desktop))]
    const WHAT: &str = "a realtime priority";

    #[cfg(linux_like)]
    fn raise() -> io::Result<()> {
        // SAFETY: `sched_param` is a plain C struct of integers, for which all zeroes is valid.
        let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
        param.sched_priority = FIFO_PRIORITY;
        // SAFETY: `pthread_self()` is the calling thread, alive for the call; `param` is a valid,
        // initialized `sched_param` that outlives the call.
        let result =
            unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
        if result == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(result))
        }
    }

    #[cfg(windows)]
    fn raise() -> io::Result<()> {
        use windows_sys::Win32::System::Threading::{
            GetCurrentThread, SetThreadPriority, THREAD_PRIORITY_TIME_CRITICAL,
        };
        // SAFETY: `GetCurrentThread` returns the calling thread's pseudo-handle, valid for the call;
        // `SetThreadPriority` has no other preconditions.
        let ok = unsafe { SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_TIME_CRITICAL) };
        if ok != 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    #[cfg(target_os = "macos")]
    fn raise() -> io::Result<()> {
        /// `QOS_CLASS_USER_INTERACTIVE` from `<sys/qos.h>`.
        const QOS_CLASS_USER_INTERACTIVE: u32 = 0x21;
        // SAFETY: libSystem's `pthread_set_qos_class_self_np` takes a QoS class and a relative
        // priority by value, acts on the calling thread only and has no other preconditions.
        unsafe extern "C" {
            safe fn pthread_set_qos_class_self_np(qos_class: u32, relative_priority: i32) -> i32;
        }
        match pthread_set_qos_class_self_np(QOS_CLASS_USER_INTERACTIVE, 0) {
            0 => Ok(()),
            error => Err(io::Error::from_raw_os_error(error)),
        }
    }

    #[cfg(not(desktop))]
    fn raise() -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no realtime priority on this platform",
        ))
    }
}
