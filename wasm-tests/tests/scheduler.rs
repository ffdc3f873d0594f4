//! The WasmScheduler's core behaviour in a JS host: microtask FIFO order, one drain per batch,
//! spawning from tasks, cancellation on drop, 100,000 tasks, re-entrancy under load, and the
//! clear panics of `block` / `park`.
#![cfg(target_arch = "wasm32")]

use futures::channel::oneshot;
use scheduler::platform::wasm::WasmScheduler;
use scheduler::{Scheduler, Task};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::support::{new_wasm_scheduler, next_macrotask, yield_now, yield_times};

#[wasm_bindgen_test]
async fn tasks_run_in_a_microtask_in_fifo_order_with_one_drain_per_batch() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..100 {
        let log = log.clone();
        tasks.push(scheduler.spawn(async move { log.lock().unwrap().push(i) }));
    }
    assert!(
        log.lock().unwrap().is_empty(),
        "spawn must not run the task synchronously"
    );
    assert_eq!(wasm.stats().drains, 0);
    // A promise callback queued after the spawns runs after the drain's microtask.
    let after = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(
        &wasm_bindgen::JsValue::from(1),
    ));
    after.await.unwrap();
    assert_eq!(*log.lock().unwrap(), (0..100).collect::<Vec<_>>());
    assert_eq!(
        wasm.stats().drains,
        1,
        "one microtask drain for the whole batch"
    );
    for task in tasks {
        task.await;
    }
    assert_eq!(wasm.stats().total.completed, 100);
}

#[wasm_bindgen_test]
async fn tasks_spawned_by_a_task_run_after_those_already_queued() {
    let (_wasm, scheduler) = new_wasm_scheduler();
    let log = Arc::new(Mutex::new(Vec::new()));
    let a = scheduler.spawn({
        let (log, scheduler) = (log.clone(), scheduler.clone());
        async move {
            log.lock().unwrap().push("a");
            let child = scheduler.spawn({
                let log = log.clone();
                async move {
                    log.lock().unwrap().push("c");
                    20
                }
            });
            child.await + 1
        }
    });
    let b = scheduler.spawn({
        let log = log.clone();
        async move { log.lock().unwrap().push("b") }
    });
    assert_eq!(a.await, 21);
    b.await;
    assert_eq!(*log.lock().unwrap(), ["a", "b", "c"]);
}

#[wasm_bindgen_test]
async fn nested_spawns_three_levels_deep_return_their_results() {
    let (_wasm, scheduler) = new_wasm_scheduler();
    let outer = scheduler.spawn({
        let scheduler = scheduler.clone();
        async move {
            let mut sum = 0;
            for i in 0..10u64 {
                let inner = scheduler.spawn({
                    let scheduler = scheduler.clone();
                    async move { scheduler.spawn(async move { i * 2 }).await + 1 }
                });
                sum += inner.await;
            }
            sum
        }
    });
    assert_eq!(outer.await, (0..10).map(|i| i * 2 + 1).sum::<u64>());
}

/// Flips a flag when dropped (to see a future being dropped).
struct DropFlag(Arc<AtomicUsize>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[wasm_bindgen_test]
async fn dropping_a_task_cancels_it_queued_or_pending() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let ran = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));

    // Queued, never polled: dropping the handle means it never runs.
    let queued = scheduler.spawn({
        let (ran, flag) = (ran.clone(), DropFlag(dropped.clone()));
        async move {
            let _flag = flag;
            ran.fetch_add(1, Ordering::SeqCst);
        }
    });
    drop(queued);

    // Pending on a channel: dropping the handle drops its future, which drops the receiver.
    let (sender, receiver) = oneshot::channel::<()>();
    let pending = scheduler.spawn({
        let (ran, flag) = (ran.clone(), DropFlag(dropped.clone()));
        async move {
            let _flag = flag;
            let _ = receiver.await;
            ran.fetch_add(1, Ordering::SeqCst);
        }
    });
    next_macrotask().await;
    assert!(!pending.is_finished());
    drop(pending);
    next_macrotask().await;

    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "a cancelled task never completes"
    );
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        2,
        "both futures were dropped"
    );
    assert!(
        sender.is_canceled(),
        "the pending task's receiver was dropped with it"
    );
    let total = wasm.stats().total;
    assert_eq!((total.spawned, total.cancelled, total.running()), (2, 2, 0));
}

#[wasm_bindgen_test]
async fn a_hundred_thousand_tasks_complete() {
    const TASKS: u64 = 100_000;
    let (wasm, scheduler) = new_wasm_scheduler();
    let counter = Arc::new(AtomicUsize::new(0));
    let driver = scheduler.spawn({
        let (scheduler, counter) = (scheduler.clone(), counter.clone());
        async move {
            let handles: Vec<Task<u64>> = (0..TASKS)
                .map(|i| {
                    let counter = counter.clone();
                    scheduler.spawn(async move {
                        counter.fetch_add(1, Ordering::Relaxed);
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for handle in handles {
                sum += handle.await;
            }
            sum
        }
    });
    assert_eq!(driver.await, TASKS * (TASKS - 1) / 2);
    assert_eq!(counter.load(Ordering::Relaxed), TASKS as usize);
    let total = wasm.stats().total;
    assert_eq!(total.spawned, TASKS + 1);
    assert_eq!(total.completed, TASKS + 1);
    assert_eq!(total.running(), 0);
    assert_eq!(wasm.stats().queued, 0);
}

/// A gate tasks can wait on; opening it from inside another task's poll wakes them all.
#[derive(Clone, Default)]
struct Gate(Arc<Mutex<(bool, Vec<std::task::Waker>)>>);

impl Gate {
    fn open(&self) {
        let wakers = {
            let mut state = self.0.lock().unwrap();
            state.0 = true;
            std::mem::take(&mut state.1)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            let mut state = self.0.lock().unwrap();
            if state.0 {
                std::task::Poll::Ready(())
            } else {
                state.1.push(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

#[wasm_bindgen_test]
async fn a_task_that_spawns_wakes_and_drops_others_inside_its_poll_under_load() {
    const LOAD: usize = 2_000;
    let (wasm, scheduler) = new_wasm_scheduler();
    let finished = Arc::new(AtomicUsize::new(0));

    // Background load: tasks that yield repeatedly while the chaos happens.
    let load: Vec<Task<()>> = (0..LOAD)
        .map(|i| {
            let finished = finished.clone();
            scheduler.spawn(async move {
                yield_times((i % 7) as u32 + 1).await;
                finished.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();

    // Waiters parked on a gate that the chaos task opens from inside its poll.
    let gate = Gate::default();
    let waiters: Vec<Task<u32>> = (0..500)
        .map(|i| {
            let gate = gate.clone();
            scheduler.spawn(async move {
                gate.wait().await;
                i
            })
        })
        .collect();

    // Victims: some pending forever (dropped while idle), some queued (dropped before running).
    let victims_dropped = Arc::new(AtomicUsize::new(0));
    let pending_victims: Vec<Task<()>> = (0..300)
        .map(|_| {
            let flag = DropFlag(victims_dropped.clone());
            scheduler.spawn(async move {
                let _flag = flag;
                std::future::pending::<()>().await
            })
        })
        .collect();
    next_macrotask().await;

    let chaos = scheduler.spawn({
        let (scheduler, gate, victims_dropped) =
            (scheduler.clone(), gate.clone(), victims_dropped.clone());
        async move {
            for round in 0..3 {
                // Spawn while running, and drop half of the new handles while they are queued.
                let spawned: Vec<Task<usize>> = (0..200)
                    .map(|i| scheduler.spawn(async move { i }))
                    .collect();
                let mut kept = Vec::new();
                for (i, task) in spawned.into_iter().enumerate() {
                    if i.is_multiple_of(2) {
                        kept.push(task);
                    } else {
                        drop(task);
                    }
                }
                // Queued victims: spawned and dropped before any drain reaches them.
                for _ in 0..100 {
                    let flag = DropFlag(victims_dropped.clone());
                    drop(scheduler.spawn(async move {
                        let _flag = flag;
                    }));
                }
                // A timer created and dropped inside the poll clears its JS timeout.
                drop(scheduler.timer(std::time::Duration::from_secs(60)));
                if round == 1 {
                    gate.open();
                }
                yield_now().await;
                let sum: usize = futures::future::join_all(kept).await.into_iter().sum();
                assert_eq!(sum, (0..200).step_by(2).sum::<usize>());
            }
        }
    });
    // Drop the pending victims from outside while the chaos task runs.
    drop(pending_victims);
    chaos.await;

    let waited: u32 = futures::future::join_all(waiters).await.into_iter().sum();
    assert_eq!(waited, (0..500).sum::<u32>());
    futures::future::join_all(load).await;
    next_macrotask().await;

    assert_eq!(finished.load(Ordering::Relaxed), LOAD);
    assert_eq!(victims_dropped.load(Ordering::SeqCst), 300 + 3 * 100);
    let stats = wasm.stats();
    assert_eq!(stats.total.running(), 0, "{stats:?}");
    assert_eq!(
        stats.total.spawned,
        stats.total.completed + stats.total.cancelled
    );
    assert_eq!(stats.total.cancelled, 300 + 3 * 100 + 3 * 100);
    assert_eq!(stats.queued, 0);
    assert_eq!(stats.pending_timers, 0);
    assert_eq!(wasm.stats().live_timer_closures, 0);
}

#[wasm_bindgen_test]
async fn a_task_dropping_the_last_scheduler_handle_does_not_break_the_drain() {
    let wasm = WasmScheduler::new();
    let scheduler: Arc<dyn Scheduler> = wasm;
    let (sender, receiver) = oneshot::channel();
    let weak = Arc::downgrade(&scheduler);
    let holder = Arc::new(Mutex::new(Some(scheduler.clone())));
    scheduler
        .spawn({
            let holder = holder.clone();
            async move {
                // The test's handle is gone by now; this drops the last one, mid-drain.
                holder.lock().unwrap().take();
                let _ = sender.send(());
            }
        })
        .detach();
    drop(scheduler);
    receiver.await.unwrap();
    next_macrotask().await;
    assert!(weak.upgrade().is_none(), "the scheduler was freed");
}

#[wasm_bindgen_test]
#[should_panic(expected = "`.await` the future")]
fn block_panics_with_a_message_saying_to_await() {
    let (_wasm, scheduler) = new_wasm_scheduler();
    scheduler.block(async {});
}

#[wasm_bindgen_test]
#[should_panic(expected = "WasmScheduler cannot block")]
fn block_with_timeout_panics_with_a_clear_message() {
    let (_wasm, scheduler) = new_wasm_scheduler();
    let _ = scheduler.block_with_timeout(std::time::Duration::from_millis(1), async {});
}

#[wasm_bindgen_test]
#[should_panic(expected = "WasmScheduler cannot block")]
fn park_panics_with_a_clear_message() {
    let (_wasm, scheduler) = new_wasm_scheduler();
    scheduler.park(None);
}

#[wasm_bindgen_test]
async fn foreground_spawns_run_on_the_same_queue_and_it_is_the_main_thread() {
    let (_wasm, scheduler) = new_wasm_scheduler();
    assert!(scheduler.is_main_thread());
    assert_eq!(scheduler.num_cpus(), 1);
    let executor = scheduler::ForegroundExecutor::new(scheduler.clone());
    let shared = std::rc::Rc::new(std::cell::Cell::new(0)); // !Send
    let task = executor.spawn({
        let shared = shared.clone();
        async move {
            shared.set(shared.get() + 1);
            yield_now().await;
            shared.get() * 10
        }
    });
    assert_eq!(task.await, 10);
    let before = scheduler.now();
    wasm_tests::support::js_sleep(5.0).await;
    assert!(scheduler.now() > before, "now() reads the host clock");
}

#[wasm_bindgen_test]
async fn current_is_one_shared_wasm_scheduler_that_runs_tasks() {
    let first = scheduler::platform::current();
    let second = scheduler::platform::current();
    assert!(Arc::ptr_eq(&first, &second), "one scheduler per instance");
    assert!(first.downcast_ref::<WasmScheduler>().is_some());
    assert_eq!(first.spawn(async { 6 * 7 }).await, 42);
}
