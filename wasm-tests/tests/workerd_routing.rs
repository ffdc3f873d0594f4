//! `WorkerdScheduler` (feature `cloudflare`): a wake of one session's task from another
//! session's task is parked on the woken session's anchor and delivered by a promise reaction
//! (in workerd, in the woken request's own I/O context); other wakes go straight to the
//! WasmScheduler. The workerd side (real I/O contexts) is covered by the Worker's e2e suite.
#![cfg(target_arch = "wasm32")]

use futures::channel::oneshot;
use scheduler::cloud::WorkerdScheduler;
use scheduler::platform::wasm::WasmScheduler;
use scheduler::{Scheduler, SessionId, session};
use std::sync::Arc;
use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::support::{next_macrotask, spawn_in};

fn new_scheduler() -> (Arc<WorkerdScheduler>, Arc<dyn Scheduler>) {
    let workerd = WorkerdScheduler::new(WasmScheduler::new());
    let scheduler: Arc<dyn Scheduler> = workerd.clone();
    (workerd, scheduler)
}

#[wasm_bindgen_test]
async fn a_wake_from_another_session_is_routed_through_the_woken_sessions_anchor() {
    let (workerd, scheduler) = new_scheduler();
    let (a, b) = (workerd.create_session(), workerd.create_session());
    let (sender, receiver) = oneshot::channel::<u32>();
    let waiter = spawn_in(&scheduler, b, async move {
        (receiver.await.expect("sent"), session::current())
    });
    next_macrotask().await; // the waiter is parked on the channel now
    assert_eq!(workerd.routed_wakes(), 0);
    spawn_in(&scheduler, a, async move {
        sender.send(7).expect("waiter alive")
    })
    .await;
    let (value, ran_in) = waiter.await;
    assert_eq!(value, 7);
    assert_eq!(
        ran_in,
        Some(b),
        "the woken task still runs as its own session"
    );
    assert_eq!(workerd.routed_wakes(), 1);
}

#[wasm_bindgen_test]
async fn wakes_within_one_session_and_from_js_callbacks_are_not_routed() {
    let (workerd, scheduler) = new_scheduler();
    let a = workerd.create_session();
    let (sender, receiver) = oneshot::channel::<u32>();
    let waiter = spawn_in(&scheduler, a, async move { receiver.await.expect("sent") });
    next_macrotask().await;
    spawn_in(&scheduler, a, async move {
        sender.send(3).expect("waiter alive")
    })
    .await;
    assert_eq!(waiter.await, 3);
    // A timer wakes its task from a JS callback (no session current): not routed either.
    let timers = scheduler.clone();
    spawn_in(&scheduler, a, async move {
        timers.timer(std::time::Duration::from_millis(2)).await
    })
    .await;
    assert_eq!(workerd.routed_wakes(), 0);
}

#[wasm_bindgen_test]
async fn many_cross_session_wakes_all_arrive_once() {
    let (workerd, scheduler) = new_scheduler();
    let sessions: Vec<SessionId> = (0..50).map(|_| workerd.create_session()).collect();
    let mut senders = Vec::new();
    let mut waiters = Vec::new();
    for (index, &session) in sessions.iter().enumerate() {
        let (sender, receiver) = oneshot::channel::<usize>();
        senders.push(sender);
        waiters.push(spawn_in(&scheduler, session, async move {
            receiver.await.expect("sent") * 10 + index
        }));
    }
    next_macrotask().await;
    // One task of the first session wakes every other session's waiter (and its own).
    let first = sessions[0];
    spawn_in(&scheduler, first, async move {
        for (index, sender) in senders.into_iter().enumerate() {
            sender.send(index).expect("waiter alive");
        }
    })
    .await;
    for (index, waiter) in waiters.into_iter().enumerate() {
        assert_eq!(waiter.await, index * 11);
    }
    assert_eq!(
        workerd.routed_wakes(),
        49,
        "every wake but the first session's own was routed"
    );
}

#[wasm_bindgen_test]
async fn forgetting_a_session_drops_the_runnables_parked_on_it() {
    let (workerd, scheduler) = new_scheduler();
    let (a, b) = (workerd.create_session(), workerd.create_session());
    let (sender, receiver) = oneshot::channel::<u32>();
    let waiter = spawn_in(&scheduler, b, async move { receiver.await.expect("sent") }).fallible();
    next_macrotask().await;
    let forgetter = workerd.clone();
    spawn_in(&scheduler, a, async move {
        sender.send(1).expect("waiter alive"); // parked on b's anchor
        forgetter.forget_session(b); // b ended before the reaction ran
    })
    .await;
    assert_eq!(workerd.routed_wakes(), 1);
    assert_eq!(
        waiter.await,
        None,
        "the parked runnable was dropped, cancelling its task"
    );
}
