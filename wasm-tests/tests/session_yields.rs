//! The starvation guard with the default `WasmSchedulerConfig`, as a Worker runs it (on the
//! `WorkerdScheduler`, no override): when a slice runs long, the queued work leaves the queue
//! by session, and each session's *continuation* (a macrotask armed where the work was queued:
//! in workerd, the session's own I/O context) runs that session's runnables and nothing else.
//!
//! What Node can show: a session that wakes itself forever does not starve another session
//! (nor timers), a continuation runs only its own session's tasks, and ending a session cancels
//! its task wherever that waits. What needs workerd (the Worker's e2e suite): that each
//! continuation runs in its own request's I/O context, so workerd logs no cross-request I/O
//! error.
#![cfg(target_arch = "wasm32")]

use futures::channel::oneshot;
use scheduler::cloud::{CloudflareExecutionContext, ExecutionContext};
use scheduler::platform::wasm::{WasmScheduler, WasmSchedulerConfig, WorkerdScheduler};
use scheduler::{Scheduler, SessionId};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::console_capture::ConsoleErrorCapture;
use wasm_tests::support::{fake_context, next_macrotask, spawn_in, wait_until_promises, yield_now};

/// A WorkerdScheduler on a default-configured WasmScheduler (no override, as in a Worker).
fn new_scheduler() -> (Arc<WorkerdScheduler>, Arc<dyn Scheduler>) {
    let wasm = WasmScheduler::new();
    assert_eq!(
        wasm.config().slice_budget,
        WasmSchedulerConfig::default().slice_budget
    );
    let workerd = WorkerdScheduler::new(wasm);
    let scheduler: Arc<dyn Scheduler> = workerd.clone();
    (workerd, scheduler)
}

/// What a task that wakes itself until `stop` saw: its polls, how many ran inside its own
/// session's continuation, and how many inside another session's (must be none).
#[derive(Default)]
struct Seen {
    polls: AtomicU64,
    own_continuation: AtomicU64,
    foreign_continuation: AtomicU64,
}

/// Spawns, in `session` (or none), a task that yields until `stop`, recording in `seen` in
/// whose continuation each of its polls ran.
fn spin(
    workerd: &Arc<WorkerdScheduler>,
    scheduler: &Arc<dyn Scheduler>,
    session: Option<SessionId>,
    stop: Arc<AtomicBool>,
    seen: Arc<Seen>,
) -> scheduler::Task<()> {
    let workerd = workerd.clone();
    let body = async move {
        while !stop.load(Ordering::SeqCst) {
            seen.polls.fetch_add(1, Ordering::SeqCst);
            match workerd.wasm().running_continuation() {
                None => {}
                Some(continuing) if continuing == session => {
                    seen.own_continuation.fetch_add(1, Ordering::SeqCst);
                }
                Some(_) => {
                    seen.foreign_continuation.fetch_add(1, Ordering::SeqCst);
                }
            }
            yield_now().await;
        }
    };
    match session {
        Some(session) => spawn_in(scheduler, session, body),
        None => scheduler.spawn(body),
    }
}

#[wasm_bindgen_test]
async fn a_session_that_wakes_itself_forever_does_not_starve_another_session() {
    let (workerd, scheduler) = new_scheduler();
    let (greedy, patient) = (workerd.create_session(), workerd.create_session());
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Seen::default());
    let spinner = spin(
        &workerd,
        &scheduler,
        Some(greedy),
        stop.clone(),
        seen.clone(),
    );
    // The patient session waits on timers (JS timeouts: macrotasks) three times.
    let timers = scheduler.clone();
    let greedy_seen = seen.clone();
    let patient_task = spawn_in(&scheduler, patient, async move {
        let mut greedy_polls = Vec::new();
        for _ in 0..3 {
            timers.timer(Duration::from_millis(2)).await;
            greedy_polls.push(greedy_seen.polls.load(Ordering::SeqCst));
        }
        greedy_polls
    });
    let greedy_polls = patient_task.await;
    let still_spinning = !spinner.is_finished();
    stop.store(true, Ordering::SeqCst);
    spinner.await;
    assert!(
        still_spinning,
        "the patient session finished while the greedy one still ran"
    );
    assert!(
        greedy_polls.windows(2).all(|pair| pair[0] < pair[1]),
        "the greedy session ran between the patient session's steps: {greedy_polls:?}"
    );
    let stats = workerd.wasm().stats();
    assert!(stats.macrotask_yields > 0, "{stats:?}");
    assert!(stats.continuations > 0, "{stats:?}");
    assert!(seen.own_continuation.load(Ordering::SeqCst) > 0);
    assert_eq!(seen.foreign_continuation.load(Ordering::SeqCst), 0);
}

#[wasm_bindgen_test]
async fn a_continuation_runs_only_its_own_sessions_tasks() {
    let (workerd, scheduler) = new_scheduler();
    let (a, b) = (workerd.create_session(), workerd.create_session());
    let stop = Arc::new(AtomicBool::new(false));
    let [seen_a, seen_b, seen_none] = [(); 3].map(|_| Arc::new(Seen::default()));
    let tasks = [
        spin(&workerd, &scheduler, Some(a), stop.clone(), seen_a.clone()),
        spin(&workerd, &scheduler, Some(b), stop.clone(), seen_b.clone()),
        spin(&workerd, &scheduler, None, stop.clone(), seen_none.clone()),
    ];
    // Until each session's task has run inside its own continuation a few times.
    for _ in 0..2_000 {
        if seen_a.own_continuation.load(Ordering::SeqCst) >= 3
            && seen_b.own_continuation.load(Ordering::SeqCst) >= 3
        {
            break;
        }
        next_macrotask().await;
    }
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await;
    }
    for (name, seen) in [("a", &seen_a), ("b", &seen_b)] {
        assert!(
            seen.own_continuation.load(Ordering::SeqCst) >= 3,
            "session {name} ran in its own continuation"
        );
        assert_eq!(
            seen.foreign_continuation.load(Ordering::SeqCst),
            0,
            "session {name}'s task never ran in another session's continuation"
        );
    }
    assert_eq!(
        seen_none.foreign_continuation.load(Ordering::SeqCst),
        0,
        "a task of no session never runs in a session's continuation"
    );
    assert!(seen_none.own_continuation.load(Ordering::SeqCst) > 0);
}

#[wasm_bindgen_test]
async fn ending_a_session_that_wakes_itself_forever_cancels_its_task() {
    let (workerd, scheduler) = new_scheduler();
    let greedy = workerd.create_session();
    let seen = Arc::new(Seen::default());
    let spinner = spin(
        &workerd,
        &scheduler,
        Some(greedy),
        Arc::new(AtomicBool::new(false)),
        seen.clone(),
    )
    .fallible();
    while workerd.wasm().stats().continuations < 2 {
        next_macrotask().await;
    }
    let end = workerd.wasm().end_session(greedy, &[]);
    workerd.forget_session(greedy);
    assert_eq!(end.cancelled.len(), 1);
    assert_eq!(
        spinner.await,
        None,
        "cancelled wherever it waited (queued, or put off to its continuation)"
    );
    let polls = seen.polls.load(Ordering::SeqCst);
    next_macrotask().await;
    assert_eq!(
        seen.polls.load(Ordering::SeqCst),
        polls,
        "it never ran again"
    );
    assert_eq!(workerd.wasm().stats().total.running(), 0);
}

/// A request's `wait_until` is settled by a task of the request's own session (so a yield puts
/// it in that session's continuation, in the request's I/O context, never in a continuation of
/// no session armed by whichever request yielded), and that task is exempt when it ends the
/// session: only the task the handler leaked is reported, and the leaked task's timer is
/// cancelled with the session as before.
#[wasm_bindgen_test]
async fn a_wait_until_is_settled_in_its_requests_session_and_is_not_a_leak() {
    let console = ConsoleErrorCapture::start();
    let (workerd, scheduler) = new_scheduler();
    let (context, record) = fake_context();
    let ctx = CloudflareExecutionContext::new(workerd.clone(), context);
    let session = ctx.session();
    let (release, released) = oneshot::channel::<()>();
    let (handler_ctx, timers) = (ctx.clone(), scheduler.clone());
    let answer = ctx
        .clone()
        .serve(async move {
            handler_ctx.wait_until(async move {
                let _ = released.await;
            });
            // Leaked on purpose: still waiting on its timer when the session ends.
            let sleeper = timers.clone();
            timers
                .spawn(async move { sleeper.timer(Duration::from_secs(3600)).await })
                .detach();
            42
        })
        .await;
    assert_eq!(answer.ok(), Some(42));
    // The handler, the wait_until work, its settle task and the leaked task: all of the session.
    let counters = workerd
        .wasm()
        .session_counters(session)
        .expect("still open");
    assert_eq!(counters.spawned, 4, "{counters:?}");
    assert_eq!(counters.running(), 3, "{counters:?}");
    for _ in 0..10 {
        if workerd.wasm().stats().pending_timers == 1 {
            break;
        }
        next_macrotask().await;
    }
    assert_eq!(
        workerd.wasm().stats().pending_timers,
        1,
        "the leaked task waits on its timer"
    );

    release.send(()).expect("the work waits");
    let promises = wait_until_promises(&record);
    assert_eq!(promises.len(), 1);
    JsFuture::from(promises[0].clone())
        .await
        .expect("the wait_until promise resolves");
    let end = ctx.session_end().expect("the session ended");
    let leaked: Vec<String> = end
        .cancelled
        .iter()
        .map(|task| task.location().to_string())
        .collect();
    assert_eq!(leaked.len(), 1, "only the leaked task: {end:?}");
    assert!(leaked[0].contains("session_yields.rs"), "{leaked:?}");
    assert_eq!(
        end.exempt_running.len(),
        1,
        "the settle task, ending it: {end:?}"
    );
    assert!(
        end.exempt_running[0]
            .location()
            .to_string()
            .contains("src/cloud/cloudflare.rs"),
        "{end:?}"
    );
    next_macrotask().await;
    let stats = workerd.wasm().stats();
    assert_eq!(
        stats.pending_timers, 0,
        "the leaked task's timer went with the session"
    );
    assert_eq!(stats.total.running(), 0, "{stats:?}");
    assert!(workerd.wasm().session_counters(session).is_none());
    let reports: Vec<String> = console
        .lines()
        .into_iter()
        .filter(|line| line.contains("still running; cancelling it"))
        .collect();
    assert_eq!(reports.len(), 1, "one leak reported: {reports:?}");
}
