//! The [`Scheduler`] trait: the only thing a backend implements.

use crate::{Instant, TaskId, TaskKind, TaskLabel, TaskMetadata};
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A unit of work a scheduler moves around: an [`async_task::Runnable`] carrying [`TaskMetadata`].
///
/// Running it polls its task once. Dropping it without running cancels the task.
pub type Runnable = async_task::Runnable<TaskMetadata>;

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

/// The part of a scheduler that its tasks hold on to (see [`Scheduler::task_handle`]): where
/// their wakes go and where they report their end.
///
/// Tasks hold the sink strongly, so it must never keep tasks alive past its scheduler: once the
/// scheduler is dropped, the sink drops every runnable it is handed (a foreground runnable
/// handed over on a thread other than the one that spawned it must be leaked instead, since
/// async-task forbids dropping it there). Otherwise a stalled task whose waker the sink keeps
/// would keep the sink, and itself, alive forever.
pub trait TaskSink: Send + Sync {
    /// As [`Scheduler::schedule`].
    fn schedule(&self, runnable: Runnable);

    /// As [`Scheduler::schedule_labeled`].
    fn schedule_labeled(&self, runnable: Runnable, label: TaskLabel) {
        let _ = label;
        self.schedule(runnable);
    }

    /// As [`Scheduler::schedule_foreground`].
    fn schedule_foreground(&self, runnable: Runnable);

    /// As [`Scheduler::task_ended`].
    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        let _ = (metadata, outcome);
    }
}

/// Moves [`Runnable`]s to threads. Object-safe: used as `Arc<dyn Scheduler>`.
///
/// A backend never sees a future: spawning, task ids, labels, spawn locations, timers as futures
/// and blocking are implemented once, on `dyn Scheduler` (see [`crate::Task`] and the helpers
/// `spawn`, `spawn_labeled`, `spawn_foreground`, `timer`, `block`, `block_with_timeout`).
///
/// The methods after `now` have default implementations; a backend overrides them when it can do
/// better (the [`TestScheduler`](crate::TestScheduler) overrides all of them).
pub trait Scheduler: Any + Send + Sync {
    /// Runs `runnable` soon, on any background thread.
    fn schedule(&self, runnable: Runnable);

    /// Like [`schedule`](Self::schedule), for a task spawned with a label. Production schedulers
    /// ignore the label.
    fn schedule_labeled(&self, runnable: Runnable, label: TaskLabel) {
        let _ = label;
        self.schedule(runnable);
    }

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

    /// Runs `runnable` (on a background thread) once `delay` has passed.
    fn schedule_after(&self, delay: Duration, runnable: Runnable);

    /// Blocks the calling thread until [`unparker`](Self::unparker) is used or `timeout` passes.
    /// Returns `true` if it was unparked, `false` on time-out.
    fn park(&self, timeout: Option<Duration>) -> bool;

    /// A handle that wakes the thread blocked in [`park`](Self::park).
    fn unparker(&self) -> Unparker;

    /// Whether the calling code runs on the main thread.
    fn is_main_thread(&self) -> bool;

    /// The scheduler's clock: real time for production schedulers, virtual time in tests.
    fn now(&self) -> Instant;

    /// A fresh task id. The default numbers tasks process-wide; deterministic schedulers number
    /// their own.
    fn next_task_id(&self) -> TaskId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TaskId::from_raw(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// How many tasks can make progress at once.
    fn num_cpus(&self) -> usize {
        default_num_cpus()
    }

    /// Called by the spawn helpers after a task is created and before it is first scheduled.
    /// Default: nothing. Schedulers that track tasks (tests, leak reports, counters) hook in here.
    fn task_spawned(&self, metadata: &TaskMetadata) {
        let _ = metadata;
    }

    /// Receives a new task's first runnable: records the spawn ([`task_spawned`]) and schedules
    /// it by kind (foreground, labeled or plain background). Later wakes go straight to the
    /// `schedule*` methods. Override to do both in one step.
    ///
    /// [`task_spawned`]: Self::task_spawned
    fn schedule_spawned(&self, runnable: Runnable) {
        self.task_spawned(runnable.metadata());
        let metadata = *runnable.metadata();
        match (metadata.kind(), metadata.label()) {
            (TaskKind::Foreground, _) => self.schedule_foreground(runnable),
            (_, Some(label)) => self.schedule_labeled(runnable, label),
            (_, None) => self.schedule(runnable),
        }
    }

    /// What tasks spawned on this scheduler keep to reach it when they are woken or end.
    ///
    /// By default (`None`) each task keeps a `Weak` reference to the scheduler and upgrades it
    /// on every wake: an atomic read-modify-write and release on a counter every thread shares
    /// (measured: ~14% of a yield-heavy benchmark on two threads). A backend may instead hand
    /// out a [`TaskSink`]: an inner object the tasks hold strongly, which makes a wake a plain
    /// call. See [`TaskSink`] for what that obliges the backend to.
    fn task_handle(&self) -> Option<std::sync::Arc<dyn TaskSink>> {
        None
    }

    /// Called once when a task ends, on the thread where it ended. Default: nothing.
    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        let _ = (metadata, outcome);
    }

    /// Called when a [`Timer`](crate::Timer) is dropped before it fired, so a backend can release
    /// what holds the timer's runnable (a JS timeout, a heap entry). Default: nothing; the
    /// runnable then simply does nothing when it runs.
    fn timer_cancelled(&self, timer: &TaskMetadata) {
        let _ = timer;
    }

    /// Drives `future` to completion on the calling thread, giving up after `timeout`.
    /// Returns `true` if it completed.
    ///
    /// The `block` / `block_with_timeout` helpers call this. The default polls and
    /// [`park`](Self::park)s; the [`TestScheduler`](crate::TestScheduler) runs other tasks
    /// instead.
    fn block_on_future(
        &self,
        future: Pin<&mut dyn Future<Output = ()>>,
        timeout: Option<Duration>,
    ) -> bool {
        crate::block::park_until_complete(self, future, timeout)
    }
}

/// Available parallelism, at least 1 (always 1 on wasm32).
pub(crate) fn default_num_cpus() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
    #[cfg(not(target_arch = "wasm32"))]
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
    /// let scheduler: Arc<dyn Scheduler> = Arc::new(TestScheduler::with_seed(1));
    /// assert_eq!(scheduler.downcast_ref::<TestScheduler>().unwrap().seed(), 1);
    /// ```
    pub fn downcast_ref<T: Scheduler>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }
}
