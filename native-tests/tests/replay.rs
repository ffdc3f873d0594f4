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
