//! WasmScheduler timers (`setTimeout`) and fairness toward the host: timers fire in order and
//! never early, dropped timers clear their JS timeout and free their closure, and a task that
//! wakes itself forever does not starve timers.
#![cfg(target_arch = "wasm32")]

use scheduler::platform::wasm::WasmScheduler;
use scheduler::{Instant, Task};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::support::{js_sleep, new_wasm_scheduler, next_macrotask, yield_now};

/// A fixed pseudo-random sequence (xorshift), so the test is the same every run.
fn durations(count: usize, max_ms: u64) -> Vec<Duration> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            Duration::from_millis(state % (max_ms + 1))
        })
        .collect()
}

/// Every timer is awaited well before the first one is due (the delays start at `OFFSET`), so
/// the order in which the waiting tasks run is the order in which the timers fired.
///
/// The scheduler reads the clock for a timer a moment after `Timer::deadline` was computed, and
/// the JS engine may pause in between (a GC, a tier-up: milliseconds in a debug build), so each
/// timer's true deadline is only known to lie in `[deadline(), end of the timer() call + delay]`.
/// Firing order must respect that: a timer never fires before one whose interval lies entirely
/// before its own.
#[wasm_bindgen_test]
async fn timers_fire_in_deadline_order_and_never_early() {
    const OFFSET: Duration = Duration::from_millis(500);
    let (wasm, scheduler) = new_wasm_scheduler();
    let fired = Arc::new(Mutex::new(Vec::new()));
    let delays: Vec<Duration> = durations(60, 25).into_iter().map(|d| d + OFFSET).collect();
    let setup_start = Instant::now();
    let mut windows = Vec::new();
    let tasks: Vec<Task<()>> = delays
        .iter()
        .enumerate()
        .map(|(index, &delay)| {
            let timer = scheduler.timer(delay);
            windows.push((timer.deadline(), Instant::now() + delay));
            let (scheduler, fired) = (scheduler.clone(), fired.clone());
            scheduler.clone().spawn(async move {
                let deadline = timer.deadline();
                timer.await;
                let now = scheduler.now();
                fired.lock().unwrap().push((index, now >= deadline));
            })
        })
        .collect();
    // Let every task start waiting on its timer.
    wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&wasm_bindgen::JsValue::from(1)))
        .await
        .unwrap();
    assert!(
        setup_start.elapsed() < OFFSET,
        "setting up took {:?}, longer than the smallest delay",
        setup_start.elapsed()
    );
    futures::future::join_all(tasks).await;
    let fired = fired.lock().unwrap().clone();
    assert_eq!(fired.len(), delays.len());
    for &(index, on_time) in &fired {
        assert!(
            on_time,
            "timer {index} ({:?}) fired before its deadline",
            delays[index]
        );
    }
    for pair in fired.windows(2) {
        let ((a, _), (b, _)) = (pair[0], pair[1]);
        let ((earliest_a, _), (_, latest_b)) = (windows[a], windows[b]);
        assert!(
            earliest_a <= latest_b,
            "timer {a} ({:?}) fired before timer {b} ({:?}), whose deadline is earlier",
            delays[a],
            delays[b]
        );
    }
    assert_eq!(wasm.stats().live_timer_closures, 0);
    assert_eq!(wasm.stats().pending_timers, 0);
}

#[wasm_bindgen_test]
async fn a_timer_is_not_early_by_the_hosts_clock_either() {
    let (_wasm, scheduler) = new_wasm_scheduler();
    for millis in [0u64, 1, 3, 7, 12] {
        let start = Instant::now();
        scheduler.timer(Duration::from_millis(millis)).await;
        assert!(
            start.elapsed() >= Duration::from_millis(millis),
            "a {millis} ms timer fired after {:?}",
            start.elapsed()
        );
    }
}

/// Node computes a timeout's expiry from its loop's clock, cached when the turn began and kept
/// in whole milliseconds, so about a third of its timeouts come back before the deadline on
/// `Instant` (`performance.now()`), most by less than a millisecond. Those are checked again
/// with `setImmediate` right after the turn instead of a `setTimeout` re-armed for at least a
/// millisecond more; none fires early. Hosts without `setImmediate` (browsers) re-arm.
#[wasm_bindgen_test]
async fn a_timeout_back_less_than_a_millisecond_early_is_checked_again_right_after_the_turn() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let tasks: Vec<Task<(Duration, Duration)>> = (0..100u64)
        .map(|i| {
            let delay = Duration::from_millis(1 + i % 6);
            let start = Instant::now();
            let timer = scheduler.timer(delay);
            scheduler.spawn(async move {
                timer.await;
                (delay, start.elapsed())
            })
        })
        .collect();
    for task in tasks {
        let (delay, elapsed) = task.await;
        assert!(
            elapsed >= delay,
            "a {delay:?} timer fired after {elapsed:?}"
        );
    }
    let stats = wasm.stats();
    if stats.macrotask_kind == "setImmediate" {
        assert!(
            stats.early_timeouts > 0 && stats.early_rechecks > 0,
            "Node fires some timeouts early, and those less than 1 ms early are checked again \
             with setImmediate: {stats:?}"
        );
    } else {
        assert_eq!(stats.early_rechecks, 0, "no setImmediate, no re-check");
    }
    assert_eq!(stats.pending_timers, 0);
    assert_eq!(
        stats.live_timer_closures, 0,
        "fired timers free their closure"
    );
}

/// Timers dropped at every point of their life, including while a `setImmediate` re-check is
/// pending (a timeout that came back early): the re-check is cleared with its closure, which is
/// never called after it was freed (that would throw).
#[wasm_bindgen_test]
async fn timers_dropped_while_rechecked_free_their_closure_and_never_run() {
    let (wasm, scheduler) = new_wasm_scheduler();
    for round in 0..40u64 {
        let timers: Vec<_> = (0..10u64)
            .map(|i| scheduler.timer(Duration::from_millis(1 + (round + i) % 3)))
            .collect();
        // Wait about as long as the timers, so that some have come back (early or not) and some
        // are pending a re-check when they are dropped.
        js_sleep((1 + round % 3) as f64).await;
        drop(timers);
    }
    // Past every deadline: a freed closure called by a stale timeout or immediate would throw.
    js_sleep(20.0).await;
    let stats = wasm.stats();
    assert_eq!(stats.live_timer_closures, 0, "{stats:?}");
    assert_eq!(stats.pending_timers, 0, "{stats:?}");
}

#[wasm_bindgen_test]
async fn dropped_and_fired_timers_leave_no_live_closures() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let timers: Vec<_> = (0..200)
        .map(|i| scheduler.timer(Duration::from_millis(5 + i % 10)))
        .collect();
    assert_eq!(
        wasm.stats().live_timer_closures,
        200,
        "one closure per pending timer"
    );
    let (dropped, kept): (Vec<_>, Vec<_>) = timers
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    drop(dropped);
    assert_eq!(
        wasm.stats().live_timer_closures,
        100,
        "dropping a timer frees its closure at once"
    );
    assert_eq!(wasm.stats().pending_timers, 100);
    futures::future::join_all(kept.into_iter().map(|(_, timer)| timer)).await;
    // Past every deadline: a cleared timeout whose closure was freed would throw if it ran.
    js_sleep(30.0).await;
    assert_eq!(
        wasm.stats().live_timer_closures,
        0,
        "fired timers free their closure"
    );
    assert_eq!(wasm.stats().pending_timers, 0);
}

#[wasm_bindgen_test]
async fn dropping_the_scheduler_clears_its_timeouts_and_cancels_their_tasks() {
    let (wasm, scheduler) = new_wasm_scheduler();
    // The task holds only the timer (which holds a weak reference to the scheduler): a task
    // holding the scheduler itself would keep it alive.
    let timer = scheduler.timer(Duration::from_millis(200));
    let task = scheduler.spawn(timer).fallible();
    next_macrotask().await;
    assert_eq!(wasm.stats().pending_timers, 1);
    assert_eq!(wasm.stats().live_timer_closures, 1);
    drop((wasm, scheduler));
    // Past the deadline: had the timeout not been cleared, its freed closure would throw.
    js_sleep(300.0).await;
    assert_eq!(
        task.await,
        None,
        "the task waiting on the timer was cancelled"
    );
}

#[wasm_bindgen_test]
async fn a_self_waking_task_does_not_starve_timers() {
    // Enough yields to spin for seconds if nothing ever yielded to the host; the spinner stops
    // by itself then, so a regression fails the lateness assertions instead of hanging.
    const SPIN_CAP: u64 = 3_000_000;
    const BOUND: Duration = Duration::from_millis(250);
    let (wasm, scheduler) = new_wasm_scheduler();
    let spins = Arc::new(AtomicU64::new(0));
    let spinner = scheduler.spawn({
        let spins = spins.clone();
        async move {
            while spins.fetch_add(1, Ordering::Relaxed) < SPIN_CAP {
                yield_now().await;
            }
        }
    });
    let start = Instant::now();
    // Our own timer, awaited by another task, and a plain JS setTimeout.
    let ours = scheduler.spawn({
        let scheduler = scheduler.clone();
        async move {
            scheduler.timer(Duration::from_millis(10)).await;
            Instant::now()
        }
    });
    js_sleep(10.0).await;
    let host_late = start.elapsed().saturating_sub(Duration::from_millis(10));
    let ours_late = (ours.await - start).saturating_sub(Duration::from_millis(10));
    let spun = spins.load(Ordering::Relaxed);
    drop(spinner);
    assert!(
        spun > 100,
        "the spinner ran ({spun} yields) while the timers waited"
    );
    assert!(
        spun < SPIN_CAP,
        "the timers fired while the spinner was still spinning"
    );
    assert!(
        host_late < BOUND,
        "the host's setTimeout was {host_late:?} late"
    );
    assert!(
        ours_late < BOUND,
        "the scheduler's timer was {ours_late:?} late"
    );
    assert!(
        wasm.stats().macrotask_yields > 0,
        "the drain yielded to the macrotask queue"
    );
}

#[wasm_bindgen_test]
fn the_best_macrotask_primitive_of_the_host_is_used() {
    let global = js_sys::global();
    let has = |object: &wasm_bindgen::JsValue, name: &str| {
        js_sys::Reflect::get(object, &name.into()).is_ok_and(|value| value.is_function())
    };
    let task_scheduler = js_sys::Reflect::get(&global, &"scheduler".into()).unwrap();
    let expected = if task_scheduler.is_object() && has(&task_scheduler, "postTask") {
        "postTask" // browsers
    } else if has(&global, "setImmediate") {
        "setImmediate" // Node
    } else {
        "setTimeout"
    };
    assert_eq!(WasmScheduler::new().stats().macrotask_kind, expected);
}
