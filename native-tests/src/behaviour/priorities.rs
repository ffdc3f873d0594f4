//! Behaviour bodies for priorities, dedicated executors and the clock (see the parent module):
//! the same on every backend, real threads or simulated.

use super::{Harness, executors, yield_now};
use futures::channel::oneshot;
use futures::future::join_all;
use scheduler::{Priority, Task};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// A task spawned from a task gets its priority (also a dedicated or foreground one); a given
/// priority overrides it; its own spawns inherit that one.
pub fn priority_is_inherited_unless_given<H: Harness>(harness: &H) {
    let (background, foreground) = executors(harness);
    let scheduler = harness.scheduler();
    let seen = harness.run(async move {
        let inner = background.clone();
        let parent = background.spawn_with_priority(Priority::Low, async move {
            let child = inner.spawn(async { Priority::current() });
            let child_metadata = child.metadata().unwrap().priority();
            let nested = inner.clone();
            let overridden = inner.spawn_with_priority(Priority::High, async move {
                nested.spawn(async { Priority::current() }).await
            });
            let dedicated = inner.spawn_dedicated(|executor| async move {
                let local = executor.spawn(async { Priority::current() });
                (Priority::current(), local.await)
            });
            (
                Priority::current(),
                child_metadata,
                child.await,
                overridden.await,
                dedicated.await,
            )
        });
        let parent_metadata = parent.metadata().unwrap().priority();
        let outside = scheduler.spawn(async { Priority::current() });
        let foreground_from_main = foreground.spawn(async { Priority::current() });
        (
            parent_metadata,
            parent.await,
            outside.await,
            foreground_from_main.await,
        )
    });
    let (parent_metadata, in_parent, outside, foreground_from_main) = seen;
    assert_eq!(parent_metadata, Priority::Low);
    assert_eq!(
        in_parent,
        (
            Priority::Low,
            Priority::Low,
            Priority::Low,
            Priority::High,
            (Priority::Low, Priority::Low)
        ),
        "(parent, child's metadata, child, grandchild of an overridden high, dedicated)"
    );
    assert_eq!(outside, Priority::Medium, "the default outside tasks");
    assert_eq!(foreground_from_main, Priority::Medium);
}

/// A realtime task runs (on its own thread where the backend has threads) and off the main
/// thread; the tasks it spawns are high, not realtime.
pub fn realtime_task_runs_and_its_children_are_high<H: Harness>(harness: &H) {
    let (background, _) = executors(harness);
    let scheduler = harness.scheduler();
    let (priority, on_main, child, task_priority) = harness.run(async move {
        let inner = background.clone();
        let task = background.spawn_with_priority(Priority::Realtime, async move {
            yield_now().await;
            let child = inner.spawn(async { Priority::current() }).await;
            (Priority::current(), scheduler.is_main_thread(), child)
        });
        let task_priority = task.metadata().unwrap().priority();
        let (priority, on_main, child) = task.await;
        (priority, on_main, child, task_priority)
    });
    assert_eq!(task_priority, Priority::Realtime);
    assert_eq!(priority, Priority::Realtime);
    assert!(!on_main, "a realtime task ran on the main thread");
    assert_eq!(child, Priority::High);
}

/// Bounded starvation: a low task that yields 20 times completes while four high tasks keep
/// yielding; the high tasks stop by themselves after `CAP` yields, which must not be reached.
pub fn low_priority_work_progresses_under_high_priority_load<H: Harness>(harness: &H) {
    const CAP: u64 = 200_000;
    let (background, _) = executors(harness);
    let most = harness.run(async move {
        let done = Arc::new(AtomicBool::new(false));
        let highs: Vec<Task<u64>> = (0..4)
            .map(|_| {
                let done = done.clone();
                background.spawn_with_priority(Priority::High, async move {
                    let mut yields = 0;
                    while !done.load(Ordering::SeqCst) && yields < CAP {
                        yield_now().await;
                        yields += 1;
                    }
                    yields
                })
            })
            .collect();
        let low = background.spawn_with_priority(Priority::Low, async move {
            for _ in 0..20 {
                yield_now().await;
            }
            done.store(true, Ordering::SeqCst);
        });
        low.await;
        join_all(highs).await.into_iter().max().unwrap_or(0)
    });
    assert!(
        most < CAP,
        "the low task starved: a high task yielded {most} times"
    );
}

/// A dedicated executor runs `!Send` work, its local tasks in spawn order, off the main thread;
/// timers work there.
pub fn dedicated_executor_runs_local_tasks_in_order_off_the_main_thread<H: Harness>(harness: &H) {
    let scheduler = harness.scheduler();
    let (order, on_main, waited) = harness.run(async move {
        scheduler
            .spawn_dedicated(|executor| async move {
                let log = Rc::new(RefCell::new(Vec::new())); // !Send
                let tasks: Vec<Task<()>> = (0..20)
                    .map(|i| {
                        let log = log.clone();
                        executor.spawn(async move { log.borrow_mut().push(i) })
                    })
                    .collect();
                join_all(tasks).await;
                let start = executor.scheduler().now();
                executor.timer(Duration::from_millis(2)).await;
                let waited = executor.scheduler().now() - start;
                let on_main = executor.scheduler().is_main_thread();
                (log.take(), on_main, waited)
            })
            .await
    });
    assert_eq!(order, (0..20).collect::<Vec<_>>());
    assert!(!on_main, "dedicated work ran on the main thread");
    assert!(waited >= Duration::from_millis(2));
}

/// Sends on its channel when dropped.
struct Signal(Option<oneshot::Sender<()>>);

impl Drop for Signal {
    fn drop(&mut self) {
        if let Some(sender) = self.0.take() {
            let _ = sender.send(());
        }
    }
}

/// Dropping a dedicated executor's root task cancels the root future and, with it, the local
/// task it holds; neither finishes.
pub fn dropping_a_dedicated_root_task_cancels_it<H: Harness>(harness: &H) {
    let scheduler = harness.scheduler();
    let finished = Arc::new(AtomicBool::new(false));
    let (started_tx, started) = oneshot::channel();
    let (root_tx, root_dropped) = oneshot::channel();
    let (child_tx, child_dropped) = oneshot::channel();
    let root = scheduler.spawn_dedicated({
        let finished = finished.clone();
        move |executor| async move {
            let _signal = Signal(Some(root_tx));
            // The signal is made here, not at the child's first poll: the root may be dropped
            // before the child ever ran, and its future must still signal when dropped.
            let child_signal = Signal(Some(child_tx));
            let child = executor.spawn(async move {
                let _signal = child_signal;
                futures::future::pending::<()>().await
            });
            let _ = started_tx.send(());
            futures::future::pending::<()>().await;
            drop(child);
            finished.store(true, Ordering::SeqCst);
        }
    });
    harness.run(async move {
        started.await.expect("the root started");
        drop(root);
        root_dropped.await.expect("signals on drop");
        child_dropped.await.expect("signals on drop");
    });
    assert!(!finished.load(Ordering::SeqCst));
}

/// `utc_now` is a wall clock after 2025 that moves with the scheduler's clock.
pub fn utc_now_moves_with_the_clock<H: Harness>(harness: &H) {
    let (background, _) = executors(harness);
    let (start, start_utc) = (background.now(), background.utc_now());
    harness.run({
        let background = background.clone();
        async move { background.timer(Duration::from_millis(5)).await }
    });
    let (end, end_utc) = (background.now(), background.utc_now());
    let year_2025 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600);
    assert!(start_utc > year_2025, "{start_utc:?}");
    let moved = end_utc
        .duration_since(start_utc)
        .expect("the wall clock went back");
    assert!(
        moved >= Duration::from_millis(4) && moved <= (end - start) + Duration::from_secs(1),
        "the wall clock moved {moved:?} while the clock moved {:?}",
        end - start
    );
}
