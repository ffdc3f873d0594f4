//! Fuzzing of the seed harness's text inputs (issue 20): `STRATEGY=` (and the strategy's text
//! form everywhere), replay files read by `REPLAY=<file>`, and `SEED=` / `ITERATIONS=`. Whatever
//! the text, the harness parses it into a clear error or a run that ends: no abort (an
//! allocation sized by the input), no hang, no other panic. Property tests with proptest, a
//! fixed seed and a bounded number of cases, so the run is the same every time and short.
//!
//! The replay file and the variables reach the harness through the environment, as they do for
//! a user, so this binary holds a single test: it is then the only thread that reads or writes
//! the environment while it runs.

use futures::future::join_all;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use scheduler::{
    MAX_PCT_DEPTH, MAX_PCT_STEPS, Strategy as Schedule, TestScheduler, TestSchedulerConfig,
    run_seeds,
};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// Cases per property: enough to reach every branch of the parsers, a few seconds in all.
const CASES: u32 = 512;

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        rng_seed: RngSeed::Fixed(20),
        failure_persistence: None,
        ..Config::default()
    })
}

/// The text of a panic, or `""`.
fn text(payload: &(dyn std::any::Any + Send)) -> String {
    native_tests::support::panic_text(payload)
}

/// A small workload whose schedule has choices: three tasks joined.
fn workload(seed: u64) {
    let test = TestScheduler::with_seed(seed);
    let tasks: Vec<_> = (0..3).map(|i| test.spawn(async move { i })).collect();
    assert_eq!(test.block(join_all(tasks)), [0, 1, 2]);
}

/// Sets (or, for `None`, removes) an environment variable.
fn set(name: &str, value: Option<&str>) {
    // SAFETY: this binary's only test is the only thread that reads or writes the environment
    // while it runs (see the module docs); libtest's main thread only waits for it.
    unsafe {
        match value {
            Some(value) => std::env::set_var(name, value),
            None => std::env::remove_var(name),
        }
    }
}

/// A number as a replay file or a variable might hold one: small, at a bound, huge, negative,
/// or not a number at all.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..40).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        Just(u64::MAX.to_string()),
        Just("18446744073709551616".to_string()),
        Just("1000000000000".to_string()),
        Just("-1".to_string()),
        Just(String::new()),
        "[0-9a-z*.:+ -]{0,12}",
    ]
}

/// A strategy's text: well-formed or nearly so, with any numbers.
fn strategy_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("random".to_string()),
        Just("exhaustive".to_string()),
        Just("dfs".to_string()),
        number().prop_map(|depth| format!("pct:{depth}")),
        (number(), number()).prop_map(|(depth, steps)| format!("pct:{depth}:{steps}")),
        (1..=MAX_PCT_DEPTH, 1..=MAX_PCT_STEPS)
            .prop_map(|(depth, steps)| format!("pct:{depth}:{steps}")),
        "[a-z:0-9]{0,16}",
        any::<String>(),
    ]
}

/// One line of a replay file: every kind the format has, with any values, and junk.
fn replay_line() -> impl Strategy<Value = String> {
    let run = (number(), prop::option::of(number())).prop_map(|(task, count)| match count {
        Some(count) => format!("{task}*{count}"),
        None => task,
    });
    prop_oneof![
        Just("scheduler".to_string()),
        strategy_text().prop_map(|text| format!("strategy {text}")),
        number().prop_map(|seed| format!("seed {seed}")),
        number().prop_map(|call| format!("call {call}")),
        Just("test fuzz_inputs".to_string()),
        "[a-z_:]{0,20}".prop_map(|name| format!("test {name}")),
        prop::collection::vec(run, 0..6).prop_map(|runs| format!("choices {}", runs.join(" "))),
        (
            number(),
            number(),
            number(),
            prop::collection::vec(number(), 0..5)
        )
            .prop_map(|(task, start, end, values)| format!(
                "draw {task} {start}..{end} {}",
                values.join(" ")
            )),
        Just("# a comment".to_string()),
        any::<String>(),
    ]
}

/// A replay file's text: a header (mostly right) and lines.
fn replay_text() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        8 => Just("scheduler-replay 1".to_string()),
        1 => Just("scheduler-replay 2".to_string()),
        1 => any::<String>(),
    ];
    (header, prop::collection::vec(replay_line(), 0..12))
        .prop_map(|(header, lines)| format!("{header}\n{}\n", lines.join("\n")))
}

/// Whether a harness panic is one of its clear messages about the input (or the replayed
/// schedule not fitting this workload, which a fuzzed file rarely does).
fn is_clear(message: &str, file: &Path) -> bool {
    let origin = format!("REPLAY={}", file.display());
    message.starts_with(&format!("{origin}:"))
        || message.starts_with(&format!("{origin}: "))
        || message.contains("REPLAY diverged at tick")
        || message.contains("non-determinism: the exhaustive search")
}

#[test]
fn the_harness_turns_any_input_text_into_a_clear_error_or_a_run() {
    for name in [
        "SEED",
        "ITERATIONS",
        "STRATEGY",
        "REPLAY",
        "CHECK_DETERMINISM",
        "TIMELINE",
    ] {
        set(name, None);
    }

    // The strategy's text form: an error that says what is wrong, or a strategy that runs
    // and reads back as itself.
    runner()
        .run(&strategy_text(), |text| {
            match text.parse::<Schedule>() {
                Ok(strategy) => {
                    prop_assert_eq!(strategy.to_string().parse::<Schedule>(), Ok(strategy));
                    let config = TestSchedulerConfig {
                        strategy,
                        ..TestSchedulerConfig::with_seed(1)
                    };
                    let test = TestScheduler::new(config);
                    let tasks: Vec<_> = (0..3).map(|i| test.spawn(async move { i })).collect();
                    prop_assert_eq!(test.block(join_all(tasks)), vec![0, 1, 2]);
                }
                Err(error) => {
                    let error = error.to_string();
                    prop_assert!(error.len() < 400, "{}", error);
                    prop_assert!(
                        error.contains("is not a strategy") || error.contains("PCT "),
                        "{}",
                        error
                    );
                }
            }
            Ok(())
        })
        .unwrap();

    // Any PCT parameters built in code: a clear panic at `TestScheduler::new`, or a run.
    runner()
        .run(&(any::<u32>(), any::<u64>()), |(depth, steps)| {
            let strategy = Schedule::Pct { depth, steps };
            let config = TestSchedulerConfig {
                strategy,
                ..TestSchedulerConfig::with_seed(2)
            };
            let valid =
                (1..=MAX_PCT_DEPTH).contains(&depth) && (1..=MAX_PCT_STEPS).contains(&steps);
            match catch_unwind(|| drop(TestScheduler::new(config))) {
                Ok(()) => prop_assert!(valid),
                Err(payload) => {
                    let message = text(&*payload);
                    prop_assert!(!valid, "{}", message);
                    prop_assert!(message.starts_with("TestSchedulerConfig::strategy pct:"));
                }
            }
            Ok(())
        })
        .unwrap();

    // Replay files: parsed into a clear `REPLAY=<file>:<line>: ...` error, or replayed.
    let file = std::env::temp_dir().join(format!("fuzz-inputs-{}.replay", std::process::id()));
    runner()
        .run(&replay_text(), |replay| {
            std::fs::write(&file, &replay).unwrap();
            set("REPLAY", Some(file.to_str().unwrap()));
            let outcome = catch_unwind(AssertUnwindSafe(|| run_seeds(workload)));
            set("REPLAY", None);
            if let Err(payload) = outcome {
                let message = text(&*payload);
                prop_assert!(
                    is_clear(&message, &file),
                    "{}\n--- file:\n{}",
                    message,
                    replay
                );
                prop_assert!(message.len() < 2_000, "{}", message);
            }
            Ok(())
        })
        .unwrap();
    let _ = std::fs::remove_file(&file);

    // SEED= and ITERATIONS=: a number, or a clear error naming the variable.
    for name in ["SEED", "ITERATIONS"] {
        runner()
            .run(&number(), |value| {
                // A huge ITERATIONS runs that many schedules, as asked: not run here.
                if name == "ITERATIONS" && value.trim().parse::<u64>().is_ok_and(|n| n > 50) {
                    return Ok(());
                }
                set(name, Some(&value));
                let outcome = catch_unwind(AssertUnwindSafe(|| run_seeds(workload)));
                set(name, None);
                match (value.trim().parse::<u64>(), outcome) {
                    (Ok(_), Ok(())) => {}
                    (Ok(0), Err(payload)) if name == "ITERATIONS" => {
                        prop_assert!(text(&*payload).contains("ITERATIONS=0 would run no schedule"))
                    }
                    (Ok(_), Err(payload)) => {
                        prop_assert!(false, "{}={:?}: {}", name, value, text(&*payload))
                    }
                    (Err(_), Ok(())) => prop_assert!(false, "{}={:?} was accepted", name, value),
                    (Err(_), Err(payload)) => {
                        let message = text(&*payload);
                        prop_assert!(
                            message.contains(&format!("{name}="))
                                && message.contains("is not a non-negative integer"),
                            "{}",
                            message
                        );
                    }
                }
                Ok(())
            })
            .unwrap();
    }
}
