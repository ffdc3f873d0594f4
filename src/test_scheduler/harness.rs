//! The seed harness: [`TestScheduler::many`] / [`many_with`](TestScheduler::many_with) (an async
//! test body, one handle) and [`run_seeds`] (a plain closure per seed) run a test over the
//! schedules of a strategy, check determinism on request, and on a failure write a replay file
//! and print the one command that reruns exactly that schedule.
//!
//! Environment: `SEED=n` (only that seed), `ITERATIONS=n` (how many schedules),
//! `STRATEGY=random|pct[:d[:steps]]|exhaustive`, `REPLAY=<file>` (rerun a recorded schedule),
//! `CHECK_DETERMINISM=1` (run every seed twice and compare the traces).

use super::check;
use super::config::TestSchedulerConfig;
use super::context::{self, Plan, Report};
use super::handle::TestScheduler;
use super::harness_env::{Env, cargo_command, shell_word, test_name};
use super::quiet;
use super::replay_file::{self, ReplayFile};
use super::schedules::Schedules;
use super::strategy::Strategy;
use super::timeline_json::{self, Process};
use crate::task::panic::panic_message;
use std::panic::resume_unwind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl TestScheduler {
    /// Runs the async test body `test` once per seed, each time on a fresh `TestScheduler` of
    /// that seed, and returns the outputs in seed order. Seeds are `0..iterations`, or
    /// `0..ITERATIONS` when that environment variable is set, or only `SEED` when that is set.
    /// When a seed fails, runs it once more, quietly, recording its choices and its timeline (a
    /// passing seed records neither), writes them to a replay file and a timeline file under
    /// the target directory, prints the seed and the exact command that reruns it, then
    /// re-raises the first run's panic.
    /// `STRATEGY=random|pct[:depth[:steps]]|exhaustive` picks the strategy, `REPLAY=<file>`
    /// reruns a recorded schedule, `CHECK_DETERMINISM=1` runs every seed twice and fails where
    /// the two traces differ.
    ///
    /// The body runs on the test thread, which is the main thread: it may spawn foreground and
    /// background tasks and await them; the scheduler runs everything else meanwhile.
    ///
    /// ```
    /// use scheduler::TestScheduler;
    /// TestScheduler::many(10, async |test| {
    ///     let task = test.background().spawn(async { 1 + 1 });
    ///     assert_eq!(task.await, 2);
    /// });
    /// ```
    pub fn many<R>(iterations: u64, test: impl AsyncFnMut(Arc<TestScheduler>) -> R) -> Vec<R> {
        Self::many_with(TestSchedulerConfig::default(), iterations, test)
    }

    /// [`many`](Self::many) with every scheduler made from `config` (its seed replaced by each
    /// schedule's): its [`strategy`](TestSchedulerConfig::strategy) picks the schedules (the
    /// exhaustive search runs at most `iterations` and stops early once it ran them all), and
    /// [`check_determinism`](TestSchedulerConfig::check_determinism) runs each one twice.
    pub fn many_with<R>(
        config: TestSchedulerConfig,
        iterations: u64,
        mut test: impl AsyncFnMut(Arc<TestScheduler>) -> R,
    ) -> Vec<R> {
        let check = config.check_determinism;
        run(iterations, check, |seed| {
            let scheduler = TestScheduler::new(TestSchedulerConfig {
                seed,
                ..config.clone()
            });
            let output = scheduler.block(test(scheduler.clone()));
            drop(scheduler);
            output
        })
    }
}

/// How many seeds [`run_seeds`] tries when `ITERATIONS` is not set.
pub const DEFAULT_ITERATIONS: u64 = 100;

/// Runs `test` once per seed: seeds `0..ITERATIONS` (environment variable, default 100), or only
/// `SEED` when that is set. When a seed fails, runs it once more (quietly, recording), writes a
/// replay file and prints the seed and the exact command that reruns it, then re-raises the
/// panic: so a failing seed's body runs twice. The environment of
/// [`TestScheduler::many`] (`STRATEGY`, `REPLAY`, `CHECK_DETERMINISM`) applies to every
/// `TestScheduler` that `test` creates on this thread.
///
/// ```
/// use scheduler::{TestScheduler, run_seeds};
/// run_seeds(|seed| {
///     let test = TestScheduler::with_seed(seed);
///     let task = test.spawn(async { 1 + 1 });
///     assert_eq!(test.block(task), 2);
/// });
/// ```
pub fn run_seeds(test: impl FnMut(u64)) {
    run(DEFAULT_ITERATIONS, false, test);
}

/// Runs `body` over the schedules the environment and the schedulers' strategy select.
fn run<R>(iterations: u64, check: bool, mut body: impl FnMut(u64) -> R) -> Vec<R> {
    let test = test_name();
    let env = Env::read(test.as_deref());
    let check = check || env.check_determinism;
    let replay = env.replay.as_ref();
    let (mut schedules, limit) = match (replay, env.seed) {
        (Some((_, file)), _) => (Schedules::new(file.seed), 1),
        (None, Some(seed)) => (Schedules::new(seed), 1),
        (None, None) => (Schedules::new(0), env.iterations.unwrap_or(iterations)),
    };
    assert!(limit > 0, "ITERATIONS must be at least 1");
    let mut outputs = Vec::new();
    while schedules.number < limit {
        // A passing schedule records only what the determinism check compares: recording its
        // choices and its timeline would cost every seed (the timeline ~40% of the scheduler's
        // instructions). A failing one is run again, recording both (a schedule replays
        // exactly), for the replay file and the timeline file.
        let plan = Plan {
            strategy: replay.map(|(_, file)| file.strategy).or(env.strategy),
            prefix: schedules.prefix.clone(),
            replay: replay.map_or_else(Vec::new, |(_, file)| file.schedulers.clone()),
            record: false,
            audit: check,
            timeline: false,
        };
        let seed = schedules.seed;
        let (outcome, reports) = context::within(plan.clone(), || body(seed));
        let output = match outcome {
            Ok(output) => output,
            Err(panic) => {
                let message = panic_message(&panic);
                let recording = Plan {
                    record: true,
                    timeline: env.timeline,
                    ..plan.clone()
                };
                let (again, recorded) = quiet::rerun(|| context::within(recording, || body(seed)));
                let (reports, note) = match again {
                    Err(_) => (recorded, ""),
                    Ok(_) => (reports, NOT_REPEATED),
                };
                let hint = failure_hint(&schedules, &env, &reports, test.as_deref(), message);
                eprintln!("\n{hint}{note}\n");
                resume_unwind(panic);
            }
        };
        if check {
            let (again, second) = context::within(plan, || body(seed));
            let what = describe(&schedules, &reports);
            let difference = check::compare(&what, &audits(&reports), &audits(&second));
            let rerun = rerun_command(&schedules, &env, &reports);
            match (again, difference) {
                (Ok(_), None) => {}
                (Ok(_), Some(difference)) => panic!("{difference}\nrerun with: {rerun}"),
                (Err(_), difference) => panic!(
                    "non-determinism: {what} passed the first time and failed the second \
                     (CHECK_DETERMINISM; its panic is printed above).\n{}rerun with: {rerun}",
                    difference.map(|text| text + "\n").unwrap_or_default()
                ),
            }
        }
        outputs.push(output);
        if !schedules.advance(&reports) {
            break; // the exhaustive search ran every schedule
        }
    }
    outputs
}

/// Printed when a failing schedule passed when it was run again to record it.
const NOT_REPEATED: &str = "\nnote: this schedule passed when it was run again to record its \
    choices and timeline, so the body also depends on something outside the scheduler (state \
    kept between seeds, the wall clock, the file system): the replay file may not reproduce it";

fn audits(reports: &[Report]) -> Vec<Vec<super::trace::TraceEvent>> {
    reports.iter().map(|report| report.audit.clone()).collect()
}

/// The strategy the schedule ran with (its first scheduler's; else the environment's).
fn strategy_of(env: &Env, reports: &[Report]) -> Strategy {
    reports
        .first()
        .map(|report| report.strategy)
        .or(env.strategy)
        .unwrap_or_default()
}

/// `seed 17`, `seed 17 (strategy pct:2:20)`, `schedule 41 of the exhaustive search (seed 0)`.
fn describe(schedules: &Schedules, reports: &[Report]) -> String {
    let (kind, which) = label(schedules, reports);
    format!("{kind} {which}")
}

/// `("seed", "17 (strategy pct:2:20)")`: what ran, and which one.
fn label(schedules: &Schedules, reports: &[Report]) -> (&'static str, String) {
    match reports.first().map(|report| report.strategy) {
        Some(Strategy::Exhaustive) => (
            "schedule",
            format!(
                "{} of the exhaustive search (seed {})",
                schedules.number, schedules.seed
            ),
        ),
        Some(strategy) if strategy != Strategy::Random => {
            ("seed", format!("{} (strategy {strategy})", schedules.seed))
        }
        _ => ("seed", schedules.seed.to_string()),
    }
}

/// `CHECK_DETERMINISM=1 [STRATEGY=..] SEED=n cargo test ...`.
fn rerun_command(schedules: &Schedules, env: &Env, reports: &[Report]) -> String {
    let strategy = strategy_of(env, reports);
    let strategy = match strategy {
        Strategy::Random => String::new(),
        strategy => format!("STRATEGY={strategy} "),
    };
    format!(
        "CHECK_DETERMINISM=1 {strategy}SEED={} {}",
        schedules.seed,
        cargo_command()
    )
}

/// Writes the failing schedule's replay file (unless it is being replayed) and says how to
/// rerun it: `failing seed: 17` then `replay with: REPLAY=<file> cargo test ...`.
fn failure_hint(
    schedules: &Schedules,
    env: &Env,
    reports: &[Report],
    test: Option<&str>,
    message: &str,
) -> String {
    let (kind, which) = label(schedules, reports);
    let what = format!("failing {kind}: {which}");
    let command = cargo_command();
    let replay_path = match &env.replay {
        Some((path, _)) => Some(path.clone()),
        None => replay_file::path_for(test),
    };
    let timeline = replay_path
        .as_deref()
        .and_then(|path| write_timeline(path, reports, &what, message));
    let timeline = timeline.map_or_else(String::new, |path| {
        format!(
            "\ntimeline: {} (Chrome trace JSON: open it in https://ui.perfetto.dev or chrome://tracing)",
            path.display()
        )
    });
    if let Some((path, _)) = &env.replay {
        return format!(
            "{what}\nreplay with: REPLAY={} {command}{timeline}",
            shell_word(path)
        );
    }
    let file = ReplayFile {
        test: test.map(str::to_owned),
        strategy: strategy_of(env, reports),
        seed: schedules.seed,
        schedulers: reports
            .iter()
            .map(|report| report.recording.clone())
            .collect(),
    };
    let written = replay_path.and_then(|path| {
        let replay = format!("REPLAY={} {command}", shell_word(&path));
        match replay_file::write(&path, &file, &replay) {
            Ok(()) => Some(replay),
            Err(error) => {
                eprintln!(
                    "could not write the replay file {}: {error}",
                    path.display()
                );
                None
            }
        }
    });
    match written {
        Some(replay) => format!("{what}\nreplay with: {replay}{timeline}"),
        // No file system (wasm32) or no target directory: the seed replays it, as long as the
        // code draws the same random numbers.
        None => {
            let strategy = match file.strategy {
                Strategy::Random => String::new(),
                strategy => format!("STRATEGY={strategy} "),
            };
            format!(
                "{what}\nreplay with: {strategy}SEED={} {command}",
                file.seed
            )
        }
    }
}

/// Writes the failing schedule's timeline next to its replay file (`x.replay` ->
/// `x.timeline.json`): one process per scheduler it created, the failure drawn at the end of
/// the last one's. Returns its path; `None` if no timeline was recorded or writing failed.
fn write_timeline(replay: &Path, reports: &[Report], what: &str, message: &str) -> Option<PathBuf> {
    let last = reports
        .iter()
        .rposition(|report| report.timeline.is_some())?;
    let processes: Vec<Process<'_>> = reports
        .iter()
        .enumerate()
        .filter_map(|(index, report)| {
            Some(Process {
                name: report.name.clone(),
                timeline: report.timeline.as_ref()?,
                failure: (index == last).then_some(message),
            })
        })
        .collect();
    let json = timeline_json::document(&processes, &[("failing", what.to_string())]);
    let path = replay.with_extension("timeline.json");
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, json));
    match written {
        Ok(()) => Some(path),
        Err(error) => {
            eprintln!("could not write the timeline {}: {error}", path.display());
            None
        }
    }
}
