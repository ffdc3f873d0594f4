//! The [`Scheduler`] impl of [`TestScheduler`]: every call goes to its engine.

use super::handle::TestScheduler;
use crate::{
    DedicatedThread, Instant, Runnable, Scheduler, SystemTime, TaskId, TaskMetadata, TaskOutcome,
    Unparker,
};
use std::sync::Arc;
use std::time::Duration;

impl Scheduler for TestScheduler {
    /// One step of the simulation instead of sleeping (see [`TestScheduler::tick`]); a
    /// deadlock (nothing can ever happen, parking forbidden) panics with a report.
    fn park(&self, timeout: Option<Duration>) -> bool {
        self.engine.park(timeout)
    }

    fn unparker(&self) -> Unparker {
        self.engine.unparker.clone()
    }

    /// `true` on the test thread, except while it runs a background task.
    fn is_main_thread(&self) -> bool {
        self.engine.is_main_thread()
    }

    /// The virtual clock.
    fn now(&self) -> Instant {
        self.engine.now()
    }

    /// A fake wall clock: [`UTC_START`](TestScheduler::UTC_START) (2026-01-01T00:00:00Z), or
    /// what the test [set](TestScheduler::set_utc_now), plus the virtual time since. It never
    /// reads the system clock.
    fn utc_now(&self) -> SystemTime {
        self.engine.utc_now()
    }

    /// No thread: a dedicated executor's tasks (and a realtime task) run on the test thread,
    /// FIFO per executor and interleaved with the rest by the seed.
    fn dedicated_thread(&self, _realtime: bool) -> Option<DedicatedThread> {
        None
    }

    /// Queued with the others; a [deprioritized](TestScheduler::deprioritize) label makes it
    /// wait until nothing else is ready.
    fn schedule(&self, runnable: Runnable) {
        self.engine.enqueue(runnable);
    }

    /// A virtual timer: fires when the clock reaches `now + delay`.
    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        self.engine.schedule_after(delay, runnable);
    }

    /// The test thread is the main thread: foreground runnables are queued like the others
    /// (in FIFO order per session).
    fn schedule_foreground(&self, runnable: Runnable) {
        self.engine.enqueue(runnable);
    }

    /// The test holds this handle; its tasks hold a second one on the same engine, so
    /// dropping the test's handle closes the engine however many tasks are still alive.
    fn task_handle(&self, spawned_on: &Arc<dyn Scheduler>) -> Arc<dyn Scheduler> {
        self.role.task_handle(spawned_on)
    }

    /// Ids numbered 1, 2, 3… per scheduler, so a seed gives the same ids on every run.
    fn next_task_id(&self) -> TaskId {
        self.engine.next_task_id()
    }

    fn num_cpus(&self) -> usize {
        self.engine.num_cpus
    }

    /// Registers the task (for `live_tasks`, deadlock and leak reports) and queues it.
    fn schedule_spawned(&self, runnable: Runnable) {
        self.engine.schedule_spawned(runnable);
    }

    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        self.engine.task_ended(metadata, outcome);
    }

    /// Fails the test at the next tick (or when the scheduler is dropped).
    fn unobserved_panic(&self, task: &TaskMetadata, message: &str) {
        self.engine.unobserved_panic(task, message);
    }

    fn timer_cancelled(&self, timer: &TaskMetadata) {
        self.engine.timer_cancelled(timer);
    }
}
