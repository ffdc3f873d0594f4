//! A JS timeout fires only the due timers of its own session: in workerd a timeout runs in the
//! I/O context of the request that set it and cannot clear another request's timeouts, so
//! firing another session's timer from it would run that session's code in the wrong context
//! and later call a freed closure.
#![cfg(target_arch = "wasm32")]

use scheduler::platform::wasm::WasmScheduler;
use scheduler::{Scheduler, session};
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn a_timeout_does_not_fire_another_sessions_due_timer() {
    let wasm = WasmScheduler::new();
    let scheduler: Arc<dyn Scheduler> = wasm.clone();
    let delay = Duration::from_millis(5);
    // Two sessions, one timer each with the same deadline. Whichever timeout runs first finds
    // the other timer due too; it must leave it to its own timeout. So the first task to wake
    // still sees the other timer pending, and the second sees none.
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let session = wasm.create_session();
        let (timers, observer) = (scheduler.clone(), wasm.clone());
        tasks.push(session::with(Some(session), || {
            scheduler.spawn(async move {
                timers.timer(delay).await;
                observer.stats().pending_timers
            })
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await);
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        vec![0, 1],
        "a timeout fired the other session's timer instead of leaving it to its own timeout"
    );
    assert_eq!(wasm.stats().pending_timers, 0);
    assert_eq!(wasm.stats().live_timer_closures, 0);
}

#[wasm_bindgen_test]
async fn a_timeout_fires_every_due_timer_of_its_own_session_in_deadline_order() {
    let wasm = WasmScheduler::new();
    let scheduler: Arc<dyn Scheduler> = wasm.clone();
    let a = wasm.create_session();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    // The timers are made up front, so their deadlines are fixed before any fires. The expected
    // order comes from those deadlines (ties in creation order), not from assuming that making
    // them took no time: on a loaded machine the 6 ms timer may be due before the 1 ms one.
    // `Timer::deadline` and the scheduler's own deadline are two reads of the clock a few calls
    // apart; a first timer made while the browser still compiles that path (lazily) can be
    // milliseconds apart in the two, so one timer is made and dropped first.
    drop(session::with(Some(a), || {
        scheduler.timer(Duration::from_millis(1))
    }));
    let timers: Vec<_> = [6u64, 3, 3, 1]
        .into_iter()
        .map(|millis| session::with(Some(a), || scheduler.timer(Duration::from_millis(millis))))
        .collect();
    let mut expected: Vec<usize> = (0..timers.len()).collect();
    expected.sort_by_key(|&index| (timers[index].deadline(), index));
    let mut tasks = Vec::new();
    for (index, timer) in timers.into_iter().enumerate() {
        let order = order.clone();
        tasks.push(session::with(Some(a), || {
            scheduler.spawn(async move {
                timer.await;
                order.lock().unwrap().push(index);
            })
        }));
    }
    for task in tasks {
        task.await;
    }
    assert_eq!(*order.lock().unwrap(), expected);
    assert_eq!(wasm.stats().live_timer_closures, 0);
}
