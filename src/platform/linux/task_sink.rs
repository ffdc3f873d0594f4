//! [`LinuxTaskSink`]: what the LinuxScheduler's tasks hold (see `Scheduler::task_handle`), so a
//! wake goes straight to the pool or the main queue without touching the scheduler's reference
//! count. Both refuse work once the scheduler is dropped (see `PoolHandle::push`,
//! `MainQueue::post`), as the `TaskSink` contract requires.

use super::main_queue::MainQueue;
use super::pool::PoolHandle;
use crate::{Runnable, TaskSink};
use std::sync::Arc;

pub(super) struct LinuxTaskSink {
    pub(super) pool: PoolHandle,
    pub(super) main: Arc<MainQueue>,
}

impl TaskSink for LinuxTaskSink {
    fn schedule(&self, runnable: Runnable) {
        self.pool.push(runnable);
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.main.post(runnable);
    }
}
