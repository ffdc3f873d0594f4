//! TestScheduler::cancel_tasks / cancel_session, which the cloud simulation uses to end a
//! request's leftover tasks: cancelled tasks are never polled again, whether queued, waiting
//! for a timer, or holding other tasks.

use scheduler::{
    ForegroundExecutor, Scheduler, SessionId, TaskOutcome, TestScheduler, TestSchedulerConfig,
    TraceEvent, run_seeds, session,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Counts polls of a future that never completes on its own (it re-wakes itself).
fn spinning(polls: Rc<RefCell<u32>>) -> impl std::future::Future<Output = ()> {
    std::future::poll_fn(move |cx| {
        *polls.borrow_mut() += 1;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
}

#[test]
fn cancel_session_stops_exactly_that_sessions_tasks() {
    run_seeds(|seed| {
        let test = TestScheduler::new(TestSchedulerConfig {
            trace: true,
            ..TestSchedulerConfig::with_seed(seed)
        });
        let scheduler: Arc<dyn Scheduler> = test.clone();
        let polls: Vec<Rc<RefCell<u32>>> = (0..12).map(|_| Rc::default()).collect();
        for (i, polls) in polls.iter().enumerate() {
            let session = SessionId::from_raw(i as u64 % 3 + 1);
            ForegroundExecutor::for_session(scheduler.clone(), session)
                .spawn(spinning(polls.clone()))
                .detach();
        }
        for _ in 0..40 {
            test.tick();
        }
        let cancelled = test.cancel_session(SessionId::from_raw(2));
        assert_eq!(cancelled, 4);
        let frozen: Vec<u32> = polls.iter().map(|p| *p.borrow()).collect();
        for _ in 0..200 {
            test.tick();
        }
        for (i, polls) in polls.iter().enumerate() {
            if i % 3 == 1 {
                assert_eq!(
                    *polls.borrow(),
                    frozen[i],
                    "cancelled task {i} was polled again"
                );
            } else {
                assert!(*polls.borrow() > frozen[i], "task {i} stopped running");
            }
        }
        let ended: Vec<_> = test
            .take_trace()
            .into_iter()
            .filter_map(|event| match event {
                TraceEvent::Ended { task, outcome, .. } => Some((task.session, outcome)),
                _ => None,
            })
            .collect();
        assert_eq!(ended.len(), 4);
        assert!(
            ended
                .iter()
                .all(|&(session, outcome)| session == Some(2) && outcome == TaskOutcome::Cancelled)
        );
        assert_eq!(test.live_tasks().len(), 8);
    });
}

#[test]
fn a_cancelled_task_waiting_for_a_timer_is_dropped_when_the_timer_fires() {
    let test = TestScheduler::with_seed(0);
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let resumed = Rc::new(RefCell::new(false));
    let task = scheduler.spawn_foreground({
        let (scheduler, resumed) = (scheduler.clone(), resumed.clone());
        async move {
            scheduler.timer(Duration::from_secs(5)).await;
            *resumed.borrow_mut() = true;
        }
    });
    let id = task.id().unwrap();
    task.detach();
    test.run_until_parked();
    assert_eq!(test.cancel_tasks([id]), 1);
    assert_eq!(test.cancel_tasks([id]), 0, "cancelling twice counts once");
    // It waits for a wake that has not come: still live until then.
    assert!(test.is_task_running(id));
    test.advance_clock(Duration::from_secs(10));
    assert!(!test.is_task_running(id));
    assert!(!*resumed.borrow());
}

#[test]
fn cancelling_a_task_that_holds_other_tasks_cancels_them_too_without_deadlock() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let scheduler: Arc<dyn Scheduler> = test.clone();
        let leaf_resumed = Rc::new(RefCell::new(false));
        let leaf = scheduler.spawn_foreground({
            let (scheduler, leaf_resumed) = (scheduler.clone(), leaf_resumed.clone());
            async move {
                scheduler.timer(Duration::from_secs(100)).await;
                *leaf_resumed.borrow_mut() = true;
            }
        });
        let leaf_id = leaf.id().unwrap();
        // The parent holds the leaf's handle while it waits for a timer; dropping the parent
        // drops the handle, which cancels the leaf.
        let parent = scheduler.spawn_foreground({
            let scheduler = scheduler.clone();
            async move {
                let _leaf = leaf;
                scheduler.timer(Duration::from_secs(1)).await;
            }
        });
        let parent_id = parent.id().unwrap();
        let observer = scheduler.spawn(parent.fallible());
        test.run_until_parked();
        assert_eq!(test.cancel_tasks([parent_id]), 1);
        // The timer's wake finds the parent cancelled: it is dropped, and the leaf with it.
        assert_eq!(scheduler.block(observer), None, "the parent was cancelled");
        test.run_until_parked();
        assert!(!test.is_task_running(parent_id));
        assert!(!test.is_task_running(leaf_id));
        test.advance_clock(Duration::from_secs(200));
        assert!(
            !*leaf_resumed.borrow(),
            "the leaf ran after its holder was dropped"
        );
        assert!(test.live_tasks().is_empty(), "{:?}", test.live_tasks());
    });
}

#[test]
fn ids_of_ended_or_unknown_tasks_are_ignored() {
    let test = TestScheduler::with_seed(0);
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let done = scheduler.spawn(async { 1 });
    let id = done.id().unwrap();
    assert_eq!(scheduler.block(done), 1);
    assert_eq!(
        test.cancel_tasks([id, scheduler::TaskId::from_raw(12_345)]),
        0
    );
    // A later task is unaffected by the ignored ids.
    let later = session::with(None, || scheduler.spawn(async { 2 }));
    assert_eq!(scheduler.block(later), 2);
}
