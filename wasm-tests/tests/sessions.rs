//! Sessions in the WasmScheduler: per-session queues that take turns, per-session counters, and
//! ending a session (its leftover tasks are cancelled and reported, exempt tasks run on).
#![cfg(target_arch = "wasm32")]

use futures::channel::oneshot;
use scheduler::platform::wasm::TaskCounters;
use scheduler::{SessionId, Task, TaskLabel, session};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::console_capture::ConsoleErrorCapture;
use wasm_tests::support::{new_wasm_scheduler, next_macrotask, spawn_in, yield_times};

#[wasm_bindgen_test]
async fn a_burst_in_one_session_does_not_delay_another_session() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let (a, b) = (wasm.create_session(), wasm.create_session());
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let log = log.clone();
        tasks.push(spawn_in(&scheduler, a, async move {
            log.lock().unwrap().push(('a', i))
        }));
    }
    for i in 0..10 {
        let log = log.clone();
        tasks.push(spawn_in(&scheduler, b, async move {
            log.lock().unwrap().push(('b', i))
        }));
    }
    futures::future::join_all(tasks).await;
    let log = log.lock().unwrap().clone();
    let b_positions: Vec<usize> = (0..log.len()).filter(|&i| log[i].0 == 'b').collect();
    // Turns alternate, so session b's tasks run among the first 20, not after a's 1000.
    assert_eq!(
        b_positions,
        (0..10).map(|i| 2 * i + 1).collect::<Vec<_>>(),
        "{log:?}"
    );
    let a_order: Vec<i32> = log.iter().filter(|e| e.0 == 'a').map(|e| e.1).collect();
    assert_eq!(
        a_order,
        (0..1000).collect::<Vec<_>>(),
        "FIFO within a session"
    );
}

#[wasm_bindgen_test]
async fn a_yield_heavy_session_does_not_starve_a_short_one() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let (heavy, light) = (wasm.create_session(), wasm.create_session());
    let heavy_runs = Arc::new(AtomicUsize::new(0));
    let heavy_tasks: Vec<Task<()>> = (0..100)
        .map(|_| {
            let runs = heavy_runs.clone();
            spawn_in(&scheduler, heavy, async move {
                for _ in 0..20 {
                    runs.fetch_add(1, Ordering::Relaxed);
                    yield_times(1).await;
                }
            })
        })
        .collect();
    let light_task = spawn_in(&scheduler, light, {
        let runs = heavy_runs.clone();
        async move {
            yield_times(50).await;
            runs.load(Ordering::Relaxed)
        }
    });
    let heavy_runs_when_light_finished = light_task.await;
    futures::future::join_all(heavy_tasks).await;
    // The light task needs 51 turns; with turns alternating it finishes after about 51 heavy
    // polls, long before the heavy session's 2,000.
    assert!(
        heavy_runs_when_light_finished <= 60,
        "the light session finished only after {heavy_runs_when_light_finished} heavy polls"
    );
    assert_eq!(heavy_runs.load(Ordering::Relaxed), 2000);
}

#[wasm_bindgen_test]
async fn counters_are_kept_per_session_and_in_total() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let (a, b) = (wasm.create_session(), wasm.create_session());
    assert_ne!(a, b);
    let done: Vec<Task<()>> = (0..3).map(|_| spawn_in(&scheduler, a, async {})).collect();
    let (_sender, receiver) = oneshot::channel::<()>();
    let waiting = spawn_in(&scheduler, a, async move {
        let _ = receiver.await;
    });
    let cancelled = spawn_in(&scheduler, b, async {});
    drop(cancelled);
    let outside = scheduler.spawn(async {});
    futures::future::join_all(done).await;
    outside.await;
    next_macrotask().await;

    let in_a = wasm.session_counters(a).unwrap();
    assert_eq!(
        in_a,
        TaskCounters {
            spawned: 4,
            completed: 3,
            cancelled: 0,
            panicked: 0
        }
    );
    assert_eq!(in_a.running(), 1);
    let in_b = wasm.session_counters(b).unwrap();
    assert_eq!((in_b.spawned, in_b.cancelled, in_b.running()), (1, 1, 0));
    let stats = wasm.stats();
    assert_eq!(stats.total.spawned, 6);
    assert_eq!(stats.total.completed, 4);
    assert_eq!(stats.total.cancelled, 1);
    assert_eq!(stats.total.running(), 1);
    assert_eq!(stats.sessions, vec![(a, in_a), (b, in_b)]);
    drop(waiting);
}

#[wasm_bindgen_test]
async fn ending_a_session_cancels_and_reports_its_leftover_tasks_but_not_exempt_ones() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let session = wasm.create_session();
    let other = wasm.create_session();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let note = |name: &'static str| {
        let ran = ran.clone();
        move || ran.lock().unwrap().push(name)
    };

    // Waits for a message that comes only after the session ended.
    let (wake_leftover, leftover_signal) = oneshot::channel::<()>();
    let leftover = spawn_in(&scheduler, session, {
        let note = note("leftover");
        async move {
            let _ = leftover_signal.await;
            note();
        }
    });
    // Waits on a long timer.
    let sleeper = session::with(Some(session), || {
        scheduler.spawn_labeled(TaskLabel::named("sleeper"), {
            let (scheduler, note) = (scheduler.clone(), note("sleeper"));
            async move {
                scheduler.timer(Duration::from_secs(3600)).await;
                note();
            }
        })
    });
    // The wait_until work: exempt, it finishes after the session ended and spawns a child then.
    let (finish_exempt, exempt_signal) = oneshot::channel::<()>();
    let exempt = spawn_in(&scheduler, session, {
        let (scheduler, note, child_note) = (scheduler.clone(), note("exempt"), note("child"));
        async move {
            let _ = exempt_signal.await;
            scheduler.spawn(async move { child_note() }).await;
            note();
        }
    });
    // Another session's task is not affected.
    let (wake_bystander, bystander_signal) = oneshot::channel::<()>();
    let bystander = spawn_in(&scheduler, other, {
        let note = note("bystander");
        async move {
            let _ = bystander_signal.await;
            note();
        }
    });
    next_macrotask().await;
    // Spawned and still queued when the session ends.
    let queued = session::with(Some(session), || {
        scheduler.spawn_labeled(TaskLabel::named("queued"), {
            let note = note("queued");
            async move { note() }
        })
    });

    let console = ConsoleErrorCapture::start();
    let end = wasm.end_session(session, &[exempt.id().unwrap()]);
    let lines = console.lines();
    drop(console);

    let ids = |tasks: &[scheduler::TaskMetadata]| tasks.iter().map(|t| t.id()).collect::<Vec<_>>();
    assert_eq!(
        ids(&end.cancelled),
        vec![
            leftover.id().unwrap(),
            sleeper.id().unwrap(),
            queued.id().unwrap()
        ]
    );
    assert_eq!(
        end.dropped_now, 1,
        "only the queued task's runnable was in the queue"
    );
    assert_eq!(ids(&end.exempt_running), vec![exempt.id().unwrap()]);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[1].contains("[label sleeper]") && lines[1].contains("sessions.rs:"),
        "{lines:?}"
    );
    assert!(lines[2].contains("[label queued]") && lines[2].contains(&session.to_string()));
    assert!(lines.iter().all(|line| line.contains("cancelling it")));

    // With an exemption the session's timers stay (they may be the exempt task's); the sleeper
    // is dropped when its timer wakes it. The leftover is dropped when woken, without running.
    let _ = wake_leftover.send(());
    let _ = finish_exempt.send(());
    let _ = wake_bystander.send(());
    assert_eq!(exempt.await, ());
    bystander.await;
    next_macrotask().await;
    assert_eq!(
        leftover.fallible().await,
        None,
        "the leftover task was cancelled"
    );
    assert_eq!(
        queued.fallible().await,
        None,
        "the queued task was cancelled"
    );
    let mut ran = ran.lock().unwrap().clone();
    ran.sort();
    assert_eq!(ran, ["bystander", "child", "exempt"]);
    let counters = wasm
        .session_counters(session)
        .expect("the sleeper is still pending");
    assert_eq!(counters.cancelled, 2);
    assert_eq!(counters.completed, 2, "the exempt task and its child");
    assert_eq!(
        counters.running(),
        1,
        "the sleeper waits for its timer to wake it"
    );
    drop(sleeper);
    next_macrotask().await;
    assert_eq!(
        wasm.session_counters(session),
        None,
        "ended and empty: forgotten"
    );
    assert_eq!(wasm.stats().total.running(), 0);
    assert_eq!(wasm.stats().live_timer_closures, 0);
}

#[wasm_bindgen_test]
async fn ending_a_session_without_exemptions_cancels_its_timers_and_their_waiters_at_once() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let session = wasm.create_session();
    let waiter_dropped = Arc::new(AtomicUsize::new(0));
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let waiters: Vec<Task<()>> = (0..5)
        .map(|i| {
            let (scheduler, flag) = (scheduler.clone(), Flag(waiter_dropped.clone()));
            spawn_in(&scheduler.clone(), session, async move {
                let _flag = flag;
                scheduler.timer(Duration::from_secs(600 + i)).await;
            })
        })
        .collect();
    next_macrotask().await;
    assert_eq!(wasm.stats().pending_timers, 5);
    assert_eq!(wasm.stats().live_timer_closures, 5);

    let console = ConsoleErrorCapture::start();
    let end = wasm.end_session(session, &[]);
    drop(console);

    assert_eq!(end.cancelled.len(), 5);
    assert_eq!(
        wasm.stats().pending_timers,
        0,
        "the session's timeouts were cleared"
    );
    assert_eq!(wasm.stats().live_timer_closures, 0);
    assert_eq!(
        waiter_dropped.load(Ordering::SeqCst),
        5,
        "the waiters were dropped at once"
    );
    for waiter in waiters {
        assert_eq!(waiter.fallible().await, None);
    }
    assert_eq!(wasm.session_counters(session), None);
    assert_eq!(wasm.stats().total.cancelled, 5);
}

#[wasm_bindgen_test]
async fn ending_an_unknown_or_finished_session_is_a_no_op() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let session = wasm.create_session();
    spawn_in(&scheduler, session, async {}).await;
    let end = wasm.end_session(session, &[]);
    assert!(end.cancelled.is_empty() && end.exempt_running.is_empty());
    assert_eq!(end.dropped_now, 0);
    let end = wasm.end_session(SessionId::from_raw(999_999), &[]);
    assert!(end.cancelled.is_empty());
    assert_eq!(wasm.session_counters(session), None);
}

#[wasm_bindgen_test]
async fn a_task_ending_its_own_session_stops_the_rest_of_the_batch() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let session = wasm.create_session();
    let ran = Arc::new(Mutex::new(Vec::new()));
    // All three are queued in one lane, so one drain takes them as one batch.
    let ender = spawn_in(&scheduler, session, {
        let (wasm, ran) = (wasm.clone(), ran.clone());
        async move {
            ran.lock().unwrap().push("ender");
            let console = ConsoleErrorCapture::start();
            let end = wasm.end_session(session, &[]);
            drop(console);
            (end.cancelled.len(), end.dropped_now)
        }
    });
    let later: Vec<Task<()>> = ["b", "c"]
        .into_iter()
        .map(|name| {
            let ran = ran.clone();
            spawn_in(&scheduler, session, async move {
                ran.lock().unwrap().push(name)
            })
        })
        .collect();
    // The ender itself is live when it ends the session, so it is listed too (it completes).
    assert_eq!(
        ender.await,
        (3, 0),
        "b and c were in the running batch, not in the queue"
    );
    for task in later {
        assert_eq!(task.fallible().await, None);
    }
    assert_eq!(*ran.lock().unwrap(), ["ender"]);
    let total = wasm.stats().total;
    assert_eq!(
        (total.completed, total.cancelled, total.running()),
        (1, 2, 0)
    );
}
