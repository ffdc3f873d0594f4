//! What a panicking task does on wasm32 built with `panic = "unwind"` (nightly, std rebuilt with
//! `-Zbuild-std=std,panic_unwind`; scripts/test.d/30-wasm.sh runs this suite so): the same as
//! on native targets (`native-tests/tests/task_lifecycle.rs`, `native-tests/src/behaviour.rs`).
//! The panic is caught in the task's wrapper and re-raised where its `Task` is awaited, naming
//! the task and its spawn location; a panic nobody awaits goes to `console.error`; the scheduler,
//! the other sessions and their counters carry on. Plus what only the Worker layer adds: a
//! panicking handler served by `CloudflareExecutionContext::serve` answers its own request with
//! a 500 naming the failure, and nothing else fails. (The `panic = "abort"` build: `panics.rs`.)
#![cfg(all(target_arch = "wasm32", panic = "unwind"))]

use futures::FutureExt;
use futures::future::join_all;
use js_sys::Reflect;
use scheduler::cloud::{
    CloudflareExecutionContext, CloudflareStats, ExecutionContext, RequestFailure,
};
use scheduler::platform::wasm::{WasmScheduler, WorkerdScheduler};
use scheduler::{Instant, Runnable, Scheduler, TaskLabel, TaskMetadata, TaskOutcome, Unparker};
use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::console_capture::ConsoleErrorCapture;
use wasm_tests::support::{
    fake_context, new_wasm_scheduler, next_macrotask, spawn_in, wait_until_promises, yield_times,
};

/// The text of a caught panic.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn a_panic_is_reraised_where_the_task_is_awaited_with_its_spawn_location() {
    let (wasm, scheduler) = new_wasm_scheduler();
    let spawn_line = line!() + 1;
    let task = scheduler.spawn(async { panic!("boom in task") });
    let id = task.id().unwrap();
    let awaited = AssertUnwindSafe(task).catch_unwind().await;
    let message = panic_text(&*awaited.expect_err("awaiting a panicked task panics"));
    assert!(message.contains("boom in task"), "{message}");
    assert!(
        message.contains(&format!("{}:{spawn_line}:", file!())),
        "message names the spawn location: {message}"
    );
    assert!(
        message.contains(&id.to_string()),
        "message names the task: {message}"
    );
    // The scheduler keeps working, and counted the panic.
    let tasks: Vec<_> = (0..10).map(|i| scheduler.spawn(async move { i })).collect();
    assert_eq!(join_all(tasks).await, (0..10).collect::<Vec<_>>());
    let stats = wasm.stats();
    assert_eq!(stats.total.panicked, 1);
    assert_eq!(stats.total.completed, 10);
    assert_eq!(stats.total.running(), 0);
}

/// The behaviour suite's case (`panic_reaches_the_awaiter_and_scheduler_keeps_working`): a
/// background and a foreground task panic, both re-raised at the awaiter, then 20 tasks run.
#[wasm_bindgen_test]
async fn panic_reaches_the_awaiter_and_scheduler_keeps_working() {
    let (_wasm, scheduler) = new_wasm_scheduler();
    let outer = scheduler.clone();
    let (message, after) = scheduler
        .spawn_foreground(async move {
            let failing = outer.spawn(async { panic!("behaviour-suite boom") });
            let outcome = AssertUnwindSafe(failing).catch_unwind().await;
            let payload = outcome.expect_err("awaiting a panicked task must panic");
            let message = panic_text(&*payload);
            let failing_foreground = outer.spawn_foreground(async { panic!("foreground boom") });
            assert!(
                AssertUnwindSafe(failing_foreground)
                    .catch_unwind()
                    .await
                    .is_err(),
                "awaiting a panicked foreground task must panic"
            );
            let after: Vec<u32> =
                join_all((0..20).map(|i| outer.spawn(async move { i + 1 }))).await;
            (message, after)
        })
        .await;
    assert!(
        message.contains("behaviour-suite boom"),
        "message: {message}"
    );
    assert!(
        message.contains("panics_unwind.rs"),
        "no spawn location in: {message}"
    );
    assert_eq!(after, (1..=20).collect::<Vec<_>>());
}

/// A panic nobody awaits is never swallowed: it goes to `console.error`, naming the task and
/// where it was spawned; the other tasks are not disturbed.
#[wasm_bindgen_test]
async fn a_detached_panicking_task_is_reported_naming_it_and_disturbs_no_other() {
    let console = ConsoleErrorCapture::start();
    let (wasm, scheduler) = new_wasm_scheduler();
    let doomed = scheduler.spawn(async { panic!("detached boom") });
    let id = doomed.id().unwrap();
    doomed.detach();
    let survivor = scheduler.spawn(async { "alive" });
    assert_eq!(survivor.await, "alive");
    next_macrotask().await;
    let lines = console.lines();
    drop(console);
    let reports: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains("nobody awaited it"))
        .collect();
    assert_eq!(reports.len(), 1, "{lines:?}");
    assert!(
        reports[0].contains(&format!("{id} spawned at {}", file!())),
        "{reports:?}"
    );
    assert!(
        reports[0].contains("panicked and nobody awaited it: detached boom"),
        "{reports:?}"
    );
    assert_eq!(wasm.stats().total.panicked, 1);
    assert_eq!(wasm.stats().total.running(), 0);
}

/// Panics on drop with its message.
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

/// A panic in a destructor the scheduler runs (issue 20): the future of a cancelled task, and
/// the output of a detached one, which async-task drops where a panic would abort. Under
/// unwinding, each is caught and reported once with `console.error`, naming the task and where
/// it was spawned; the scheduler keeps running (a later task returns 42). As the native
/// behaviour suite's `destructor_panics_reach_unobserved_panic_naming_the_task`.
#[wasm_bindgen_test]
async fn destructor_panics_are_reported_naming_the_task_and_the_scheduler_keeps_running() {
    let console = ConsoleErrorCapture::start();
    let (wasm, scheduler) = new_wasm_scheduler();
    let (started, running) = futures::channel::oneshot::channel();
    let task = scheduler.spawn(async move {
        let _bomb = PanicOnDrop("wasm future-drop boom");
        let _ = started.send(());
        std::future::pending::<()>().await;
    });
    let cancelled = task.id().unwrap();
    running.await.expect("the task started");
    drop(task); // cancels it: its future is dropped where the scheduler runs it
    let task = scheduler.spawn(async { PanicOnDrop("wasm output-drop boom") });
    let detached = task.id().unwrap();
    task.detach(); // its output is dropped by the scheduler, unobserved
    for _ in 0..20 {
        if console
            .lines()
            .iter()
            .filter(|line| line.contains("nobody awaited it"))
            .count()
            >= 2
        {
            break;
        }
        next_macrotask().await;
    }
    let after = scheduler.spawn(async { 6 * 7 }).await;
    let lines = console.lines();
    drop(console);
    let reports: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains("nobody awaited it"))
        .collect();
    assert_eq!(reports.len(), 2, "{lines:?}");
    let report_of = |id: scheduler::TaskId| {
        let named = format!("{id} spawned at {}", file!());
        reports
            .iter()
            .find(|line| line.contains(&named))
            .unwrap_or_else(|| panic!("no report naming {id}: {reports:?}"))
    };
    assert!(
        report_of(cancelled)
            .contains("its future panicked while it was dropped: wasm future-drop boom"),
        "{reports:?}"
    );
    assert!(
        report_of(detached)
            .contains("its output panicked while it was dropped: wasm output-drop boom"),
        "{reports:?}"
    );
    assert_eq!(after, 42, "the scheduler kept working");
    assert_eq!(wasm.stats().total.running(), 0);
}

/// Every panic nobody awaited (a detached task, or a `Task` dropped without being awaited) is
/// reported exactly once; an awaited panic is re-raised at the awaiter instead and never
/// reported.
#[wasm_bindgen_test]
async fn unobserved_panics_are_reported_once_and_awaited_ones_never_are() {
    let console = ConsoleErrorCapture::start();
    let (_wasm, scheduler) = new_wasm_scheduler();
    scheduler.spawn(async { panic!("detached") }).detach();
    let dropped = scheduler.spawn(async { panic!("dropped unawaited") });
    let awaited = scheduler.spawn(async { panic!("awaited") });
    next_macrotask().await;
    assert!(dropped.is_finished());
    drop(dropped);
    let outcome = AssertUnwindSafe(awaited).catch_unwind().await;
    assert!(panic_text(&*outcome.unwrap_err()).contains("awaited"));
    next_macrotask().await;
    let lines = console.lines();
    drop(console);
    let mut reports: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains("nobody awaited it"))
        .collect();
    reports.sort();
    assert_eq!(reports.len(), 2, "{lines:?}");
    assert!(reports[0].ends_with(": detached"), "{reports:?}");
    assert!(reports[1].ends_with(": dropped unawaited"), "{reports:?}");
    assert!(
        reports.iter().all(|report| report.contains(file!())),
        "{reports:?}"
    );
}

/// A panic in one request's session fails only the task that panicked: the other session's
/// tasks (interleaved with it in the same drains) finish, both sessions' counters stay exact,
/// ending the sessions works, and the queue is empty afterwards.
#[wasm_bindgen_test]
async fn a_panic_in_one_session_disturbs_no_other_and_the_counters_stay_exact() {
    let workerd = WorkerdScheduler::new(WasmScheduler::new());
    let wasm = workerd.wasm().clone();
    let scheduler: Arc<dyn Scheduler> = workerd.clone();
    let (a, b) = (workerd.create_session(), workerd.create_session());
    let busy_b: Vec<_> = (0..20u32)
        .map(|i| {
            spawn_in(&scheduler, b, async move {
                yield_times(i).await;
                i
            })
        })
        .collect();
    let inner = scheduler.clone();
    let outcome_in_a = spawn_in(&scheduler, a, async move {
        let failing = inner.spawn(async {
            yield_times(3).await;
            panic!("session boom")
        });
        AssertUnwindSafe(failing).catch_unwind().await.is_err()
    });
    assert!(outcome_in_a.await, "the awaiter in session a saw the panic");
    assert_eq!(join_all(busy_b).await, (0..20).collect::<Vec<_>>());
    let counters_a = wasm.session_counters(a).expect("a is open");
    assert_eq!((counters_a.spawned, counters_a.panicked), (2, 1));
    assert_eq!(counters_a.completed, 1);
    let counters_b = wasm.session_counters(b).expect("b is open");
    assert_eq!((counters_b.completed, counters_b.panicked), (20, 0));
    let end_a = wasm.end_session(a, &[]);
    assert!(end_a.cancelled.is_empty());
    assert_eq!(end_a.counters.panicked, 1);
    workerd.forget_session(a);
    let end_b = wasm.end_session(b, &[]);
    assert_eq!(end_b.counters.panicked, 0);
    workerd.forget_session(b);
    let stats = wasm.stats();
    assert_eq!(stats.queued, 0);
    assert_eq!(stats.total.running(), 0);
    // Still running: a new session's task.
    let c = workerd.create_session();
    assert_eq!(spawn_in(&scheduler, c, async { 5 }).await, 5);
}

/// A scheduler whose `task_ended` hook panics for tasks labeled `explode`: that panic happens
/// after the task's poll, outside its wrapper's catch, so it escapes `Runnable::run` into the
/// drain.
struct ExplodingHook {
    inner: Arc<WasmScheduler>,
}

impl Scheduler for ExplodingHook {
    fn schedule(&self, runnable: Runnable) {
        self.inner.schedule(runnable);
    }
    fn schedule_foreground(&self, runnable: Runnable) {
        self.inner.schedule_foreground(runnable);
    }
    fn schedule_spawned(&self, runnable: Runnable) {
        self.inner.schedule_spawned(runnable);
    }
    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        self.inner.schedule_after(delay, runnable);
    }
    fn park(&self, timeout: Option<Duration>) -> bool {
        self.inner.park(timeout)
    }
    fn unparker(&self) -> Unparker {
        self.inner.unparker()
    }
    fn is_main_thread(&self) -> bool {
        true
    }
    fn now(&self) -> Instant {
        self.inner.now()
    }
    fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        self.inner.task_ended(metadata, outcome);
        if metadata.label().and_then(|label| label.name()) == Some("explode") {
            panic!("the task_ended hook exploded");
        }
    }
}

/// A panic that escapes a drain outside any task's poll is reported with `console.error`,
/// and the drain's state stays consistent: the runnables of its batch still run, and later
/// work is drained normally.
#[wasm_bindgen_test]
async fn a_panic_escaping_a_drain_is_reported_and_the_scheduler_keeps_running() {
    let console = ConsoleErrorCapture::start();
    let wasm = WasmScheduler::new();
    let scheduler: Arc<dyn Scheduler> = Arc::new(ExplodingHook {
        inner: wasm.clone(),
    });
    let ran = Rc::new(Cell::new(0u32));
    // One batch: the exploding task first, then ten more.
    scheduler
        .spawn_labeled(TaskLabel::named("explode"), async {})
        .detach();
    let after: Vec<_> = (0..10u32)
        .map(|i| {
            let ran = ran.clone();
            scheduler.spawn_foreground(async move {
                ran.set(ran.get() + 1);
                i
            })
        })
        .collect();
    assert_eq!(join_all(after).await, (0..10).collect::<Vec<_>>());
    assert_eq!(ran.get(), 10);
    // Later work still drains.
    assert_eq!(scheduler.spawn(async { 7 }).await, 7);
    let lines = console.lines();
    drop(console);
    let escaped: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains("escaped the drain"))
        .collect();
    assert_eq!(escaped.len(), 1, "{lines:?}");
    assert!(
        escaped[0].contains("the task_ended hook exploded")
            && escaped[0].contains("10 runnables of the batch queued again"),
        "{escaped:?}"
    );
    assert_eq!(wasm.stats().queued, 0);
}

/// A handler's answer that panics instead.
fn fail(message: &str) -> worker::Result<worker::Response> {
    panic!("{message}")
}

/// A panicking handler fails its own request only: `serve` returns the failure (naming the
/// handler's task, where `serve` was called, the panic), which answers as a 500 with it as
/// JSON; its `wait_until` job still settles and its session ends, counted as panicked; a request
/// served meanwhile and the isolate's state are untouched.
#[wasm_bindgen_test]
async fn a_panicking_handler_answers_its_own_request_with_a_500_and_nothing_else_fails() {
    let console = ConsoleErrorCapture::start();
    let workerd = WorkerdScheduler::new(WasmScheduler::new());
    let before = CloudflareStats::current();
    // Isolate state: a counter every request bumps.
    let isolate_counter = Rc::new(Cell::new(0u32));

    let (context, record) = fake_context();
    let failing = CloudflareExecutionContext::new(workerd.clone(), context);
    let handler_ctx = failing.clone();
    let counter = isolate_counter.clone();
    let serve_line = line!() + 1;
    let failing_response = failing.clone().serve(async move {
        counter.set(counter.get() + 1);
        let timers: Arc<dyn Scheduler> = handler_ctx.scheduler().clone();
        handler_ctx.wait_until(async move {
            timers.timer(Duration::from_millis(5)).await;
        });
        yield_times(2).await;
        fail("handler boom")
    });

    let (other_context, other_record) = fake_context();
    let other = CloudflareExecutionContext::new(workerd.clone(), other_context);
    let other_ctx = other.clone();
    let counter = isolate_counter.clone();
    let other_response = other.clone().serve(async move {
        counter.set(counter.get() + 1);
        other_ctx.wait_until(async {});
        yield_times(5).await;
        worker::Response::ok("fine")
    });

    let (failed, fine) = futures::join!(failing_response, other_response);
    let failed = failed.expect_err("the panicking handler's request failed");
    assert_eq!(failed.cause, RequestFailure::Panicked);
    assert_eq!(failed.session, failing.session());
    assert!(!failed.passed_through);
    assert!(failed.message.contains("handler boom"), "{failed}");
    assert!(failed.message.contains("task#"), "names the task: {failed}");
    assert!(
        failed
            .message
            .contains(&format!("{}:{serve_line}:", file!())),
        "names where serve was called: {failed}"
    );
    let mut fine = fine.expect("the other request did not fail").expect("Ok");
    // The 500 the library offers for it: the failure as JSON.
    let mut answer = worker::Response::from(failed.clone());
    assert_eq!(answer.status_code(), 500);
    let body = answer.text().await.expect("a text body");
    let json = js_sys::JSON::parse(&body).expect("the body is JSON");
    let field = |name: &str| {
        Reflect::get(&json, &name.into())
            .ok()
            .and_then(|value| value.as_string())
            .unwrap_or_default()
    };
    assert_eq!(field("status"), "failed", "{body}");
    assert_eq!(field("cause"), "panicked", "{body}");
    assert_eq!(field("session"), failing.session().to_string(), "{body}");
    assert_eq!(field("error"), failed.message, "{body}");
    assert_eq!(fine.status_code(), 200);
    assert_eq!(fine.text().await.expect("text"), "fine");

    // Each request's wait_until promise resolves (the panicking one's too), and both sessions
    // end once they have.
    for record in [&record, &other_record] {
        for promise in wait_until_promises(record) {
            JsFuture::from(promise)
                .await
                .expect("a settled wait_until resolves");
        }
    }
    next_macrotask().await;
    let end = failing.session_end().expect("the session ended");
    assert_eq!(end.counters.panicked, 1, "{end:?}");
    assert!(end.cancelled.is_empty());
    assert!(other.session_end().expect("ended").counters.panicked == 0);
    assert!(
        failing
            .handler_panic()
            .is_some_and(|panic| panic.contains("handler boom"))
    );
    assert_eq!(other.handler_panic(), None);
    let after = CloudflareStats::current();
    assert_eq!(after.handlers_panicked - before.handlers_panicked, 1);
    assert_eq!(after.requests - before.requests, 2);
    assert_eq!(after.sessions_ended - before.sessions_ended, 2);
    assert_eq!(after.wait_until_completed - before.wait_until_completed, 2);
    assert_eq!(isolate_counter.get(), 2, "isolate state survived");
    let lines = console.lines();
    drop(console);
    assert!(
        lines
            .iter()
            .any(|line| line.contains("panicked: ") && line.contains("answered with its failure")),
        "the failure is logged: {lines:?}"
    );
    // The isolate serves the next request.
    let (context, _record) = fake_context();
    let next = CloudflareExecutionContext::new(workerd.clone(), context);
    let mut response = next
        .serve(async { worker::Response::ok("next") })
        .await
        .expect("not failed")
        .expect("Ok");
    assert_eq!(response.text().await.expect("text"), "next");
}

/// A handler that called `pass_through_on_exception` and then panics is not answered: the
/// panic is re-raised (the runtime then forwards the request to the origin).
#[wasm_bindgen_test]
async fn a_panicking_handler_that_passes_through_re_raises_its_panic() {
    let workerd = WorkerdScheduler::new(WasmScheduler::new());
    let (context, record) = fake_context();
    let ctx = CloudflareExecutionContext::new(workerd, context);
    let handler_ctx = ctx.clone();
    let served = ctx.serve(async move {
        handler_ctx.pass_through_on_exception();
        yield_times(1).await;
        fail("pass me through")
    });
    let outcome = AssertUnwindSafe(served).catch_unwind().await;
    let message = panic_text(&*outcome.expect_err("the panic is re-raised"));
    assert!(message.contains("pass me through"), "{message}");
    assert_eq!(
        Reflect::get(&record, &"passedThrough".into()).unwrap(),
        JsValue::TRUE
    );
}
