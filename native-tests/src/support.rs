//! Small helpers the test files and benchmarks share.

use scheduler::{
    DedicatedThread, Instant, Runnable, Scheduler, SystemTime, TaskId, TaskMetadata, TaskOutcome,
    Unparker,
};
use std::any::Any;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

/// A future that yields once: it wakes itself and returns `Pending` once, then completes.
pub fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

/// The text of a panic payload (`&str` or `String`), or an empty string.
pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_default()
}

/// A scheduler that forwards everything to another one, except
/// [`unobserved_panic`](Scheduler::unobserved_panic): it keeps those reports (`task: message`)
/// for the test to read instead. The tasks it spawns hold a wrapper of the inner scheduler's
/// own task handle, sharing the reports, so the inner scheduler still shuts down when its
/// owner drops it.
pub struct ObservedPanics {
    inner: Arc<dyn Scheduler>,
    reports: Arc<Mutex<Vec<String>>>,
}

impl ObservedPanics {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Scheduler>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            reports: Arc::default(),
        })
    }

    /// The reports so far, each `task: message` (the task as its metadata prints).
    pub fn reports(&self) -> Vec<String> {
        self.reports.lock().unwrap().clone()
    }
}

impl Scheduler for ObservedPanics {
    fn schedule(&self, runnable: Runnable) {
        self.inner.schedule(runnable)
    }
    fn schedule_foreground(&self, runnable: Runnable) {
        self.inner.schedule_foreground(runnable)
    }
    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        self.inner.schedule_after(delay, runnable)
    }
    fn park(&self, timeout: Option<Duration>) -> bool {
        self.inner.park(timeout)
    }
    fn unparker(&self) -> Unparker {
        self.inner.unparker()
    }
    fn is_main_thread(&self) -> bool {
        self.inner.is_main_thread()
    }
    fn now(&self) -> Instant {
        self.inner.now()
    }
    fn utc_now(&self) -> SystemTime {
        self.inner.utc_now()
    }
    fn dedicated_thread(&self, realtime: bool) -> Option<DedicatedThread> {
        self.inner.dedicated_thread(realtime)
    }
    fn task_handle(&self, _spawned_on: &Arc<dyn Scheduler>) -> Arc<dyn Scheduler> {
        Arc::new(Self {
            inner: self.inner.task_handle(&self.inner),
            reports: self.reports.clone(),
        })
    }
    fn next_task_id(&self) -> TaskId {
        self.inner.next_task_id()
    }
    fn num_cpus(&self) -> usize {
        self.inner.num_cpus()
    }
    fn schedule_spawned(&self, runnable: Runnable) {
        self.inner.schedule_spawned(runnable)
    }
    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        self.inner.task_ended(metadata, outcome)
    }
    fn unobserved_panic(&self, task: &TaskMetadata, message: &str) {
        self.reports
            .lock()
            .unwrap()
            .push(format!("{task}: {message}"));
    }
    fn timer_cancelled(&self, timer: &TaskMetadata) {
        self.inner.timer_cancelled(timer)
    }
}

/// Panics with its text when dropped: a destructor that fails.
pub struct PanicOnDrop(pub &'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}
