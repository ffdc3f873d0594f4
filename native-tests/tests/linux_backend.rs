//! LinuxScheduler: the shared behaviour suite, plus Linux-specific stress and shutdown tests.
#![cfg(any(target_os = "linux", target_os = "freebsd"))]

use native_tests::harnesses::LinuxHarness;

native_tests::behaviour_tests!(LinuxHarness::new());

mod linux_specific {
    use super::LinuxHarness;
    use futures::channel::mpsc;
    use futures::{SinkExt as _, StreamExt as _};
    use native_tests::behaviour::{self, Harness};
    use scheduler::platform::LinuxScheduler;
    use scheduler::{
        BackgroundExecutor, ForegroundExecutor, Scheduler, Task, TaskHeader, TaskId, TaskKind,
        TaskMetadata, TestScheduler,
    };
    use std::panic::Location;
    use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread;
    use std::time::{Duration, Instant};

    fn thread_name() -> String {
        thread::current().name().unwrap_or("<unnamed>").to_owned()
    }

    #[test]
    fn foreground_tasks_run_only_on_the_main_thread_even_when_woken_from_workers() {
        let harness = LinuxHarness::new();
        let main_id = thread::current().id();
        let scheduler = harness.scheduler();
        let background = BackgroundExecutor::new(scheduler.clone());
        let foreground = ForegroundExecutor::new(scheduler.clone());
        let (foreground_ids, background_names) = harness.run(async move {
            let mut foreground_tasks = Vec::new();
            let mut background_tasks = Vec::new();
            for _ in 0..200 {
                let (sender, receiver) = futures::channel::oneshot::channel::<()>();
                foreground_tasks.push(foreground.spawn(async move {
                    let first = thread::current().id();
                    receiver.await.expect("sender sends");
                    (first, thread::current().id())
                }));
                background_tasks.push(background.spawn(async move {
                    behaviour::yield_now().await;
                    sender.send(()).expect("receiver alive");
                    thread_name()
                }));
            }
            (
                futures::future::join_all(foreground_tasks).await,
                futures::future::join_all(background_tasks).await,
            )
        });
        for (first, resumed) in foreground_ids {
            assert_eq!(
                first, main_id,
                "foreground task started off the main thread"
            );
            assert_eq!(
                resumed, main_id,
                "foreground task resumed off the main thread"
            );
        }
        for name in background_names {
            assert!(
                name.starts_with("scheduler-worker-"),
                "background task ran on {name:?}"
            );
        }
    }

    #[test]
    fn a_million_tasks_from_four_spawning_threads_each_complete_exactly_once() {
        const SPAWNERS: usize = 4;
        const PER_SPAWNER: usize = 250_000;
        const TOTAL: usize = SPAWNERS * PER_SPAWNER;
        let linux = LinuxScheduler::new().expect("threads");
        let scheduler: Arc<dyn Scheduler> = linux.clone();
        let runs: Arc<Vec<AtomicU8>> = Arc::new((0..TOTAL).map(|_| AtomicU8::new(0)).collect());
        let completed = Arc::new(AtomicUsize::new(0));
        let main = scheduler.unparker();
        let spawners: Vec<_> = (0..SPAWNERS)
            .map(|spawner| {
                let scheduler = scheduler.clone();
                let runs = runs.clone();
                let completed = completed.clone();
                let main = main.clone();
                thread::spawn(move || {
                    for i in spawner * PER_SPAWNER..(spawner + 1) * PER_SPAWNER {
                        let runs = runs.clone();
                        let completed = completed.clone();
                        let main = main.clone();
                        scheduler
                            .spawn(async move {
                                runs[i].fetch_add(1, Ordering::Relaxed);
                                if completed.fetch_add(1, Ordering::AcqRel) + 1 == TOTAL {
                                    main.unpark();
                                }
                            })
                            .detach();
                    }
                })
            })
            .collect();
        for spawner in spawners {
            spawner.join().expect("spawner thread");
        }
        while completed.load(Ordering::Acquire) < TOTAL {
            scheduler.park(Some(Duration::from_millis(50)));
        }
        let wrong = runs
            .iter()
            .enumerate()
            .filter(|(_, count)| count.load(Ordering::Relaxed) != 1)
            .take(10)
            .map(|(i, count)| (i, count.load(Ordering::Relaxed)))
            .collect::<Vec<_>>();
        assert!(wrong.is_empty(), "tasks not run exactly once: {wrong:?}");
        assert_eq!(completed.load(Ordering::Acquire), TOTAL);
    }

    #[test]
    fn a_hundred_thousand_cross_thread_wakes_lose_none() {
        // 50,000 round trips between a plain OS thread (blocked in `block`) and a background
        // task: every message wakes a task or thread parked on another thread.
        const ROUND_TRIPS: u64 = 50_000;
        let linux = LinuxScheduler::new().expect("threads");
        let scheduler: Arc<dyn Scheduler> = linux.clone();
        let (mut ping_tx, mut ping_rx) = mpsc::channel::<u64>(0);
        let (mut pong_tx, mut pong_rx) = mpsc::channel::<u64>(0);
        let echo = scheduler.spawn(async move {
            let mut received = 0u64;
            while let Some(value) = ping_rx.next().await {
                received += 1;
                pong_tx.send(value).await.expect("pong receiver alive");
            }
            received
        });
        let driver = thread::spawn({
            let scheduler = scheduler.clone();
            move || {
                let mut sum = 0;
                for i in 0..ROUND_TRIPS {
                    scheduler.block(ping_tx.send(i)).expect("echo alive");
                    sum += scheduler.block(pong_rx.next()).expect("echo alive");
                }
                sum
            }
        });
        let sum = driver.join().expect("driver thread");
        assert_eq!(sum, (0..ROUND_TRIPS).sum::<u64>());
        assert_eq!(scheduler.block(echo), ROUND_TRIPS);
    }

    #[test]
    fn foreground_background_ping_pong_loses_no_wake() {
        const ROUND_TRIPS: u64 = 5_000;
        let harness = LinuxHarness::new();
        let scheduler = harness.scheduler();
        let background = BackgroundExecutor::new(scheduler.clone());
        let foreground = ForegroundExecutor::new(scheduler);
        let sum = harness.run(async move {
            let (mut ping_tx, mut ping_rx) = mpsc::channel::<u64>(0);
            let (mut pong_tx, mut pong_rx) = mpsc::channel::<u64>(0);
            background
                .spawn(async move {
                    while let Some(value) = ping_rx.next().await {
                        pong_tx.send(value * 2).await.expect("pong receiver alive");
                    }
                })
                .detach();
            foreground
                .spawn(async move {
                    let mut sum = 0;
                    for i in 0..ROUND_TRIPS {
                        ping_tx.send(i).await.expect("echo alive");
                        sum += pong_rx.next().await.expect("echo alive");
                    }
                    sum
                })
                .await
        });
        assert_eq!(sum, 2 * (0..ROUND_TRIPS).sum::<u64>());
    }

    /// A `schedule_after` runnable of kind `Timer` (built the way `Scheduler::timer` builds
    /// one) that records when, and in which order, it ran.
    fn recording_timer(
        scheduler: &Arc<dyn Scheduler>,
        index: usize,
        log: &Arc<Mutex<Vec<(usize, Instant)>>>,
    ) -> (scheduler::Runnable, async_task::Task<(), TaskHeader>) {
        let log = log.clone();
        let metadata = TaskMetadata::new(
            TaskId::from_raw(1_000_000 + index as u64),
            None,
            None,
            Location::caller(),
            TaskKind::Timer,
        );
        let header = TaskHeader::new(metadata, scheduler.task_handle(scheduler));
        async_task::Builder::new().metadata(header).spawn(
            move |_| async move { log.lock().unwrap().push((index, Instant::now())) },
            // Ready on its first poll, so it is never rescheduled.
            drop,
        )
    }

    #[test]
    fn timers_fire_in_deadline_order_and_never_early() {
        let harness = LinuxHarness::new();
        let scheduler = harness.scheduler();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut deadlines = Vec::new();
        let mut handles = Vec::new();
        // 100 distinct delays, 0..=99 ms apart by 1 ms, inserted in a scrambled order.
        for index in 0..100usize {
            let delay = Duration::from_millis(((index * 37) % 100) as u64);
            let (runnable, handle) = recording_timer(&scheduler, index, &log);
            deadlines.push((index, delay, Instant::now() + delay));
            scheduler.schedule_after(delay, runnable);
            handles.push(handle);
        }
        let background = BackgroundExecutor::new(scheduler);
        harness.run({
            let background = background.clone();
            async move { background.timer(Duration::from_millis(120)).await }
        });
        let fired = log.lock().unwrap().clone();
        assert_eq!(fired.len(), 100, "every timer fires once");
        // Ordered by the deadlines recorded at insertion, not by the delays: a stall between two
        // insertions 1 ms apart would make the delays' order wrong, not the scheduler.
        let mut expected: Vec<_> = deadlines.iter().map(|&(i, _, at)| (at, i)).collect();
        expected.sort();
        let fired_order: Vec<usize> = fired.iter().map(|&(i, _)| i).collect();
        let expected_order: Vec<usize> = expected.iter().map(|&(_, i)| i).collect();
        assert_eq!(fired_order, expected_order, "timers fired out of order");
        for &(index, at) in &fired {
            let (_, delay, deadline) = deadlines[index];
            assert!(at >= deadline, "timer {index} ({delay:?}) fired early");
        }
    }

    #[test]
    fn dropped_timers_are_released_from_the_timer_thread() {
        let linux = LinuxScheduler::new().expect("threads");
        let scheduler: Arc<dyn Scheduler> = linux.clone();
        let timers: Vec<_> = (0..100)
            .map(|_| scheduler.timer(Duration::from_secs(3600)))
            .collect();
        assert_eq!(linux.pending_timers(), 100);
        drop(timers);
        assert_eq!(linux.pending_timers(), 0, "dropped timers still held");
    }

    #[test]
    fn panicking_tasks_leave_every_worker_running() {
        let linux = LinuxScheduler::new().expect("threads");
        let scheduler: Arc<dyn Scheduler> = linux.clone();
        let workers = linux.background_threads();
        let failing: Vec<Task<()>> = (0..workers * 8)
            .map(|i| scheduler.spawn(async move { panic!("deliberate panic {i}") }))
            .collect();
        for task in failing {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                scheduler.block(task);
            }));
            assert!(outcome.is_err(), "awaiting a panicked task re-raises");
        }
        // Every worker must take one of these tasks: each waits until all have started.
        let started = Arc::new(AtomicUsize::new(0));
        let rendezvous: Vec<Task<(bool, String)>> = (0..workers)
            .map(|_| {
                let started = started.clone();
                scheduler.spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let give_up = Instant::now() + Duration::from_secs(10);
                    while started.load(Ordering::SeqCst) < workers && Instant::now() < give_up {
                        thread::yield_now();
                    }
                    (started.load(Ordering::SeqCst) == workers, thread_name())
                })
            })
            .collect();
        let results = scheduler.block(futures::future::join_all(rendezvous));
        let mut names: Vec<String> = results
            .iter()
            .map(|(all_met, name)| {
                assert!(all_met, "not every worker picked up work after the panics");
                name.clone()
            })
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), workers, "distinct workers: {names:?}");
    }

    #[test]
    fn dropping_the_scheduler_from_another_thread_leaks_no_panic() {
        let linux = LinuxScheduler::new().expect("threads");
        let scheduler: Arc<dyn Scheduler> = linux.clone();
        drop(linux);
        let foreground = ForegroundExecutor::new(scheduler.clone());
        // Queued but never run: there is no main loop in this test.
        for _ in 0..10 {
            foreground.spawn(async {}).detach();
        }
        thread::spawn(move || drop(scheduler))
            .join()
            .expect("dropping off the main thread must not panic");
    }

    #[test]
    fn dropping_the_scheduler_inside_its_own_task_does_not_deadlock() {
        let linux = LinuxScheduler::new().expect("threads");
        let scheduler: Arc<dyn Scheduler> = linux.clone();
        drop(linux);
        let (sender, receiver) = std::sync::mpsc::channel();
        let own = scheduler.clone();
        scheduler
            .spawn(async move {
                // The last strong reference goes away on a worker thread.
                drop(own);
                sender.send(thread_name()).expect("receiver alive");
            })
            .detach();
        drop(scheduler);
        let name = receiver
            .recv_timeout(Duration::from_secs(10))
            .expect("the task finished after dropping the scheduler");
        assert!(name.starts_with("scheduler-worker-"), "ran on {name}");
    }

    #[test]
    fn same_body_gives_the_same_result_on_linux_and_test_scheduler() {
        fn body(background: BackgroundExecutor, foreground: ForegroundExecutor) -> Task<String> {
            foreground.clone().spawn({
                let background = background.clone();
                async move {
                    let squares =
                        background.spawn(async { (1..=10u64).map(|i| i * i).sum::<u64>() });
                    background.timer(Duration::from_millis(2)).await;
                    let label = foreground.spawn(async { "ui" }).await;
                    format!("{label}:{}", squares.await)
                }
            })
        }
        let linux = LinuxHarness::new();
        let linux_scheduler = linux.scheduler();
        let on_linux = linux.run(body(
            BackgroundExecutor::new(linux_scheduler.clone()),
            ForegroundExecutor::new(linux_scheduler),
        ));
        let test: Arc<dyn Scheduler> = TestScheduler::with_seed(3);
        let on_test = test.block(body(
            BackgroundExecutor::new(test.clone()),
            ForegroundExecutor::new(test.clone()),
        ));
        assert_eq!(on_linux, "ui:385");
        assert_eq!(on_linux, on_test);
    }
}

mod shutdown_races {
    use scheduler::Scheduler;
    use scheduler::platform::LinuxScheduler;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    /// Counts how many of its values were dropped.
    struct DropCounter(Arc<AtomicUsize>);

    impl Drop for DropCounter {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn wakes_racing_with_scheduler_drop_leave_no_task_behind() {
        const TASKS: usize = 2_000;
        const WAKERS: usize = 4;
        for _ in 0..5 {
            let linux = LinuxScheduler::new().expect("threads");
            let scheduler: Arc<dyn Scheduler> = linux.clone();
            drop(linux);
            let dropped = Arc::new(AtomicUsize::new(0));
            let mut senders = Vec::with_capacity(TASKS);
            for _ in 0..TASKS {
                let (sender, receiver) = futures::channel::oneshot::channel::<()>();
                let guard = DropCounter(dropped.clone());
                scheduler
                    .spawn(async move {
                        let _guard = guard;
                        let _ = receiver.await;
                    })
                    .detach();
                senders.push(sender);
            }
            // Four threads wake the tasks while the main thread drops the scheduler.
            let chunks: Vec<Vec<_>> = {
                let mut chunks: Vec<Vec<_>> = (0..WAKERS).map(|_| Vec::new()).collect();
                for (index, sender) in senders.into_iter().enumerate() {
                    chunks[index % WAKERS].push(sender);
                }
                chunks
            };
            let wakers: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    thread::spawn(move || {
                        for sender in chunk {
                            let _ = sender.send(());
                        }
                    })
                })
                .collect();
            drop(scheduler);
            for waker in wakers {
                waker.join().expect("waker thread");
            }
            // Every future was either completed or dropped: none is stuck in a queue or cycle.
            assert_eq!(dropped.load(Ordering::SeqCst), TASKS);
        }
    }
}

mod foreground_after_shutdown {
    use scheduler::platform::LinuxScheduler;
    use scheduler::{ForegroundExecutor, Scheduler};
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn waking_a_foreground_task_from_another_thread_after_shutdown_does_not_panic() {
        let linux = LinuxScheduler::new().expect("threads");
        let scheduler: Arc<dyn Scheduler> = linux.clone();
        drop(linux);
        let (sender, receiver) = futures::channel::oneshot::channel::<()>();
        // Polled once on the main thread, then waiting for `sender`.
        let foreground = ForegroundExecutor::new(scheduler.clone());
        foreground
            .spawn(async move {
                let _ = receiver.await;
            })
            .detach();
        let linux = scheduler
            .downcast_ref::<LinuxScheduler>()
            .expect("a LinuxScheduler");
        assert_eq!(linux.run_foreground_tasks(usize::MAX), 1);
        drop(foreground);
        drop(scheduler);
        // The wake finds the scheduler gone, off the task's thread: it must neither run nor
        // drop the task there (async-task would panic), and must not panic itself.
        thread::spawn(move || sender.send(()))
            .join()
            .expect("the waking thread must not panic")
            .expect("receiver alive (the task is leaked, not dropped)");
    }
}

mod platform_default {
    use scheduler::platform::{self, LinuxScheduler};
    use std::sync::Arc;

    #[test]
    fn current_is_one_shared_linux_scheduler() {
        let first = platform::current();
        let second = platform::current();
        assert!(Arc::ptr_eq(&first, &second), "one scheduler per process");
        let linux = first
            .downcast_ref::<LinuxScheduler>()
            .expect("the Linux default is a LinuxScheduler");
        assert!(linux.background_threads() >= 2);
        assert_eq!(first.block(first.spawn(async { 6 * 7 })), 42);
    }
}
