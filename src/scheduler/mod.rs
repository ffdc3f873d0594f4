//! The [`Scheduler`] trait, the only thing a backend implements, and everything generic built
//! once above it: the spawn helpers on `dyn Scheduler` (`spawn.rs`), the one blocking loop
//! (`block.rs`), [`Timer`] (`timer.rs`), work on a thread of its own (`dedicated.rs`:
//! `spawn_dedicated`, realtime tasks; `dedicated_thread.rs`: the thread the
//! [`dedicated_thread`](Scheduler::dedicated_thread) hook hands out), on wasm32 the ready queue
//! wakes push into directly (`local_queue.rs`), a backend's two handles
//! ([`Role`]) and deadlines that never overflow ([`deadline_after`]).

pub(crate) mod block;
mod dedicated;
mod dedicated_thread;
#[cfg(wasm)]
pub(crate) mod local_queue;
pub(crate) mod spawn;
mod timer;

pub use dedicated::DedicatedExecutor;
pub use dedicated_thread::DedicatedThread;
pub(crate) use dedicated_thread::{LiveGuard, ThreadShared, awaited_dedicated_task};
#[cfg(wasm)]
pub use local_queue::LocalQueue;
pub use timer::Timer;

use crate::{Runnable, TaskId, TaskKind, TaskMetadata};
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;
pub use web_time::{Instant, SystemTime};

/// Wakes a thread blocked in [`Scheduler::park`].
pub use parking::Unparker;

/// How a task ended, as reported to [`Scheduler::task_ended`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaskOutcome {
    /// The future returned `Ready`.
    Completed,
    /// The future panicked; the panic is re-raised where the task is awaited.
    Panicked,
    /// The future was dropped before completing (its `Task` was dropped, or its runnable was).
    Cancelled,
}

/// Moves [`Runnable`]s to threads. Object-safe: used as `Arc<dyn Scheduler>`.
///
/// A backend never sees a future: spawning, task ids, labels, sessions, spawn locations, panics,
/// timers as futures and blocking are implemented once, on `dyn Scheduler` (see
/// [`crate::Task`] and the helpers `spawn`, `spawn_labeled`, `spawn_foreground`, `timer`,
/// `block`, `block_with_timeout`).
///
/// The first eight methods are the contract every backend fulfils (`now` defaults to real
/// time). The others are hooks with
/// defaults, each called by the core for a reason given on the method (and in
/// `ARCHITECTURE.md`); a backend overrides a hook when it needs that moment.
///
/// A minimal backend (one thread that runs everything inline) shows the shape:
///
/// ```
/// use scheduler::{Runnable, Scheduler, Unparker};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// struct Inline;
///
/// impl Scheduler for Inline {
///     fn schedule(&self, runnable: Runnable) {
///         runnable.run();
///     }
///     fn schedule_after(&self, delay: Duration, runnable: Runnable) {
///         std::thread::sleep(delay);
///         runnable.run();
///     }
///     fn park(&self, timeout: Option<Duration>) -> bool {
///         std::thread::sleep(timeout.unwrap_or(Duration::from_millis(1)));
///         false
///     }
///     fn unparker(&self) -> Unparker {
///         parking::pair().1
///     }
///     fn is_main_thread(&self) -> bool {
///         false
///     }
/// }
///
/// let scheduler: Arc<dyn Scheduler> = Arc::new(Inline);
/// assert_eq!(scheduler.block(scheduler.spawn(async { 6 * 7 })), 42);
/// ```
pub trait Scheduler: Any + Send + Sync {
    /// Runs `runnable` soon, on any background thread.
    fn schedule(&self, runnable: Runnable);

    /// Runs `runnable` on the main thread. Schedulers without a main thread keep this default,
    /// which panics with a message naming the task.
    fn schedule_foreground(&self, runnable: Runnable) {
        panic!(
            "{} has no main thread, so it cannot run the foreground task {}; \
             use a scheduler with a main-thread queue (or spawn a background task)",
            std::any::type_name::<Self>(),
            runnable.metadata()
        );
    }

    /// Runs `runnable` (on a background thread) once `delay` has passed. `delay` may be as large
    /// as `Duration::MAX` (a timer that never fires in practice); it must never overflow.
    fn schedule_after(&self, delay: Duration, runnable: Runnable);

    /// Blocks the calling thread until [`unparker`](Self::unparker) is used or `timeout` passes,
    /// doing whatever work the thread owes meanwhile (a main thread runs its queued foreground
    /// tasks; the [`TestScheduler`](crate::TestScheduler) runs one step of the simulation).
    /// Returns `false` when the wait timed out, `true` otherwise (it was unparked, or work ran).
    fn park(&self, timeout: Option<Duration>) -> bool;

    /// A handle that wakes the calling thread from [`park`](Self::park).
    fn unparker(&self) -> Unparker;

    /// Whether the calling code runs on the main thread.
    fn is_main_thread(&self) -> bool;

    /// The scheduler's clock. The default is real (monotonic) time; the
    /// [`TestScheduler`](crate::TestScheduler) answers with virtual time.
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// Hook: the wall clock (UTC), for dates and timestamps; [`now`](Self::now) is the one to
    /// measure time with. The default is the system clock (`Date.now()` on wasm32); the
    /// [`TestScheduler`](crate::TestScheduler) answers with a fixed instant plus its virtual
    /// time, which a test can set (see `TestScheduler::set_utc_now`).
    fn utc_now(&self) -> SystemTime {
        SystemTime::now()
    }

    /// Hook: the OS thread for a dedicated executor (`spawn_dedicated`) or, when `realtime`,
    /// for a [`Priority::Realtime`](crate::Priority::Realtime) task (raised to a realtime OS
    /// priority where the process may). Called once per dedicated executor or realtime task.
    ///
    /// The default starts a [`DedicatedThread`], the same on every desktop backend, and panics
    /// if it cannot (wasm32 has no threads). `None` means this scheduler runs such work itself,
    /// through [`schedule`](Self::schedule) and [`schedule_spawned`](Self::schedule_spawned)
    /// like other runnables: the [`TestScheduler`](crate::TestScheduler) simulates the thread
    /// on the test thread, so a seed stays deterministic. A scheduler that answers `None` must
    /// run every runnable on one thread (a dedicated executor's tasks are `!Send`; one polled
    /// elsewhere panics).
    fn dedicated_thread(&self, realtime: bool) -> Option<DedicatedThread> {
        match DedicatedThread::spawn(realtime) {
            Ok(thread) => Some(thread),
            Err(error) => panic!(
                "{} cannot start the thread of a dedicated executor or realtime task: {error} \
                 (spawn_dedicated needs OS threads; without them, spawn the work as a task)",
                std::any::type_name::<Self>()
            ),
        }
    }

    /// Hook: the scheduler that the tasks spawned on `spawned_on` (an `Arc` of this scheduler)
    /// hold, strongly, to reach it when they are woken and when they end. Called once per spawn.
    ///
    /// The default is `spawned_on` itself: then the scheduler lives as long as any of its tasks
    /// does. A backend whose drop must shut it down (stop threads, drop queued work) while tasks
    /// still exist returns a second handle of itself that shares its queues but does not own
    /// them: once the owning handle is dropped, that handle drops (never runs) every runnable it
    /// is given — a foreground one is leaked instead when refused off the main thread, since it
    /// may only be dropped there.
    fn task_handle(&self, spawned_on: &Arc<dyn Scheduler>) -> Arc<dyn Scheduler> {
        spawned_on.clone()
    }

    /// Hook (wasm32): the ready queue that the wakes of tasks spawned here may push into
    /// directly, skipping [`schedule`](Self::schedule) while the queue says so: the
    /// [`WasmScheduler`](crate::platform::wasm::WasmScheduler)'s common case. Called once per
    /// spawn, on the task handle. Default: `None` (every wake goes through `schedule`).
    #[cfg(wasm)]
    fn local_queue(&self) -> Option<LocalQueue> {
        None
    }

    /// Hook: a fresh task id. The default numbers tasks process-wide, from per-thread blocks of
    /// one counter; the [`TestScheduler`](crate::TestScheduler) numbers its own, so a seed gives
    /// the same ids on every run.
    fn next_task_id(&self) -> TaskId {
        crate::task::next_unique_task_id()
    }

    /// Hook: how many tasks can make progress at once (the `num_cpus` helper reports it).
    fn num_cpus(&self) -> usize {
        default_num_cpus()
    }

    /// Hook: receives a new task's first runnable. Schedulers that track their tasks (the
    /// [`TestScheduler`](crate::TestScheduler)'s registry, the wasm session counters) record it
    /// here and queue it in one step; the default only routes it by kind, like a wake.
    fn schedule_spawned(&self, runnable: Runnable) {
        match runnable.metadata().kind() {
            TaskKind::Foreground => self.schedule_foreground(runnable),
            _ => self.schedule(runnable),
        }
    }

    /// Hook: a task ended, on the thread where it ended. Schedulers that track their tasks count
    /// it here. Default: nothing.
    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        let _ = (metadata, outcome);
    }

    /// Hook: a task panicked and nobody will see it (it was detached, or its `Task` was dropped
    /// without being awaited). The one place such panics go; never swallowed. The default
    /// prints the task (id, label, session, spawn location) and the message on stderr; the
    /// [`TestScheduler`](crate::TestScheduler) fails the test with it.
    fn unobserved_panic(&self, task: &TaskMetadata, message: &str) {
        eprintln!("scheduler: {task} panicked and nobody awaited it: {message}");
    }

    /// Hook: a [`Timer`](crate::Timer) was dropped before it fired, so the backend can release
    /// what holds the timer's runnable (a JS timeout, a heap entry, a thread-pool timer).
    /// Default: nothing; the runnable then simply does nothing when it runs.
    fn timer_cancelled(&self, timer: &TaskMetadata) {
        let _ = timer;
    }
}

/// Available parallelism, at least 1 (always 1 on wasm32).
fn default_num_cpus() -> usize {
    #[cfg(wasm)]
    {
        1
    }
    #[cfg(not(wasm))]
    {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

impl dyn Scheduler {
    /// The concrete scheduler behind this trait object, if it is a `T`.
    ///
    /// ```
    /// use scheduler::{Scheduler, TestScheduler};
    /// use std::sync::Arc;
    /// let scheduler: Arc<dyn Scheduler> = TestScheduler::with_seed(1);
    /// assert_eq!(scheduler.downcast_ref::<TestScheduler>().unwrap().seed(), 1);
    /// ```
    pub fn downcast_ref<T: Scheduler>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }
}

// ---- handles -------------------------------------------------------------------------------------
// A backend's two handles: the owning one the app holds, whose drop shuts the backend down, and
// the one its tasks hold (see [`Scheduler::task_handle`]). Both are the same type over the same
// shared queues; only their [`Role`] differs.

/// Which of a backend's two handles a value is.
pub(crate) enum Role<S> {
    /// The handle the app holds; it keeps the handle its tasks get.
    Owner(Arc<S>),
    /// The handle tasks hold: dropping it shuts nothing down.
    Tasks,
}

impl<S: Scheduler> Role<S> {
    /// What `Scheduler::task_handle` returns for a handle of this role.
    pub(crate) fn task_handle(&self, spawned_on: &Arc<dyn Scheduler>) -> Arc<dyn Scheduler> {
        match self {
            Role::Owner(tasks) => tasks.clone(),
            Role::Tasks => spawned_on.clone(),
        }
    }

    /// Whether this is the owning handle.
    pub(crate) fn is_owner(&self) -> bool {
        matches!(self, Role::Owner(_))
    }

    /// For a backend's `Drop`: whether this was the owning handle (it must shut the backend
    /// down). Releases the task handle it kept.
    pub(crate) fn release(&mut self) -> bool {
        matches!(std::mem::replace(self, Role::Tasks), Role::Owner(_))
    }
}

/// Builds a backend's two handles over shared parts: `make` is called once for the tasks'
/// handle, then once for the owning handle, which is returned.
pub(crate) fn handle_pair<S: Scheduler>(mut make: impl FnMut(Role<S>) -> S) -> Arc<S> {
    let tasks = Arc::new(make(Role::Tasks));
    Arc::new(make(Role::Owner(tasks)))
}

// ---- instant -------------------------------------------------------------------------------------
// The scheduler's [`Instant`]: `std::time::Instant` natively, a wasm-safe instant on wasm32
// (where `std::time::Instant::now()` panics), and deadline arithmetic that never overflows;
// and its [`SystemTime`] (the wall clock): `std::time::SystemTime` natively, `Date.now()` on
// wasm32.

/// About a century: what "never" means for a deadline (any real program ends first).
pub(crate) const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `now + delay`, or about a century from `now` when that is not representable (a delay of
/// `Duration::MAX` means "never"; adding it to an `Instant` would panic).
pub(crate) fn deadline_after(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay.min(NEVER))
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 60 * 60)))
        .unwrap_or(now)
}
