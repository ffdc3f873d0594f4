//! Behaviour tests of the `WindowsScheduler` (Win32 thread pool + message-only-window main
//! queue). Run natively on Windows, and on Linux under Wine by `scripts/test.d/40-windows.sh`.
//!
//! libtest runs each test on its own thread; each test creates its scheduler there, so that
//! thread is the scheduler's main thread.
//!
//! The big counts are the (1,000,000 tasks, 100,000 wakes) and can be changed with
//! `WINDOWS_BACKEND_TASKS` and `WINDOWS_BACKEND_WAKES`.
#![cfg(windows)]

use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, StreamExt, future};
use scheduler::platform::WindowsScheduler;
use scheduler::{BackgroundExecutor, ForegroundExecutor, Scheduler, TestScheduler};
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

/// Generous bound for "eventually": only a hang or a lost task hits it.
const PATIENCE: Duration = Duration::from_secs(120);

fn new_scheduler() -> Arc<WindowsScheduler> {
    WindowsScheduler::new().expect("create WindowsScheduler")
}

fn dyn_scheduler(scheduler: &Arc<WindowsScheduler>) -> Arc<dyn Scheduler> {
    scheduler.clone()
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|value| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{name}={value}: not a count"))
        })
        .unwrap_or(default)
}

/// Tasks spawned by `many_tasks_from_four_threads_complete_exactly_once`: the full 1,000,000
/// (about 7 s under Wine on a 2-core machine); `WINDOWS_BACKEND_TASKS` overrides it.
fn default_tasks() -> usize {
    env_count("WINDOWS_BACKEND_TASKS", 1_000_000)
}

#[test]
fn foreground_tasks_run_only_on_the_main_thread() {
    let scheduler = new_scheduler();
    let main = thread::current().id();
    let background = BackgroundExecutor::new(scheduler.clone());
    let foreground = ForegroundExecutor::new(scheduler.clone());
    let seen = Rc::new(RefCell::new(Vec::<(ThreadId, bool)>::new()));
    let tasks: Vec<_> = (0..200u64)
        .map(|i| {
            let seen = seen.clone();
            let background = background.clone();
            let scheduler = scheduler.clone();
            foreground.spawn(async move {
                seen.borrow_mut()
                    .push((thread::current().id(), scheduler.is_main_thread()));
                // Hop to the pool and back: the foreground task resumes on the main thread.
                let off_main = background
                    .spawn(async move { (thread::current().id(), i) })
                    .await;
                seen.borrow_mut()
                    .push((thread::current().id(), scheduler.is_main_thread()));
                off_main
            })
        })
        .collect();
    let results = scheduler
        .run_until(future::join_all(tasks))
        .expect("no WM_QUIT was posted");
    assert_eq!(results.len(), 200);
    assert!(results.iter().all(|(thread, _)| *thread != main));
    let seen = seen.borrow();
    assert_eq!(seen.len(), 400);
    assert!(
        seen.iter()
            .all(|&(thread, is_main)| thread == main && is_main),
        "a foreground task ran off the main thread"
    );
}

#[test]
fn background_tasks_never_run_on_the_main_thread() {
    let scheduler = new_scheduler();
    let dyn_scheduler = dyn_scheduler(&scheduler);
    let main = thread::current().id();
    let tasks: Vec<_> = (0..2_000)
        .map(|_| {
            let scheduler = scheduler.clone();
            dyn_scheduler.spawn(async move { (thread::current().id(), scheduler.is_main_thread()) })
        })
        .collect();
    let seen = dyn_scheduler
        .block_with_timeout(PATIENCE, future::join_all(tasks))
        .unwrap_or_else(|_| panic!("background tasks did not finish"));
    assert_eq!(seen.len(), 2_000);
    for (thread, is_main) in seen {
        assert_ne!(thread, main, "a background task ran on the main thread");
        assert!(!is_main, "is_main_thread() was true on a pool thread");
    }
    assert!(scheduler.is_main_thread());
}

#[test]
fn many_tasks_from_four_threads_complete_exactly_once() {
    const SPAWNERS: usize = 4;
    let total = default_tasks();
    let per_thread = total / SPAWNERS;
    let scheduler = dyn_scheduler(&new_scheduler());
    let runs: Arc<Vec<AtomicU8>> = Arc::new(
        (0..per_thread * SPAWNERS)
            .map(|_| AtomicU8::new(0))
            .collect(),
    );
    let spawners: Vec<_> = (0..SPAWNERS)
        .map(|spawner| {
            let scheduler = scheduler.clone();
            let runs = runs.clone();
            thread::spawn(move || {
                (0..per_thread)
                    .map(|i| {
                        let index = spawner * per_thread + i;
                        let runs = runs.clone();
                        scheduler.spawn(async move {
                            runs[index].fetch_add(1, Ordering::Relaxed);
                            index
                        })
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let tasks: Vec<_> = spawners
        .into_iter()
        .flat_map(|spawner| spawner.join().expect("spawning thread panicked"))
        .collect();
    let indices = scheduler
        .block_with_timeout(PATIENCE, future::join_all(tasks))
        .unwrap_or_else(|_| panic!("not every task completed within {PATIENCE:?}"));
    let expected: usize = (0..per_thread * SPAWNERS).sum();
    assert_eq!(indices.iter().sum::<usize>(), expected);
    let not_once: Vec<_> = runs
        .iter()
        .enumerate()
        .filter(|(_, runs)| runs.load(Ordering::Relaxed) != 1)
        .take(5)
        .collect();
    assert!(
        not_once.is_empty(),
        "tasks not run exactly once: {not_once:?}"
    );
}

#[test]
fn cross_thread_wakes_lose_none() {
    let rounds = env_count("WINDOWS_BACKEND_WAKES", 100_000);
    let scheduler = dyn_scheduler(&new_scheduler());
    // Ping-pong between two pool tasks: every message wakes the other side, often on another
    // pool thread. One lost wake and the exchange stalls.
    let (mut ping_tx, mut ping_rx) = mpsc::channel::<usize>(1);
    let (mut pong_tx, mut pong_rx) = mpsc::channel::<usize>(1);
    let pinger = scheduler.spawn(async move {
        for round in 0..rounds {
            ping_tx.send(round).await.expect("ponger alive");
            assert_eq!(pong_rx.next().await, Some(round));
        }
        rounds
    });
    let ponger = scheduler.spawn(async move {
        let mut count = 0;
        while let Some(round) = ping_rx.next().await {
            pong_tx.send(round).await.expect("pinger alive");
            count += 1;
        }
        count
    });
    // Wakes from plain threads too: each thread completes oneshots that pool tasks await.
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..4_000).map(|_| oneshot::channel()).unzip();
    let waiters: Vec<_> = receivers
        .into_iter()
        .map(|receiver| scheduler.spawn(async move { receiver.await.expect("sender kept") }))
        .collect();
    let mut senders = senders.into_iter().enumerate().collect::<Vec<_>>();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mine: Vec<_> = senders.drain(..senders.len().min(1_000)).collect();
            thread::spawn(move || {
                for (i, sender) in mine {
                    sender.send(i).expect("waiter alive");
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let (pings, pongs, woken) = scheduler
        .block_with_timeout(
            PATIENCE,
            future::join3(pinger, ponger, future::join_all(waiters)),
        )
        .unwrap_or_else(|_| panic!("a wake was lost: the exchange stalled"));
    assert_eq!(pings, rounds);
    assert_eq!(pongs, rounds);
    assert_eq!(woken, (0..4_000).collect::<Vec<_>>());
}

/// Records, from the waking thread, when and in which order timers fired: the wake of a
/// timer's awaiter happens in the pool's timer callback, before any queueing of the awaiter.
struct FiringLog {
    fired: Mutex<Vec<(u64, Instant)>>,
}

struct RecordingWaker {
    inner: std::task::Waker,
    log: Arc<FiringLog>,
    ms: u64,
}

impl std::task::Wake for RecordingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.log
            .fired
            .lock()
            .unwrap()
            .push((self.ms, Instant::now()));
        self.inner.wake_by_ref();
    }
}

#[test]
fn timers_fire_in_order_and_never_early() {
    let scheduler = new_scheduler();
    let dyn_scheduler = dyn_scheduler(&scheduler);
    let log = Arc::new(FiringLog {
        fired: Mutex::new(Vec::new()),
    });
    // Created in shuffled order, 50 ms apart, from two threads.
    let delays_ms = [210u64, 60, 360, 160, 10, 310, 110, 260, 410, 460];
    let make = |ms: u64| {
        let mut timer = dyn_scheduler.timer(Duration::from_millis(ms));
        let deadline = timer.deadline();
        let log = log.clone();
        let wait = future::poll_fn(move |cx| {
            let waker = std::task::Waker::from(Arc::new(RecordingWaker {
                inner: cx.waker().clone(),
                log: log.clone(),
                ms,
            }));
            std::pin::Pin::new(&mut timer).poll(&mut std::task::Context::from_waker(&waker))
        });
        dyn_scheduler.spawn(async move {
            wait.await;
            (ms, deadline, Instant::now())
        })
    };
    let (here, there) = delays_ms.split_at(5);
    let mut tasks: Vec<_> = here.iter().map(|&ms| make(ms)).collect();
    thread::scope(|scope| {
        let there = scope.spawn(|| there.iter().map(|&ms| make(ms)).collect::<Vec<_>>());
        tasks.extend(there.join().unwrap());
    });
    let done = dyn_scheduler
        .block_with_timeout(PATIENCE, future::join_all(tasks))
        .unwrap_or_else(|_| panic!("timers did not fire"));
    let fired = log.fired.lock().unwrap().clone();
    assert_eq!(fired.len(), delays_ms.len(), "each timer fires once");
    for (ms, deadline, resumed) in done {
        let (_, woke) = fired.iter().find(|(fired_ms, _)| *fired_ms == ms).unwrap();
        assert!(
            *woke >= deadline,
            "the {ms} ms timer fired {:?} early",
            deadline - *woke
        );
        assert!(resumed >= *woke);
    }
    let mut sorted = delays_ms.to_vec();
    sorted.sort_unstable();
    let order: Vec<u64> = fired.iter().map(|(ms, _)| *ms).collect();
    assert_eq!(order, sorted, "timers fired out of order");
    assert_eq!(scheduler.pending_timers(), 0);
}

#[test]
fn many_timers_from_several_threads_fire_once_and_never_early_while_others_are_cancelled() {
    let scheduler = new_scheduler();
    let dyn_scheduler = dyn_scheduler(&scheduler);
    let fired = Arc::new(AtomicUsize::new(0));
    let (kept, cancelled): (Vec<_>, Vec<_>) = thread::scope(|scope| {
        let spawners: Vec<_> = (0..4u64)
            .map(|spawner| {
                let (dyn_scheduler, fired) = (dyn_scheduler.clone(), fired.clone());
                scope.spawn(move || {
                    (0..500u64)
                        .map(|i| {
                            let delay = Duration::from_millis((spawner * 13 + i * 7) % 60 + 1);
                            let timer = dyn_scheduler.timer(delay);
                            let deadline = timer.deadline();
                            let fired = fired.clone();
                            let task = dyn_scheduler.spawn(async move {
                                timer.await;
                                fired.fetch_add(1, Ordering::SeqCst);
                                Instant::now() >= deadline
                            });
                            (i % 2 == 0, task)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        spawners
            .into_iter()
            .flat_map(|spawner| spawner.join().unwrap())
            .partition(|(keep, _)| *keep)
    });
    // Cancel half of them while the rest fire (races between firing and cancelling).
    drop(cancelled);
    let kept: Vec<_> = kept.into_iter().map(|(_, task)| task).collect();
    let on_time = dyn_scheduler
        .block_with_timeout(PATIENCE, future::join_all(kept))
        .unwrap_or_else(|_| panic!("timers did not fire"));
    assert_eq!(on_time.len(), 1_000);
    assert!(
        on_time.iter().all(|&on_time| on_time),
        "a timer fired early"
    );
    let total = fired.load(Ordering::SeqCst);
    assert!((1_000..=2_000).contains(&total), "{total} timers fired");
    wait_until("cancelled timers are closed", || {
        scheduler.pending_timers() == 0
    });
}

#[test]
fn dropped_timer_closes_its_pool_timer_and_never_fires() {
    let scheduler = new_scheduler();
    let dyn_scheduler = dyn_scheduler(&scheduler);
    let timers: Vec<_> = (0..50)
        .map(|_| dyn_scheduler.timer(Duration::from_millis(200)))
        .collect();
    assert_eq!(scheduler.pending_timers(), 50);
    // A task racing a short timer against a long one drops the loser.
    let raced = dyn_scheduler.spawn({
        let long = dyn_scheduler.timer(Duration::from_secs(3_600));
        let short = dyn_scheduler.timer(Duration::from_millis(20));
        async move {
            futures::pin_mut!(long);
            matches!(future::select(short, long).await, future::Either::Left(_))
        }
    });
    drop(timers);
    assert!(dyn_scheduler.block(raced), "the short timer won");
    assert_eq!(
        scheduler.pending_timers(),
        0,
        "dropped timers stay armed in the pool"
    );
}

#[test]
fn a_panicking_task_leaves_the_pool_working() {
    let scheduler = new_scheduler();
    let dyn_scheduler = dyn_scheduler(&scheduler);
    let panicking: Vec<_> = (0..8)
        .map(|i| dyn_scheduler.spawn(async move { panic!("boom {i}") }))
        .collect();
    for (i, task) in panicking.into_iter().enumerate() {
        let payload = catch_unwind(AssertUnwindSafe(|| dyn_scheduler.block(task)))
            .expect_err("awaiting a panicked task panics");
        let message = payload
            .downcast_ref::<String>()
            .expect("message with context");
        assert!(message.contains(&format!("boom {i}")), "{message}");
        assert!(message.contains("windows_backend.rs"), "{message}");
    }
    let foreground_panic = dyn_scheduler.spawn_foreground(async { panic!("ui boom") });
    assert!(catch_unwind(AssertUnwindSafe(|| dyn_scheduler.block(foreground_panic))).is_err());
    // Everything still runs: background, foreground and timers.
    let done = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..1_000)
        .map(|_| {
            let done = done.clone();
            dyn_scheduler.spawn(async move { done.fetch_add(1, Ordering::Relaxed) })
        })
        .collect();
    dyn_scheduler
        .block_with_timeout(PATIENCE, future::join_all(tasks))
        .unwrap_or_else(|_| panic!("pool stopped after panics"));
    assert_eq!(done.load(Ordering::Relaxed), 1_000);
    assert_eq!(
        dyn_scheduler.block(dyn_scheduler.spawn_foreground(async { 7 })),
        7
    );
    dyn_scheduler.block(dyn_scheduler.timer(Duration::from_millis(5)));
}

/// Records the thread its value was dropped on.
struct DropProbe {
    dropped_on: Arc<Mutex<Vec<ThreadId>>>,
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.dropped_on.lock().unwrap().push(thread::current().id());
    }
}

/// Waits (without pumping messages) until `done`, or fails after [`PATIENCE`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < PATIENCE, "gave up waiting until {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// A gate that pool tasks block on (blocking their pool thread) until it opens.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: std::sync::Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

#[test]
fn drop_with_pending_work_returns_promptly_and_runs_nothing_more() {
    const GATED: usize = 2_000;
    let scheduler = new_scheduler();
    let dyn_scheduler = dyn_scheduler(&scheduler);
    let main = thread::current().id();
    // Background tasks that block their pool thread until after the drop. The pool starts some
    // (at most its thread limit, 500 on Wine, 512 on Windows); the rest stay queued, and the
    // drop must neither wait for the blocked ones nor ever start the queued ones.
    let gate = Arc::new(Gate::default());
    let started = Arc::new(AtomicUsize::new(0));
    let gated: Vec<_> = (0..GATED)
        .map(|_| {
            let (gate, started) = (gate.clone(), started.clone());
            dyn_scheduler
                .spawn(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    gate.wait();
                })
                .fallible()
        })
        .collect();
    wait_until("the pool runs gated tasks", || {
        started.load(Ordering::SeqCst) > 0
    });
    let timer_task = dyn_scheduler
        .spawn(dyn_scheduler.timer(Duration::from_secs(3_600)))
        .fallible();
    let dropped_on = Arc::new(Mutex::new(Vec::new()));
    let foreground_ran = Rc::new(Cell::new(false));
    // Queued for the main thread, whose message loop never runs in this test.
    let foreground: Vec<_> = (0..100)
        .map(|_| {
            let probe = DropProbe {
                dropped_on: dropped_on.clone(),
            };
            let foreground_ran = foreground_ran.clone();
            dyn_scheduler
                .spawn_foreground(async move {
                    let _probe = probe;
                    foreground_ran.set(true);
                })
                .fallible()
        })
        .collect();
    assert_eq!(scheduler.pending_timers(), 1);
    let weak = Arc::downgrade(&scheduler);
    drop(dyn_scheduler);
    let dropping = Instant::now();
    drop(scheduler);
    let took = dropping.elapsed();
    // Only a hang (waiting for the blocked callbacks) could take this long.
    assert!(took < Duration::from_secs(10), "drop took {took:?}");
    assert!(
        weak.upgrade().is_none(),
        "the drop on the main thread was not the last"
    );
    let started_before_drop = started.load(Ordering::SeqCst);
    // Queued foreground work was dropped unrun, here on the main thread.
    assert!(!foreground_ran.get(), "foreground work ran during the drop");
    assert_eq!(*dropped_on.lock().unwrap(), vec![main; 100]);
    // Its runnable was queued behind the gated ones or armed as a timer: either way dropped.
    wait_until("the timer task is cancelled", || timer_task.is_finished());
    assert_eq!(futures::executor::block_on(timer_task), None);
    // The blocked callbacks finish after their scheduler is gone (no use-after-free), and
    // nothing that was still queued starts any more.
    gate.open();
    let outcomes: Vec<_> = gated.into_iter().map(futures::executor::block_on).collect();
    let completed = outcomes.iter().filter(|outcome| outcome.is_some()).count();
    thread::sleep(Duration::from_millis(50));
    assert_eq!(
        started.load(Ordering::SeqCst),
        started_before_drop,
        "queued tasks started after the drop"
    );
    assert_eq!(completed, started_before_drop);
    assert!(
        completed < GATED,
        "every gated task was running: nothing was pending"
    );
    for task in foreground {
        assert_eq!(futures::executor::block_on(task), None);
    }
}

#[test]
fn drop_stops_tasks_that_keep_waking_themselves() {
    let scheduler = new_scheduler();
    let dyn_scheduler = dyn_scheduler(&scheduler);
    let polls = Arc::new(AtomicUsize::new(0));
    // Always runnable: each poll wakes itself and goes back to the queue.
    let spinning: Vec<_> = (0..64)
        .map(|_| {
            let polls = polls.clone();
            dyn_scheduler
                .spawn(async move {
                    loop {
                        polls.fetch_add(1, Ordering::Relaxed);
                        native_tests::behaviour::yield_now().await;
                    }
                })
                .fallible()
        })
        .collect();
    wait_until("the spinning tasks run", || {
        polls.load(Ordering::Relaxed) > 10_000
    });
    let weak = Arc::downgrade(&scheduler);
    drop(dyn_scheduler);
    drop(scheduler);
    // Wakes do not hold the scheduler (tasks hold its task sink), so this drop is the real one.
    assert!(weak.upgrade().is_none(), "a wake kept the scheduler alive");
    for task in spinning {
        wait_until("the spinning task is cancelled", || task.is_finished());
        assert_eq!(futures::executor::block_on(task), None);
    }
    let settled = polls.load(Ordering::Relaxed);
    thread::sleep(Duration::from_millis(50));
    assert_eq!(
        polls.load(Ordering::Relaxed),
        settled,
        "tasks were polled after the drop"
    );
}

#[test]
fn drop_on_a_pool_thread_leaves_foreground_drops_to_the_main_thread() {
    let scheduler = new_scheduler();
    let dyn_scheduler = dyn_scheduler(&scheduler);
    let main = thread::current().id();
    let dropped_on = Arc::new(Mutex::new(Vec::new()));
    // Queued for the main thread; no message loop runs before the drop.
    let queued: Vec<_> = (0..10)
        .map(|_| {
            let probe = DropProbe {
                dropped_on: dropped_on.clone(),
            };
            dyn_scheduler
                .spawn_foreground(async move {
                    let _probe = probe;
                })
                .fallible()
        })
        .collect();
    // A pool task ends up holding the last strong references and drops them in its callback
    // (it waits on a plain channel, blocking its pool thread, until the test let go of its own).
    let (go, gate) = std::sync::mpsc::channel::<()>();
    let dropped = Arc::new(AtomicBool::new(false));
    let weak = Arc::downgrade(&scheduler);
    dyn_scheduler
        .spawn({
            let last = (scheduler.clone(), dyn_scheduler.clone());
            let dropped = dropped.clone();
            async move {
                gate.recv().expect("gate opened");
                drop(last);
                dropped.store(true, Ordering::Release);
            }
        })
        .detach();
    drop(dyn_scheduler);
    drop(scheduler);
    go.send(()).unwrap();
    wait_until("the pool task dropped the scheduler", || {
        dropped.load(Ordering::Acquire)
    });
    assert!(weak.upgrade().is_none(), "the scheduler is still alive");
    assert!(
        dropped_on.lock().unwrap().is_empty(),
        "foreground futures were dropped off the main thread"
    );
    // The app's own message loop gets the shutdown message and drops them here.
    pump_messages_until(|| dropped_on.lock().unwrap().len() == 10);
    assert_eq!(*dropped_on.lock().unwrap(), vec![main; 10]);
    for task in queued {
        assert_eq!(futures::executor::block_on(task), None);
    }
}

/// A bare Win32 message loop, as an app with its own loop runs it, until `done`.
fn pump_messages_until(mut done: impl FnMut() -> bool) {
    use windows_sys::Win32::UI::WindowsAndMessaging::{
        DispatchMessageW, MSG, PM_REMOVE, PeekMessageW, TranslateMessage,
    };
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < PATIENCE,
            "the main thread never got the work"
        );
        // SAFETY: MSG is plain data, valid when zeroed.
        let mut message: MSG = unsafe { std::mem::zeroed() };
        // SAFETY: `message` is a valid out-pointer; null window = any message of this thread.
        if unsafe { PeekMessageW(&mut message, std::ptr::null_mut(), 0, 0, PM_REMOVE) } != 0 {
            // SAFETY: `message` was filled in by PeekMessageW.
            unsafe {
                TranslateMessage(&message);
                DispatchMessageW(&message);
            }
        } else {
            thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn the_apps_own_message_loop_drains_the_main_queue() {
    let scheduler = new_scheduler();
    let dyn_scheduler = dyn_scheduler(&scheduler);
    let main = thread::current().id();
    let log = Rc::new(RefCell::new(Vec::new()));
    for i in 0..50 {
        let log = log.clone();
        dyn_scheduler
            .spawn_foreground(async move { log.borrow_mut().push((i, thread::current().id())) })
            .detach();
    }
    assert!(log.borrow().is_empty(), "nothing runs before the loop does");
    pump_messages_until(|| log.borrow().len() == 50);
    let log = log.borrow();
    assert_eq!(
        log.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        (0..50).collect::<Vec<_>>(),
        "foreground tasks spawned on one thread run in FIFO order"
    );
    assert!(log.iter().all(|(_, thread)| *thread == main));
}

/// The same executor-level body, run on the Windows backend and on the TestScheduler.
fn executors_body(background: BackgroundExecutor, foreground: ForegroundExecutor) -> Vec<u64> {
    assert!(background.num_cpus() >= 1);
    assert!(background.is_main_thread());
    let start = background.now();
    let squares: Vec<_> = (0..10u64)
        .map(|i| background.spawn(async move { i * i }))
        .collect();
    let mut out = background.block(future::join_all(squares));
    let shared = Rc::new(Cell::new(0u64));
    let ui = foreground.spawn({
        let shared = shared.clone();
        let background = background.clone();
        async move {
            background.timer(Duration::from_millis(10)).await;
            shared.set(shared.get() + 100);
            shared.get()
        }
    });
    out.push(foreground.block(ui));
    assert!(background.now() - start >= Duration::from_millis(10));
    // A time-out hands the future back un-cancelled.
    let slow = background.timer(Duration::from_millis(50));
    let slow = background
        .block_with_timeout(Duration::from_millis(1), slow)
        .expect_err("50 ms timer done within 1 ms");
    background.block(slow);
    assert!(background.now() - start >= Duration::from_millis(60));
    let labeled = background.spawn_labeled(scheduler::TaskLabel::named("io"), async { 5u64 });
    out.push(background.block(labeled));
    out
}

#[test]
fn executors_api_behaves_the_same_as_on_the_test_scheduler() {
    let windows = new_scheduler();
    let on_windows = executors_body(
        BackgroundExecutor::new(windows.clone()),
        ForegroundExecutor::new(windows.clone()),
    );
    let test = TestScheduler::with_seed(7);
    let on_test = executors_body(
        BackgroundExecutor::new(test.clone()),
        ForegroundExecutor::new(test),
    );
    assert_eq!(on_windows, on_test);
    assert_eq!(on_windows, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 5]);
}

#[test]
fn current_is_one_shared_windows_scheduler() {
    let scheduler = scheduler::platform::current();
    assert!(scheduler.downcast_ref::<WindowsScheduler>().is_some());
    assert!(Arc::ptr_eq(&scheduler, &scheduler::platform::current()));
    // This test is the first caller in the process, so its thread is the main thread.
    assert!(scheduler.is_main_thread());
    let elsewhere = thread::spawn(|| scheduler::platform::current().is_main_thread());
    assert!(!elsewhere.join().unwrap());
    assert_eq!(scheduler.block(scheduler.spawn(async { 1 + 1 })), 2);
}

/// Defect 2 (Windows): `run_until` never returned when its future panicked (the task was
/// detached and its output never arrived). Now the panic reaches the caller. Runs in a child
/// process: on the old code it hung.
#[test]
fn run_until_re_raises_the_panic_of_its_future() {
    let Some(outcome) = native_tests::child::run(
        "run_until_re_raises_the_panic_of_its_future",
        PATIENCE,
        || {
            let scheduler = new_scheduler();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                scheduler.run_until(async { panic!("main future boom") })
            }));
            let payload = outcome.expect_err("re-raised");
            let message = native_tests::support::panic_text(&*payload);
            assert!(message.contains("main future boom"), "{message}");
            assert_eq!(scheduler.run_until(async { 5 }).unwrap(), 5);
        },
    ) else {
        return;
    };
    outcome.assert_succeeded();
}

/// Defect 1 (Windows): `spawn_foreground` on a pool thread is refused at the call, naming it,
/// instead of aborting the process when the main thread polls the task.
#[test]
fn spawn_foreground_off_the_main_thread_panics_at_the_call() {
    let scheduler = new_scheduler();
    let spawner = dyn_scheduler(&scheduler);
    let refused = dyn_scheduler(&scheduler).spawn(async move {
        catch_unwind(AssertUnwindSafe(|| {
            spawner.spawn_foreground(async {}).detach()
        }))
        .map_err(|payload| native_tests::support::panic_text(&*payload))
    });
    let message = scheduler
        .run_until(refused)
        .unwrap()
        .expect_err("refused at the spawn");
    assert!(message.contains("off the main thread"), "{message}");
    assert!(message.contains(file!()), "{message}");
}
