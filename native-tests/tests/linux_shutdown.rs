//! LinuxScheduler shutdown, in its own test binary (its own process) so it can count the
//! scheduler's threads in `/proc/self/task` without other tests' schedulers interfering.
#![cfg(target_os = "linux")]

use scheduler::platform::LinuxScheduler;
use scheduler::{ForegroundExecutor, Scheduler, Task};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Names of this process's threads that belong to a LinuxScheduler.
fn scheduler_threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("procfs")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| name.starts_with("scheduler-"))
        .collect()
}

/// Counts how many of its values were dropped.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_the_scheduler_with_pending_work_joins_its_threads_and_drops_queued_work() {
    assert!(scheduler_threads().is_empty());
    let linux = LinuxScheduler::new().expect("threads");
    let workers = linux.background_threads();
    assert!(workers >= 2, "at least two background threads");
    let scheduler: Arc<dyn Scheduler> = linux.clone();
    drop(linux);
    // A new thread names itself once it starts running: give them a moment to do so.
    let mut threads = scheduler_threads();
    for _ in 0..1_000 {
        if threads.len() == workers + 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        threads = scheduler_threads();
    }
    assert_eq!(
        threads.len(),
        workers + 1,
        "workers plus the timer thread: {threads:?}"
    );

    const BACKGROUND: usize = 2_000;
    let ran = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    // Background tasks that each hold a worker for 1 ms: far more than can run before the drop.
    let background: Vec<Task<()>> = (0..BACKGROUND)
        .map(|_| {
            let ran = ran.clone();
            let guard = DropCounter(dropped.clone());
            scheduler.spawn(async move {
                let _guard = guard;
                std::thread::sleep(Duration::from_millis(1));
                ran.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    // Timers that would fire in an hour, and foreground tasks nobody drives.
    let timers: Vec<_> = (0..100)
        .map(|_| scheduler.timer(Duration::from_secs(3600)))
        .collect();
    let foreground_dropped = Arc::new(AtomicUsize::new(0));
    let foreground_ran = Arc::new(AtomicUsize::new(0));
    let foreground = ForegroundExecutor::new(scheduler.clone());
    for _ in 0..100 {
        let guard = DropCounter(foreground_dropped.clone());
        let ran = foreground_ran.clone();
        foreground
            .spawn(async move {
                let _guard = guard;
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .detach();
    }
    drop(foreground);

    drop(scheduler); // the last strong reference: shuts down here, on the main thread

    assert!(
        scheduler_threads().is_empty(),
        "threads left after drop: {:?}",
        scheduler_threads()
    );
    let ran = ran.load(Ordering::SeqCst);
    assert!(ran < BACKGROUND, "queued tasks must not run at shutdown");
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        BACKGROUND,
        "every background future is dropped (run or not)"
    );
    for task in &background {
        assert!(
            task.is_finished(),
            "every task ended (completed or cancelled)"
        );
    }
    let cancelled = background
        .into_iter()
        .map(|task| futures::executor::block_on(task.fallible()))
        .filter(Option::is_none)
        .count();
    assert_eq!(
        cancelled,
        BACKGROUND - ran,
        "unrun tasks report cancellation"
    );
    assert_eq!(foreground_ran.load(Ordering::SeqCst), 0);
    assert_eq!(
        foreground_dropped.load(Ordering::SeqCst),
        100,
        "queued foreground futures are dropped on the main thread"
    );
    drop(timers);
}
