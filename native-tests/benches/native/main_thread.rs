//! Scenario m (and mp, its paced variant): 100,000 tasks posted from a background thread to a main-thread queue and run by
//! the main loop. Each executor's own main-thread mechanism:
//! - ours: runnables handed to `Scheduler::schedule_foreground` (what a GPUI dispatcher does),
//!   run by `LinuxScheduler::run` (a calloop loop with the main-thread event source);
//! - tokio current_thread: `Handle::spawn` from the poster, the main thread in `block_on`;
//! - async-executor: `Executor::spawn` from the poster, only the main thread runs the executor;
//! - floor: async-task runnables sent over a crossbeam channel the main thread drains.

use crate::scenarios::percentile;
use scheduler::platform::LinuxScheduler;
use scheduler::{Scheduler, TaskHeader, TaskKind, TaskMetadata};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const M_TASKS: usize = 100_000;
/// The paced variant (m-paced): fewer tasks, one posted every [`PACE`], so the figure is the
/// post-to-run latency of a main loop that keeps up, not the backlog of a flood.
pub const PACED_TASKS: usize = 5_000;
pub const PACE: Duration = Duration::from_micros(20);

/// How the poster posts: as fast as it can, or one task per `PACE`.
#[derive(Clone, Copy)]
pub struct Load {
    pub tasks: usize,
    pub pace: Option<Duration>,
}

impl Load {
    pub const FLOOD: Self = Self {
        tasks: M_TASKS,
        pace: None,
    };
    pub const PACED: Self = Self {
        tasks: PACED_TASKS,
        pace: Some(PACE),
    };

    /// Waits (spinning: sleeping is far coarser than the pace) until post `index` is due.
    fn wait_turn(&self, start: Instant, index: usize) {
        if let Some(pace) = self.pace {
            let due = start + pace * index as u32;
            while Instant::now() < due {
                std::hint::spin_loop();
            }
        }
    }
}

/// What scenario m measured in one run.
pub struct MainRun {
    pub ns_per_task: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// Shared bookkeeping: per-task post-to-run latency and a completion signal.
struct Record {
    latency_ns: Vec<AtomicU64>,
    remaining: AtomicUsize,
    done: Mutex<Option<futures::channel::oneshot::Sender<()>>>,
}

impl Record {
    fn new(tasks: usize) -> (Arc<Self>, futures::channel::oneshot::Receiver<()>) {
        let (sender, receiver) = futures::channel::oneshot::channel();
        let record = Arc::new(Self {
            latency_ns: (0..tasks).map(|_| AtomicU64::new(0)).collect(),
            remaining: AtomicUsize::new(tasks),
            done: Mutex::new(Some(sender)),
        });
        (record, receiver)
    }

    /// Called by task `index` when it runs.
    fn ran(&self, index: usize, posted: Instant) {
        self.latency_ns[index].store(posted.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1
            && let Some(done) = self.done.lock().unwrap().take()
        {
            let _ = done.send(());
        }
    }

    fn finish(&self, start: Instant) -> MainRun {
        let elapsed = start.elapsed();
        let mut samples: Vec<u64> = self
            .latency_ns
            .iter()
            .map(|latency| latency.load(Ordering::Relaxed))
            .collect();
        samples.sort_unstable();
        MainRun {
            ns_per_task: elapsed.as_nanos() as f64 / self.latency_ns.len() as f64,
            p50_us: percentile(&samples, 50) / 1e3,
            p99_us: percentile(&samples, 99) / 1e3,
        }
    }
}

/// Ours: the poster builds runnables and hands them to `schedule_foreground`.
pub fn ours(linux: &Arc<LinuxScheduler>, load: Load) -> MainRun {
    let (record, done) = Record::new(load.tasks);
    let scheduler: Arc<dyn Scheduler> = linux.clone();
    let start = Instant::now();
    let poster = thread::spawn({
        let record = record.clone();
        move || {
            for index in 0..load.tasks {
                load.wait_turn(start, index);
                let record = record.clone();
                let posted = Instant::now();
                let metadata = TaskMetadata::new(
                    scheduler.next_task_id(),
                    None,
                    None,
                    Location::caller(),
                    TaskKind::Foreground,
                );
                // The future completes on its first poll, so the schedule function (which would
                // re-post it) is never called.
                let header = TaskHeader::new(metadata, scheduler.task_handle(&scheduler));
                let (runnable, task) = async_task::Builder::new()
                    .metadata(header)
                    .spawn(move |_| async move { record.ran(index, posted) }, drop);
                task.detach();
                scheduler.schedule_foreground(runnable);
            }
        }
    });
    linux
        .run_until(async move { done.await.expect("last task signals") })
        .expect("calloop loop");
    poster.join().expect("poster");
    record.finish(start)
}

/// tokio current_thread: the poster spawns through a `Handle`; `block_on` runs the tasks.
pub fn tokio_current_thread(runtime: &tokio::runtime::Runtime, load: Load) -> MainRun {
    let (record, done) = Record::new(load.tasks);
    let handle = runtime.handle().clone();
    let start = Instant::now();
    let poster = thread::spawn({
        let record = record.clone();
        move || {
            for index in 0..load.tasks {
                load.wait_turn(start, index);
                let record = record.clone();
                let posted = Instant::now();
                drop(handle.spawn(async move { record.ran(index, posted) }));
            }
        }
    });
    runtime.block_on(done).expect("last task signals");
    poster.join().expect("poster");
    record.finish(start)
}

/// async-executor: an executor only the main thread runs.
pub fn async_executor(load: Load) -> MainRun {
    let (record, done) = Record::new(load.tasks);
    let executor = Arc::new(async_executor::Executor::new());
    let start = Instant::now();
    let poster = thread::spawn({
        let record = record.clone();
        let executor = executor.clone();
        move || {
            for index in 0..load.tasks {
                load.wait_turn(start, index);
                let record = record.clone();
                let posted = Instant::now();
                executor
                    .spawn(async move { record.ran(index, posted) })
                    .detach();
            }
        }
    });
    futures::executor::block_on(executor.run(done)).expect("last task signals");
    poster.join().expect("poster");
    record.finish(start)
}

/// Floor: async-task runnables over a crossbeam channel drained by the main thread.
pub fn floor(load: Load) -> MainRun {
    let (record, _done) = Record::new(load.tasks);
    let (sender, receiver) = crossbeam_channel::unbounded::<async_task::Runnable>();
    let start = Instant::now();
    let poster = thread::spawn({
        let record = record.clone();
        move || {
            for index in 0..load.tasks {
                load.wait_turn(start, index);
                let record = record.clone();
                let posted = Instant::now();
                let sender = sender.clone();
                let (runnable, task) =
                    async_task::spawn(async move { record.ran(index, posted) }, move |runnable| {
                        sender.send(runnable).expect("main loop alive")
                    });
                task.detach();
                runnable.schedule();
            }
        }
    });
    while record.remaining.load(Ordering::Acquire) > 0 {
        receiver.recv().expect("poster alive").run();
    }
    poster.join().expect("poster");
    record.finish(start)
}
