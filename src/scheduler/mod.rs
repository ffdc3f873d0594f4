//! The [`Scheduler`] trait, the only thing a backend implements, and everything generic built
//! once above it: the spawn helpers on `dyn Scheduler` (`spawn.rs`), the one blocking loop
//! (`block.rs`), [`Timer`] (`timer.rs`), work on a thread of its own (`dedicated.rs`:
//! `spawn_dedicated`, realtime tasks; `dedicated_thread.rs`: the thread the
//! [`dedicated_thread`](Scheduler::dedicated_thread) hook hands out), a backend's two handles
//! ([`Role`]) and deadlines that never overflow ([`deadline_after`]).
//!
//! Here too, because they and the trait name each other: [`Runnable`], what the trait's methods
//! move, and the [`TaskHeader`] it carries (the task's metadata and its handle to a
//! `dyn Scheduler`); the schedule functions of spawned tasks, which read that handle; and on
//! wasm32 the [`LocalQueue`] wakes push into directly.

pub(crate) mod block;
mod dedicated;
mod dedicated_thread;
pub(crate) mod spawn;
mod timer;

pub use dedicated::DedicatedExecutor;
pub use dedicated_thread::DedicatedThread;
pub(crate) use dedicated_thread::{LiveGuard, ThreadShared, awaited_dedicated_task};
#[cfg(wasm)]
pub use local::LocalQueue;
pub use timer::Timer;

use crate::{TaskId, TaskKind, TaskMetadata};
use std::any::Any;
use std::fmt;
use std::ops::Deref;
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

/// A unit of work a scheduler moves around: an [`async_task::Runnable`] carrying a
/// [`TaskHeader`] (which dereferences to the task's [`TaskMetadata`]).
///
/// Running it polls its task once. Dropping it without running cancels the task.
///
/// ```
/// use scheduler::Runnable;
/// fn describe(runnable: &Runnable) -> String {
///     let metadata = runnable.metadata();
///     format!("{} ({:?}) spawned at {}", metadata.id(), metadata.kind(), metadata.location())
/// }
/// ```
pub type Runnable = async_task::Runnable<TaskHeader>;

/// What async-task keeps in the header of every task of the crate: the task's
/// [`TaskMetadata`] (read it through `Deref`, or [`metadata`](Self::metadata)) and the one handle
/// to the scheduler the task was spawned on (its task handle, see
/// [`Scheduler::task_handle`]).
///
/// The handle is kept once, here: the task's wakes schedule through it (so the schedule function
/// captures nothing) and its wrapper reports its end through it. Backends only read the
/// metadata; [`TaskHeader::new`] is for code that builds a runnable by hand with async-task (a
/// test of a backend).
pub struct TaskHeader {
    /// Who the task is: copied out by `Task`, reports and traces; borrowed by the task's wrapper.
    metadata: TaskMetadata,
    /// The scheduler's task handle: wakes call its `schedule` (or `schedule_foreground`), the
    /// wrapper its `task_ended`. Dropped with the task's allocation, after the future.
    scheduler: Arc<dyn Scheduler>,
    /// wasm32: the scheduler's [`LocalQueue`], which a wake pushes into without a call through
    /// `scheduler` while the queue is open (see [`Scheduler::local_queue`]).
    #[cfg(wasm)]
    local: Option<LocalQueue>,
}

impl TaskHeader {
    /// The header of a task with `metadata`, spawned on `scheduler` (pass the scheduler's
    /// [`task_handle`](Scheduler::task_handle)).
    ///
    /// ```
    /// use scheduler::{Scheduler, TaskHeader, TaskId, TaskKind, TaskMetadata, TestScheduler};
    /// use std::{panic::Location, sync::Arc};
    /// let scheduler: Arc<dyn Scheduler> = TestScheduler::with_seed(0);
    /// let metadata =
    ///     TaskMetadata::new(TaskId::from_raw(7), None, None, Location::caller(), TaskKind::Timer);
    /// let header = TaskHeader::new(metadata, scheduler.task_handle(&scheduler));
    /// assert_eq!(header.id(), TaskId::from_raw(7));
    /// ```
    pub fn new(metadata: TaskMetadata, scheduler: Arc<dyn Scheduler>) -> Self {
        Self {
            metadata,
            #[cfg(wasm)]
            local: scheduler.local_queue(),
            scheduler,
        }
    }

    /// The task's metadata (also reachable through `Deref`).
    #[inline]
    pub fn metadata(&self) -> &TaskMetadata {
        &self.metadata
    }

    /// The scheduler's task handle the task was spawned with.
    #[inline]
    pub(crate) fn scheduler(&self) -> &Arc<dyn Scheduler> {
        &self.scheduler
    }
}

impl Deref for TaskHeader {
    type Target = TaskMetadata;

    #[inline]
    fn deref(&self) -> &TaskMetadata {
        &self.metadata
    }
}

impl fmt::Debug for TaskHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.metadata, f)
    }
}

impl fmt::Display for TaskHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.metadata, f)
    }
}

/// The schedule function of a background task: [`Scheduler::schedule`] on the handle in the
/// task's header (on wasm32, the [`LocalQueue`] first). A function item, so async-task keeps
/// nothing for it in the task.
#[inline]
pub(crate) fn schedule_background(runnable: Runnable) {
    schedule_with(runnable, |scheduler, runnable| scheduler.schedule(runnable));
}

/// [`schedule_background`] for a foreground task: [`Scheduler::schedule_foreground`].
#[inline]
pub(crate) fn schedule_foreground(runnable: Runnable) {
    schedule_with(runnable, |scheduler, runnable| {
        scheduler.schedule_foreground(runnable)
    });
}

/// wasm32: pushes `runnable` into its scheduler's [`LocalQueue`] if it has one and it is open;
/// otherwise gives it back. A push never drops the runnable, so it needs no guard (see
/// [`schedule_with`]).
#[cfg(wasm)]
#[inline(always)]
fn push_local(runnable: Runnable) -> Option<Runnable> {
    let queue: *const LocalQueue = match &runnable.metadata().local {
        Some(queue) => queue,
        None => return Some(runnable),
    };
    // SAFETY: `queue` points into the task's header, which lives as long as a reference to the
    // task does: `try_push` either keeps `runnable` (in the queue) or gives it back, and never
    // drops it.
    unsafe { (*queue).try_push(runnable) }
}

/// Calls `schedule` with the handle in `runnable`'s header and `runnable` itself (on wasm32,
/// unless the [`LocalQueue`] takes the runnable first).
///
/// The scheduler may drop the runnable (it shut down), and with it the last reference to the
/// task: that frees the header, and the handle in it, while the scheduler's method still runs.
/// A waker held across the call keeps the task, so the handle, alive: the guard async-task takes
/// itself around a schedule function that captures anything, taken here because ours does not.
#[inline(always)]
fn schedule_with(runnable: Runnable, schedule: impl FnOnce(&dyn Scheduler, Runnable)) {
    #[cfg(wasm)]
    let Some(runnable) = push_local(runnable) else {
        return;
    };
    let guard = runnable.waker();
    let scheduler: *const dyn Scheduler = &**runnable.metadata().scheduler();
    // SAFETY: `scheduler` points into the task's header, which lives until the last reference
    // to the task goes; `guard` is one, held until after the call.
    schedule(unsafe { &*scheduler }, runnable);
    drop(guard);
}

/// wasm32: the ready queue a task's wakes push into directly (see [`LocalQueue`]).
#[cfg(wasm)]
mod local {
    use super::Runnable;
    use std::cell::{Cell, RefCell, RefMut};
    use std::collections::VecDeque;
    use std::rc::Rc;

    /// A FIFO of runnables owned by a single-threaded wasm32 backend, with a flag the backend sets
    /// while a wake may push straight into it. Opaque outside the crate: the
    /// [`WasmScheduler`](crate::platform::wasm::WasmScheduler) hands it out through
    /// [`Scheduler::local_queue`](super::Scheduler::local_queue), and the tasks spawned on it keep a clone.
    #[derive(Clone)]
    pub struct LocalQueue(Rc<Inner>);

    struct Inner {
        /// Whether [`LocalQueue::try_push`] may push (the backend's rules, e.g. a drain is pending
        /// and nothing needs routing); otherwise runnables go through [`Scheduler::schedule`](super::Scheduler::schedule).
        open: Cell<bool>,
        runnables: RefCell<VecDeque<Runnable>>,
    }

    impl std::fmt::Debug for LocalQueue {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("LocalQueue")
                .field("open", &self.0.open.get())
                .finish_non_exhaustive()
        }
    }

    // SAFETY: `LocalQueue` exists only on wasm32 without the `atomics` target feature (see
    // `scheduler/mod.rs`), where code runs on exactly one thread: no two threads can touch its
    // `Rc`, `Cell` or `RefCell` at once. `Send`/`Sync` are only needed because a task's schedule
    // function must be `Send + Sync` for the native multi-threaded backends.
    unsafe impl Send for LocalQueue {}
    // SAFETY: as for `Send` above: there is no second thread to share it with.
    unsafe impl Sync for LocalQueue {}

    impl LocalQueue {
        /// An empty, closed queue.
        pub(crate) fn new() -> Self {
            Self(Rc::new(Inner {
                open: Cell::new(false),
                runnables: RefCell::new(VecDeque::new()),
            }))
        }

        /// Pushes `runnable` at the back while the backend keeps the queue open; otherwise gives
        /// it back, for [`Scheduler::schedule`](super::Scheduler::schedule).
        #[inline(always)]
        pub(crate) fn try_push(&self, runnable: Runnable) -> Option<Runnable> {
            if !self.0.open.get() {
                return Some(runnable);
            }
            match self.0.runnables.try_borrow_mut() {
                Ok(mut runnables) => {
                    runnables.push_back(runnable);
                    None
                }
                Err(_) => Some(runnable),
            }
        }

        /// Opens or closes the queue to [`try_push`](Self::try_push) (the backend's decision).
        #[inline]
        pub(crate) fn set_open(&self, open: bool) {
            self.0.open.set(open);
        }

        /// The runnables, for the backend. Never held while a runnable runs or is dropped.
        #[inline]
        pub(crate) fn runnables(&self) -> RefMut<'_, VecDeque<Runnable>> {
            self.0.runnables.borrow_mut()
        }
    }
}

/// For the crate's unit tests of queues, which build runnables by hand: a header whose handle
/// is a scheduler that drops whatever it is given (the tests never wake those runnables).
#[cfg(test)]
pub(crate) fn test_header(metadata: TaskMetadata) -> TaskHeader {
    struct Unscheduled;
    impl Scheduler for Unscheduled {
        fn schedule(&self, runnable: Runnable) {
            drop(runnable);
        }
        fn schedule_after(&self, _: std::time::Duration, runnable: Runnable) {
            drop(runnable);
        }
        fn park(&self, _: Option<std::time::Duration>) -> bool {
            false
        }
        fn unparker(&self) -> crate::Unparker {
            parking::pair().1
        }
        fn is_main_thread(&self) -> bool {
            true
        }
    }
    TaskHeader::new(metadata, Arc::new(Unscheduled))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::{Poll, Waker};

    /// A backend that queues runnables until told to refuse them: then it drops each one it is
    /// given and still touches itself afterwards, as a closed backend may.
    struct Refusing {
        queue: Mutex<Vec<Runnable>>,
        refuse: AtomicBool,
        refused: AtomicUsize,
        dropped: &'static AtomicBool,
    }

    impl Scheduler for Refusing {
        fn schedule(&self, runnable: Runnable) {
            if !self.refuse.load(Ordering::SeqCst) {
                self.queue.lock().unwrap().push(runnable);
                return;
            }
            drop(runnable);
            // The runnable held the last reference to its task, whose header held the last
            // handle to this scheduler: it must still be alive here.
            assert!(
                !self.dropped.load(Ordering::SeqCst),
                "the scheduler was freed inside its own schedule call"
            );
            self.refused.fetch_add(1, Ordering::SeqCst);
        }
        fn schedule_after(&self, _: Duration, runnable: Runnable) {
            drop(runnable);
        }
        fn park(&self, _: Option<Duration>) -> bool {
            false
        }
        fn unparker(&self) -> Unparker {
            parking::pair().1
        }
        fn is_main_thread(&self) -> bool {
            true
        }
    }

    impl Drop for Refusing {
        fn drop(&mut self) {
            self.dropped.store(true, Ordering::SeqCst);
        }
    }

    fn refusing(dropped: &'static AtomicBool) -> Arc<Refusing> {
        Arc::new(Refusing {
            queue: Mutex::new(Vec::new()),
            refuse: AtomicBool::new(false),
            refused: AtomicUsize::new(0),
            dropped,
        })
    }

    /// A pending task keeps exactly one handle to its scheduler (in its header), not one for its
    /// wakes and another for its wrapper; the handle goes with the task.
    #[test]
    fn a_pending_task_holds_one_handle_to_its_scheduler() {
        static DROPPED: AtomicBool = AtomicBool::new(false);
        let backend = refusing(&DROPPED);
        let scheduler: Arc<dyn Scheduler> = backend.clone();
        let before = Arc::strong_count(&backend);
        let task = scheduler.spawn(std::future::pending::<()>());
        assert_eq!(
            Arc::strong_count(&backend),
            before + 1,
            "one handle per task"
        );
        let runnable = backend.queue.lock().unwrap().pop().expect("queued");
        assert_eq!(runnable.metadata().kind(), TaskKind::Background);
        assert_eq!(runnable.metadata().id(), task.id().unwrap());
        drop(task);
        drop(runnable);
        assert_eq!(
            Arc::strong_count(&backend),
            before,
            "the handle went with the task"
        );
    }

    /// A wake whose scheduler drops the runnable (it shut down) when that runnable holds the
    /// last reference to the task, whose header holds the last handle to the scheduler: the
    /// scheduler outlives its `schedule` call (the wake holds a waker across it). Under Miri a
    /// violation is a use after free; natively the assertion in `schedule` catches it.
    #[test]
    fn a_scheduler_dropping_the_last_runnable_outlives_its_schedule_call() {
        static DROPPED: AtomicBool = AtomicBool::new(false);
        let backend = refusing(&DROPPED);
        let scheduler: Arc<dyn Scheduler> = backend.clone();
        let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
        let slot = waker.clone();
        scheduler
            .spawn(std::future::poll_fn(move |cx| {
                *slot.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            }))
            .detach();
        let runnable = backend.queue.lock().unwrap().pop().expect("queued");
        assert!(!runnable.run(), "pending, not woken while it ran");
        backend.refuse.store(true, Ordering::SeqCst);
        let weak = Arc::downgrade(&backend);
        drop((backend, scheduler));
        assert!(
            !DROPPED.load(Ordering::SeqCst),
            "the task still holds its handle"
        );
        let waker = waker.lock().unwrap().take().expect("polled once");
        // The last reference to the task becomes the runnable `schedule` drops.
        waker.wake();
        assert!(
            DROPPED.load(Ordering::SeqCst),
            "freed once the wake returned"
        );
        assert!(weak.upgrade().is_none());
    }
}
