//! The handler natively, over many seeds (`ITERATIONS=…`, `SEED=…` replays one): concurrent
//! requests in one simulated isolate, each answered at once, each `wait_until` job landing
//! exactly once, each session ending with nothing left running.

use scheduler::cloud::{SimulatedExecutionContext, WaitUntilOutcome};
use scheduler::{TestScheduler, run_seeds};
use std::time::Duration;
use worker_template::{FOLLOW_UP, Greetings, greeted, hello};

#[test]
fn each_greeting_is_answered_at_once_then_recorded_once_by_its_wait_until_job() {
    run_seeds(|seed| {
        let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(seed));
        let greetings = Greetings::default();
        let names: [&'static str; 5] = ["ada", "grace", "ada", "alan", "ada"];
        let requests: Vec<_> = names
            .into_iter()
            .map(|name| {
                let (handler_ctx, runtime, greetings) =
                    (ctx.clone(), ctx.runtime(), greetings.clone());
                ctx.serve(async move { hello(&handler_ctx, runtime, &greetings, name) })
            })
            .collect();
        let sessions: Vec<_> = requests.iter().map(|request| request.session()).collect();
        for (request, name) in requests.into_iter().zip(names) {
            let (status, body) = ctx.block(request).expect("the handler does not panic");
            assert_eq!(status, 202, "seed {seed}: {body}");
            assert_eq!(body["greeting"], format!("hello, {name}"), "seed {seed}");
        }
        // Every answer came before any follow-up work ran.
        assert_eq!(ctx.elapsed(), Duration::ZERO, "seed {seed}");
        assert_eq!(greeted(&greetings, "ada").1["greeted"], 0, "seed {seed}");
        for session in sessions {
            let jobs = ctx.wait_on_execution_context(session);
            assert_eq!(jobs.len(), 1, "seed {seed}: {jobs:?}");
            assert_eq!(jobs[0].outcome, WaitUntilOutcome::Completed, "seed {seed}");
            ctx.validate_session_cleanup(session)
                .unwrap_or_else(|error| panic!("seed {seed}: {error}"));
        }
        for (name, count) in [("ada", 3), ("grace", 1), ("alan", 1), ("bob", 0)] {
            assert_eq!(
                greeted(&greetings, name),
                (200, serde_json::json!({ "name": name, "greeted": count }))
            );
        }
        // The jobs ran concurrently: one follow-up's worth of virtual time in all.
        assert_eq!(ctx.elapsed(), FOLLOW_UP, "seed {seed}");
    });
}

#[test]
fn a_bad_name_is_a_400_and_registers_no_work() {
    let ctx = SimulatedExecutionContext::new(TestScheduler::with_seed(0));
    let greetings = Greetings::default();
    for name in ["", "Ada", "a b", "a/b", &"a".repeat(33)] {
        let request = {
            let (handler_ctx, runtime, greetings) = (ctx.clone(), ctx.runtime(), greetings.clone());
            let name = name.to_string();
            ctx.serve(async move { hello(&handler_ctx, runtime, &greetings, &name) })
        };
        let session = request.session();
        let (status, body) = ctx.block(request).unwrap();
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some("name")),
            "{name:?}: {body}"
        );
        assert!(
            ctx.wait_on_execution_context(session).is_empty(),
            "{name:?}"
        );
        assert_eq!(greeted(&greetings, name).0, 400, "{name:?}");
    }
}
