//! Replay files, end to end: a failing seed writes its schedule under the target directory and
//! prints one command; `REPLAY=<file>` reruns exactly that schedule (the same failure, the same
//! interleaving), also after the test started drawing more random numbers; a file that no
//! longer matches the code says where it diverged. Each scenario runs in a child process (this
//! binary again), so the harness's environment variables can be set for it.

use futures::future::join_all;
use native_tests::child::{self, ChildOutcome};
use scheduler::TestScheduler;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The README's lost update, failing on the first seed that exposes it, with the interleaving
/// in the panic message. `EXTRA_DRAWS=n` makes the body draw `n` more random numbers first
/// (code unrelated to the bug changing the number of draws).
fn lost_update() {
    let extra: u64 = std::env::var("EXTRA_DRAWS").map_or(0, |n| n.parse().unwrap());
    TestScheduler::many(500, async |test| {
        for _ in 0..extra {
            test.random_range(0..1_000_000);
        }
        let balance = Arc::new(Mutex::new(100));
        let steps = Arc::new(Mutex::new(Vec::new()));
        let withdrawals: Vec<_> = [("alice", 30), ("bob", 50)]
            .into_iter()
            .map(|(name, amount)| {
                let (balance, steps) = (balance.clone(), steps.clone());
                let delay = test.simulate_random_delay();
                test.spawn(async move {
                    let seen = *balance.lock().unwrap();
                    steps.lock().unwrap().push(format!("{name} reads {seen}"));
                    delay.await;
                    *balance.lock().unwrap() = seen - amount;
                    steps
                        .lock()
                        .unwrap()
                        .push(format!("{name} writes {}", seen - amount));
                })
            })
            .collect();
        join_all(withdrawals).await;
        let balance = *balance.lock().unwrap();
        assert_eq!(balance, 20, "lost update: {:?}", steps.lock().unwrap());
    });
}

fn run(test: &str, env: &[(&str, &str)]) -> Option<ChildOutcome> {
    let mut env = env.to_vec();
    for name in [
        "SEED",
        "ITERATIONS",
        "STRATEGY",
        "REPLAY",
        "CHECK_DETERMINISM",
    ] {
        if !env.iter().any(|(set, _)| *set == name) {
            env.push((name, ""));
        }
    }
    child::run_with_env(test, Duration::from_secs(60), &env, lost_update)
}

/// The `failing seed` line, the replay file and the panic message of a failed child.
fn failure(outcome: &ChildOutcome) -> (String, PathBuf, String) {
    assert!(
        !outcome.status.unwrap().success(),
        "expected a failure:\n{}",
        outcome.stderr
    );
    let line = |text: &str| {
        outcome
            .stderr
            .lines()
            .find(|line| line.contains(text))
            .unwrap_or_else(|| panic!("no {text:?} line in:\n{}", outcome.stderr))
            .to_string()
    };
    let seed = line("failing seed: ");
    let command = line("replay with: REPLAY=");
    let path = command["replay with: REPLAY=".len()..]
        .split(' ')
        .next()
        .unwrap();
    assert!(
        command.contains(" cargo test -p native-tests --test replay -- "),
        "{command}"
    );
    (seed, PathBuf::from(path), line("lost update: "))
}

fn replay_reruns_the_failing_schedule(test: &str, strategy: &str) {
    let Some(first) = run(test, &[("STRATEGY", strategy)]) else {
        return;
    };
    let (seed, path, interleaving) = failure(&first);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.len() < 1_000, "small: {} bytes\n{text}", text.len());
    assert!(text.contains(&format!("\nstrategy {strategy}")), "{text}");
    eprintln!("{seed}\n{interleaving}\n--- {}\n{text}", path.display());

    let file = path.to_str().unwrap();
    let again = run(test, &[("REPLAY", file)]).unwrap();
    assert_eq!(
        failure(&again),
        (seed.clone(), path.clone(), interleaving.clone())
    );

    // Unrelated code now draws more random numbers: a seed alone would give another schedule;
    // the file's recorded choices and values still give this one.
    let drifted = run(test, &[("REPLAY", file), ("EXTRA_DRAWS", "3")]).unwrap();
    assert_eq!(failure(&drifted), (seed, path, interleaving));
}

#[test]
fn replay_reruns_the_failing_random_schedule() {
    replay_reruns_the_failing_schedule("replay_reruns_the_failing_random_schedule", "random");
}

#[test]
fn replay_reruns_the_failing_pct_schedule() {
    replay_reruns_the_failing_schedule("replay_reruns_the_failing_pct_schedule", "pct:2:10");
}

#[test]
fn a_replay_file_that_no_longer_fits_the_code_says_where_it_diverged() {
    let test = "a_replay_file_that_no_longer_fits_the_code_says_where_it_diverged";
    let path = std::env::temp_dir().join(format!("{test}-{}.replay", std::process::id()));
    // Task 99 does not exist in this test: the first choice cannot be followed.
    std::fs::write(
        &path,
        format!(
            "scheduler-replay 1\ntest {test}\nstrategy random\nseed 0\nscheduler\nchoices 99\n"
        ),
    )
    .unwrap();
    let Some(outcome) = run(test, &[("REPLAY", path.to_str().unwrap())]) else {
        return;
    };
    let _ = std::fs::remove_file(&path);
    assert!(!outcome.status.unwrap().success());
    assert!(
        outcome.stderr.contains(
            "REPLAY diverged at tick 0 (choice 0 of the file): the recorded schedule runs \
             task#99 next, but it is not ready; ready: task#1, task#2."
        ),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_replay_file_of_another_test_is_ignored() {
    let test = "a_replay_file_of_another_test_is_ignored";
    let path = std::env::temp_dir().join(format!("{test}-{}.replay", std::process::id()));
    std::fs::write(
        &path,
        "scheduler-replay 1\ntest some::other_test\nstrategy random\nseed 7\n",
    )
    .unwrap();
    let Some(outcome) = run(test, &[("REPLAY", path.to_str().unwrap())]) else {
        return;
    };
    let _ = std::fs::remove_file(&path);
    assert!(
        outcome.stderr.contains("is a schedule of some::other_test"),
        "{}",
        outcome.stderr
    );
    // It ran its own seeds instead (and found the lost update from seed 0 on).
    assert!(
        outcome.stderr.contains("failing seed: "),
        "{}",
        outcome.stderr
    );
}

/// A clean environment for the harness in a child, plus `env`.
fn harness_env<'a>(env: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = env.to_vec();
    for name in [
        "SEED",
        "ITERATIONS",
        "STRATEGY",
        "REPLAY",
        "CHECK_DETERMINISM",
    ] {
        if !env.iter().any(|(set, _)| *set == name) {
            env.push((name, ""));
        }
    }
    env
}

/// Two seed loops in one test, the first passing (with a schedule of its own: three tasks), the
/// second failing (the lost update).
fn two_seed_loops() {
    TestScheduler::many(20, async |test| {
        let tasks: Vec<_> = (0..3).map(|i| test.spawn(async move { i })).collect();
        assert_eq!(join_all(tasks).await, [0, 1, 2]);
    });
    lost_update();
}

/// Issue 20, defect 8: a test with two seed loops whose second fails printed a replay command
/// that then failed in the first, passing loop ("REPLAY diverged at tick 0"). The file records
/// the harness call that failed (`call 2`), and only that call replays it. The file's name
/// carries the package too (two packages may have tests of one name).
#[test]
fn a_replay_file_replays_only_the_seed_loop_that_failed() {
    let test = "a_replay_file_replays_only_the_seed_loop_that_failed";
    let Some(first) = child::run_with_env(
        test,
        Duration::from_secs(60),
        &harness_env(&[]),
        two_seed_loops,
    ) else {
        return;
    };
    let (seed, path, interleaving) = failure(&first);
    let text = std::fs::read_to_string(&path).unwrap();
    let env = harness_env(&[("REPLAY", path.to_str().unwrap())]);
    let again = child::run_with_env(test, Duration::from_secs(60), &env, two_seed_loops).unwrap();
    assert!(
        !again.stderr.contains("REPLAY diverged"),
        "the first loop replayed the second's schedule:\n{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("harness call 2")
            && again.stderr.contains("call 1 runs its own seeds"),
        "{}",
        again.stderr
    );
    assert_eq!(failure(&again), (seed, path.clone(), interleaving));
    assert!(text.contains("\ncall 2\n"), "{text}");
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("native-tests-replay-a_replay_file_replays_only"),
        "{name}"
    );
}

/// `many(0, ..)` runs nothing and returns no output (it panicked "ITERATIONS must be at least
/// 1" with `ITERATIONS` unset); `ITERATIONS=0` is a mistake, said clearly.
#[test]
fn zero_iterations_run_nothing_and_iterations_0_is_a_clear_error() {
    let test = "zero_iterations_run_nothing_and_iterations_0_is_a_clear_error";
    let scenario = || {
        let outputs = TestScheduler::many(0, async |_| panic!("no schedule runs"));
        assert!(outputs.is_empty());
        let mut ran = false;
        scheduler::run_seeds(|_| ran = true);
        assert!(ran, "run_seeds runs its default seeds");
    };
    let Some(unset) =
        child::run_with_env(test, Duration::from_secs(60), &harness_env(&[]), scenario)
    else {
        return;
    };
    unset.assert_succeeded();
    let env = harness_env(&[("ITERATIONS", "0")]);
    let zero = child::run_with_env(test, Duration::from_secs(60), &env, scenario).unwrap();
    assert!(
        zero.stderr.contains("ITERATIONS=0 would run no schedule"),
        "{}",
        zero.stderr
    );
}

/// The failing body of [`an_ignored_tests_replay_command_runs_it`], run only in its child.
#[test]
#[ignore = "a fixture: its parent runs it in a child process with --ignored"]
fn ignored_failing_seed_loop() {
    if std::env::var("IGNORED_FIXTURE").is_ok() {
        lost_update();
    }
}

/// Issue 20: the printed replay command of an `#[ignore]`d test lacked `--ignored`, so it ran
/// nothing. It now carries the flag the test binary was run with.
#[test]
fn an_ignored_tests_replay_command_runs_it() {
    let env = harness_env(&[("IGNORED_FIXTURE", "1")]);
    let outcome = child::run_with_args(
        "ignored_failing_seed_loop",
        Duration::from_secs(60),
        &env,
        &["--ignored"],
        || {},
    )
    .expect("the parent");
    let (_, path, _) = failure(&outcome);
    let command = format!(
        "REPLAY={} cargo test -p native-tests --test replay -- ignored_failing_seed_loop --exact --ignored",
        path.display()
    );
    assert!(outcome.stderr.contains(&command), "{}", outcome.stderr);
}

/// Issue 20, defect 6: a corrupted replay file (`choices 1*1000000000000`) made the harness
/// allocate 8 TB and abort. It is a clear error naming the file and the line.
#[test]
fn a_corrupted_replay_file_is_a_clear_error_not_an_abort() {
    let test = "a_corrupted_replay_file_is_a_clear_error_not_an_abort";
    let path = std::env::temp_dir().join(format!("{test}-{}.replay", std::process::id()));
    std::fs::write(
        &path,
        format!("scheduler-replay 1\ntest {test}\nstrategy random\nseed 0\nscheduler\nchoices 1*1000000000000\n"),
    )
    .unwrap();
    let env = harness_env(&[("REPLAY", path.to_str().unwrap())]);
    let Some(outcome) = child::run_with_env(test, Duration::from_secs(60), &env, lost_update)
    else {
        return;
    };
    let _ = std::fs::remove_file(&path);
    assert!(
        outcome
            .status
            .is_some_and(|status| status.code() == Some(101)),
        "a test failure, not an abort: {:?}\n{}",
        outcome.status,
        outcome.stderr
    );
    let expected = format!(
        "REPLAY={}:6: a run of 1000000000000 choices makes more than a replay file holds",
        path.display()
    );
    assert!(outcome.stderr.contains(&expected), "{}", outcome.stderr);
}

/// Issue 20, defect 7: `STRATEGY=pct:200000:200000` was still inside `TestScheduler::new` after
/// 10 s, and `pct:4294967295:18446744073709551615` aborted allocating 68 GB. Both are clear
/// errors now.
#[test]
fn out_of_range_pct_strategies_are_clear_errors_not_hangs_or_aborts() {
    let test = "out_of_range_pct_strategies_are_clear_errors_not_hangs_or_aborts";
    for strategy in ["pct:200000:200000", "pct:4294967295:18446744073709551615"] {
        let env = harness_env(&[("STRATEGY", strategy)]);
        let Some(outcome) = child::run_with_env(test, Duration::from_secs(20), &env, lost_update)
        else {
            return;
        };
        assert!(
            outcome
                .status
                .is_some_and(|status| status.code() == Some(101)),
            "{strategy}: a test failure, not a hang or an abort: {:?}\n{}",
            outcome.status,
            outcome.stderr
        );
        assert!(
            outcome.stderr.contains(&format!(
                "STRATEGY=\"{strategy}\": \"{strategy}\": PCT depth"
            )),
            "{}",
            outcome.stderr
        );
    }
    assert!("pct:200000:200000".parse::<scheduler::Strategy>().is_err());
}
