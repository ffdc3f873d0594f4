//! The dev routes that misbehave on demand (`worker/src/dev/chaos.rs`), their handlers run on a
//! `SimulatedExecutionContext`: a panicking request fails alone with its 500 naming the panic,
//! its `wait_until` job still runs and the isolate's book keeps counting; a request that wakes
//! itself forever lets the others through and stops when asked.
//!
//! The same handler body runs on workerd in the e2e suite (`worker/tests/panics.mjs`): both
//! compare their answers, normalized (`normalize` here, `normalize` there), with
//! `worker/tests/panic_answers.json`. `UPDATE_PANIC_ANSWERS=1` rewrites that file from this
//! test (then the e2e suite must agree with it).

use scheduler::TestScheduler;
use scheduler::cloud::{SimulatedExecutionContext, WaitUntilOutcome};
use scheduler_worker::dev::chaos::{ChaosBook, PANIC_MESSAGE, panic_answer, panic_on_demand, spin};
use serde_json::{Value, json};
use std::time::Duration;

/// Serves `GET /debug/panic?panic=…` once per entry of `panics`, all concurrently, and returns
/// each request's answer (status, body) in order, after checking every session cleaned up and
/// every `wait_until` job completed.
fn serve_panics(
    ctx: &SimulatedExecutionContext,
    book: &ChaosBook,
    panics: &[bool],
) -> Vec<(u16, Value)> {
    let requests: Vec<_> = panics
        .iter()
        .map(|&panic| {
            let (handler_ctx, runtime, book) = (ctx.clone(), ctx.runtime(), book.clone());
            ctx.serve(async move { panic_on_demand(&runtime, &handler_ctx, &book, panic).await })
        })
        .collect();
    let sessions: Vec<_> = requests.iter().map(|request| request.session()).collect();
    let answers: Vec<(u16, Value)> = requests
        .into_iter()
        .map(|request| panic_answer(&ctx.block(request)))
        .collect();
    for session in sessions {
        let jobs = ctx.wait_on_execution_context(session);
        assert_eq!(jobs.len(), 1, "{session}: {jobs:?}");
        assert_eq!(jobs[0].outcome, WaitUntilOutcome::Completed, "{}", jobs[0]);
        ctx.validate_session_cleanup(session)
            .unwrap_or_else(|error| panic!("{error}"));
    }
    answers
}

/// Replaces every run of digits after `marker` in `text` with `N`.
fn replace_numbers_after(text: &str, marker: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let (before, after) = rest.split_at(at + marker.len());
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push('N');
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// An answer with what differs between runs and platforms replaced: the request number (`N`;
/// the value, if it is `3 * N + 1`, by `3N+1`), task and session numbers, the layers of the
/// error before the subtask's panic (the handler task that re-raised it), and line and column
/// of spawn locations. As `normalize` in `worker/tests/panics.mjs`.
fn normalize((status, body): &(u16, Value)) -> Value {
    let mut body = body.clone();
    if let (Some(request), Some(value)) = (body["request"].as_u64(), body["value"].as_u64()) {
        body["request"] = json!("N");
        body["value"] = if value == 3 * request + 1 {
            json!("3N+1")
        } else {
            json!(value)
        };
    }
    if let Some(session) = body["session"].as_str() {
        body["session"] = json!(replace_numbers_after(session, "session#"));
    }
    if let Some(error) = body["error"].as_str() {
        let mut error = replace_numbers_after(&replace_numbers_after(error, "task#"), "session#");
        // The handler's task, which re-raised its subtask's panic: `serve` on workerd names it
        // (where the route called `serve`), the simulation reports the panic it caught. Both
        // end with the subtask's panic, which is kept.
        let layer = " panicked: task#N";
        while let Some(at) = error.find(layer) {
            error = error[at + " panicked: ".len()..].to_string();
        }
        // Line and column of `chaos.rs` locations.
        let marker = "chaos.rs:";
        if let Some(at) = error.find(marker) {
            let tail = &error[at + marker.len()..];
            let end = tail
                .find(|c: char| !(c.is_ascii_digit() || c == ':'))
                .unwrap_or(tail.len());
            error = format!("{}L:C{}", &error[..at + marker.len()], &tail[end..]);
        }
        body["error"] = json!(error);
    }
    json!({ "status": status, "body": body })
}

const ANSWERS_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/panic_answers.json");

#[test]
fn a_panicking_request_fails_alone_and_the_isolates_book_keeps_counting() {
    for seed in 0..20 {
        let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(seed));
        let book = ChaosBook::new();
        // One request in ten panics.
        let panics: Vec<bool> = (0..40).map(|n| n % 10 == 3).collect();
        let answers = serve_panics(&ctx, &book, &panics);
        let mut requests = Vec::new();
        for (&panic, (status, body)) in panics.iter().zip(&answers) {
            if panic {
                assert_eq!(*status, 500, "seed {seed}: {body}");
                assert_eq!(body["status"], "failed", "seed {seed}: {body}");
                assert_eq!(body["cause"], "panicked", "seed {seed}: {body}");
                let error = body["error"].as_str().expect("an error message");
                assert!(error.contains(PANIC_MESSAGE), "seed {seed}: {error}");
                assert!(
                    error.contains("spawned at worker/src/dev/chaos.rs:"),
                    "the panic names the subtask's spawn location: {error}"
                );
            } else {
                assert_eq!(*status, 200, "seed {seed}: {body}");
                let (request, value) = (body["request"].as_u64(), body["value"].as_u64());
                let (request, value) = (request.expect("request"), value.expect("value"));
                assert_eq!(value, 3 * request + 1, "seed {seed}: {body}");
                requests.push(request);
            }
        }
        // Every request, the panicking ones too, took a number of the same book: its state
        // survived every panic.
        requests.sort_unstable();
        requests.dedup();
        assert_eq!(requests.len(), 36, "seed {seed}");
        let counts = book.counts();
        assert_eq!(counts.served, 40, "seed {seed}");
        assert_eq!(counts.jobs_registered, 40, "seed {seed}");
        assert_eq!(
            counts.jobs_settled, 40,
            "seed {seed}: the panicking requests' jobs ran too"
        );
        // And the next requests are served as before.
        let next = serve_panics(&ctx, &book, &[false, false]);
        assert!(
            next.iter().all(|(status, _)| *status == 200),
            "seed {seed}: {next:?}"
        );
        assert_eq!(book.counts().served, 42);
    }
}

#[test]
fn the_answers_are_the_ones_workerd_gives() {
    let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(7));
    let book = ChaosBook::new();
    let answers: Vec<Value> = serve_panics(&ctx, &book, &[false, true])
        .iter()
        .map(normalize)
        .collect();
    let answers = json!(answers);
    if std::env::var_os("UPDATE_PANIC_ANSWERS").is_some() {
        let text = serde_json::to_string_pretty(&answers).expect("JSON") + "\n";
        std::fs::write(ANSWERS_FILE, text).expect("write the answers file");
    }
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(ANSWERS_FILE).expect("worker/tests/panic_answers.json"),
    )
    .expect("JSON");
    assert_eq!(
        answers, expected,
        "the simulated answers differ from {ANSWERS_FILE}"
    );
}

#[test]
fn normalizing_keeps_what_matters() {
    let ok = (200, json!({ "status": "ok", "request": 4, "value": 13 }));
    assert_eq!(normalize(&ok)["body"]["value"], "3N+1");
    let wrong = (200, json!({ "status": "ok", "request": 4, "value": 12 }));
    assert_eq!(
        normalize(&wrong)["body"]["value"],
        12,
        "a wrong value is kept"
    );
    let failed = (
        500,
        json!({ "error": "task#12 (session#3) spawned at a.rs:1:2 panicked: task#14 (session#3) spawned at worker/src/dev/chaos.rs:130:14 panicked: boom", "session": "session#3" }),
    );
    assert_eq!(
        normalize(&failed)["body"],
        json!({ "error": "task#N (session#N) spawned at worker/src/dev/chaos.rs:L:C panicked: boom", "session": "session#N" })
    );
}

#[test]
fn a_request_that_wakes_itself_forever_lets_the_others_through_and_stops_when_asked() {
    for seed in 0..10 {
        let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(seed));
        let book = ChaosBook::new();
        let (runtime, spin_book) = (ctx.runtime(), book.clone());
        let spinner =
            ctx.serve(async move { spin(&runtime, &spin_book, Duration::from_secs(3600)).await });
        let answers = serve_panics(&ctx, &book, &[false, true, false]);
        let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
        assert_eq!(statuses, [200, 500, 200], "seed {seed}");
        assert_eq!(book.counts().spinning, 1, "seed {seed}: still spinning");
        assert_eq!(book.stop_spinning(), 1);
        let answer = ctx.block(spinner).expect("the spinner does not panic");
        assert!(answer.stopped, "seed {seed}: {answer:?}");
        assert!(answer.polls > 0, "seed {seed}: {answer:?}");
        assert_eq!(book.counts().spinning, 0);
    }
}
