//! [`WindowsTaskSink`]: what the WindowsScheduler's tasks hold (see `Scheduler::task_handle`),
//! so a wake goes straight to the work queue or the main queue without touching the scheduler's
//! reference count. Both refuse work once the scheduler is dropped (see `WorkQueue::schedule`,
//! `MainQueue::push`), as the `TaskSink` contract requires.

use super::main_queue::MainQueue;
use super::work_pool::WorkQueue;
use crate::{Runnable, TaskSink};
use std::sync::Arc;

pub(super) struct WindowsTaskSink {
    pub(super) work: Arc<WorkQueue>,
    pub(super) main: Arc<MainQueue>,
}

impl TaskSink for WindowsTaskSink {
    fn schedule(&self, runnable: Runnable) {
        self.work.schedule(runnable);
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.main.push(runnable);
    }
}
