//! The seed harness: [`run_seeds`] (a plain closure per seed) and the loop behind
//! [`TestScheduler::many`](crate::TestScheduler::many) (an async test body, one handle) run a
//! test over the schedules of a strategy, check determinism on request, and on a failure write
//! a replay file and print the one command that reruns exactly that schedule; `search` counts
//! the schedules a strategy needs to make something happen
//! ([`TestScheduler::search`](crate::TestScheduler::search)).
//!
//! Environment (`env.rs`): `SEED=n` (only that seed), `ITERATIONS=n` (how many schedules),
//! `STRATEGY=random|pct[:d[:steps]]|exhaustive`, `REPLAY=<file>` (rerun a recorded schedule,
//! `replay_file.rs`), `CHECK_DETERMINISM=1` (run every seed twice and compare the traces,
//! `check.rs`). Each schedule runs inside a frame (`frame.rs`) that directs every scheduler
//! created meanwhile on the thread.

pub(crate) mod check;
pub(crate) mod env;
pub(crate) mod frame;
pub(crate) mod replay_file;

use crate::task::panic::panic_message;
use crate::test_scheduler::engine::Transcript;
use crate::test_scheduler::engine::trace::TraceEvent;
use crate::test_scheduler::explore::Strategy;
use crate::test_scheduler::explore::exhaustive::next_prefix;
use crate::test_scheduler::timeline::chrome_trace::{self, Process};
use env::{Env, cargo_command, shell_word, test_name};
use frame::Plan;
use replay_file::ReplayFile;
use std::cell::{Cell, RefCell};
use std::panic::resume_unwind;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// How many seeds [`run_seeds`] tries when `ITERATIONS` is not set.
pub const DEFAULT_ITERATIONS: u64 = 100;

/// Runs `test` once per seed: seeds `0..ITERATIONS` (environment variable, default 100), or only
/// `SEED` when that is set. When a seed fails, runs it once more (quietly, recording), writes a
/// replay file and prints the seed and the exact command that reruns it, then re-raises the
/// panic: so a failing seed's body runs twice. The environment of
/// [`TestScheduler::many`](crate::TestScheduler::many) (`STRATEGY`, `REPLAY`, `CHECK_DETERMINISM`) applies to every
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
pub(crate) fn run<R>(iterations: u64, check: bool, mut body: impl FnMut(u64) -> R) -> Vec<R> {
    let test = test_name();
    let call = next_call(test.as_deref());
    let env = Env::read(test.as_deref(), call);
    let check = check || env.check_determinism;
    let replay = env.replay.as_ref();
    let (mut schedules, limit) = match (replay, env.seed) {
        (Some((_, file)), _) => (Schedules::new(file.seed), 1),
        (None, Some(seed)) => (Schedules::new(seed), 1),
        // `iterations` of 0 (the caller's argument) runs nothing; `ITERATIONS=0` is a mistake.
        (None, None) => match env.iterations {
            Some(0) => {
                panic!("ITERATIONS=0 would run no schedule: set it to at least 1, or unset it")
            }
            Some(iterations) => (Schedules::new(0), iterations),
            None => (Schedules::new(0), iterations),
        },
    };
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
        let (outcome, transcripts) = frame::within(plan.clone(), || body(seed));
        let output = match outcome {
            Ok(output) => output,
            Err(panic) => {
                let message = panic_message(&panic);
                let recording = Plan {
                    record: true,
                    timeline: env.timeline,
                    ..plan.clone()
                };
                let (again, recorded) = rerun(|| frame::within(recording, || body(seed)));
                let (transcripts, note) = match again {
                    Err(_) => (recorded, ""),
                    Ok(_) => (transcripts, NOT_REPEATED),
                };
                let hint = failure_hint(
                    &schedules,
                    &env,
                    &transcripts,
                    (test.as_deref(), call),
                    message,
                );
                eprintln!("\n{hint}{note}\n");
                resume_unwind(panic);
            }
        };
        if check {
            let (again, second) = frame::within(plan, || body(seed));
            let what = describe(&schedules, &transcripts);
            let difference = check::compare(&what, &audits(&transcripts), &audits(&second));
            let rerun = rerun_command(&schedules, &env, &transcripts);
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
        if !schedules.advance(&transcripts) {
            break; // the exhaustive search ran every schedule
        }
    }
    outputs
}

/// Printed when a failing schedule passed when it was run again to record it.
const NOT_REPEATED: &str = "\nnote: this schedule passed when it was run again to record its \
    choices and timeline, so the body also depends on something outside the scheduler (state \
    kept between seeds, the wall clock, the file system): the replay file may not reproduce it";

fn audits(transcripts: &[Transcript]) -> Vec<Vec<TraceEvent>> {
    transcripts
        .iter()
        .map(|report| report.audit.clone())
        .collect()
}

/// The strategy the schedule ran with (its first scheduler's; else the environment's).
fn strategy_of(env: &Env, transcripts: &[Transcript]) -> Strategy {
    transcripts
        .first()
        .map(|report| report.strategy)
        .or(env.strategy)
        .unwrap_or_default()
}

/// `seed 17`, `seed 17 (strategy pct:2:20)`, `schedule 41 of the exhaustive search (seed 0)`.
fn describe(schedules: &Schedules, transcripts: &[Transcript]) -> String {
    let (kind, which) = label(schedules, transcripts);
    format!("{kind} {which}")
}

/// `("seed", "17 (strategy pct:2:20)")`: what ran, and which one.
fn label(schedules: &Schedules, transcripts: &[Transcript]) -> (&'static str, String) {
    match transcripts.first().map(|report| report.strategy) {
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
fn rerun_command(schedules: &Schedules, env: &Env, transcripts: &[Transcript]) -> String {
    let strategy = strategy_of(env, transcripts);
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
    transcripts: &[Transcript],
    (test, call): (Option<&str>, u64),
    message: &str,
) -> String {
    let (kind, which) = label(schedules, transcripts);
    let what = format!("failing {kind}: {which}");
    let command = cargo_command();
    let replay_path = match &env.replay {
        Some((path, _)) => Some(path.clone()),
        None => replay_file::path_for(test),
    };
    let timeline = replay_path
        .as_deref()
        .and_then(|path| write_timeline(path, transcripts, &what, message));
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
        strategy: strategy_of(env, transcripts),
        seed: schedules.seed,
        call: Some(call),
        schedulers: transcripts
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
fn write_timeline(
    replay: &Path,
    transcripts: &[Transcript],
    what: &str,
    message: &str,
) -> Option<PathBuf> {
    let last = transcripts
        .iter()
        .rposition(|report| report.timeline.is_some())?;
    let processes: Vec<Process<'_>> = transcripts
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
    let json = chrome_trace::document(&processes, &[("failing", what.to_string())]);
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

// ---- schedules -----------------------------------------------------------------------------------
// The sequence of schedules a strategy explores (seeds one after another; the exhaustive
// search's next prefix), shared by the seed harness and [`TestScheduler::search`].

/// Which schedule runs next.
#[derive(Clone, Debug)]
pub(crate) struct Schedules {
    /// Schedules run so far.
    pub(crate) number: u64,
    /// The seed of the next one (the same for every run of an exhaustive search).
    pub(crate) seed: u64,
    /// The exhaustive search's prefix for the next one.
    pub(crate) prefix: Vec<u32>,
}

impl Schedules {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            number: 0,
            seed,
            prefix: Vec::new(),
        }
    }

    /// Moves past the schedule that just ran (`transcripts`: its schedulers). Returns `false` when
    /// it was the exhaustive search's last.
    pub(crate) fn advance(&mut self, transcripts: &[Transcript]) -> bool {
        self.number += 1;
        match transcripts
            .first()
            .and_then(|report| report.taken.as_deref())
        {
            Some(taken) => match next_prefix(taken) {
                Some(prefix) => {
                    self.prefix = prefix;
                    true
                }
                None => false,
            },
            None => {
                self.seed = self.seed.wrapping_add(1);
                true
            }
        }
    }
}

/// How [`TestScheduler::search`](crate::TestScheduler::search) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchOutcome {
    /// Schedules run, the finding one included.
    pub schedules: u64,
    /// Whether a schedule made the body return `true`.
    pub found: bool,
    /// Whether the exhaustive search ran every schedule there is.
    pub exhausted: bool,
}

/// Runs `body` once per schedule of a strategy (seeds `seed`, `seed + 1`, … or the exhaustive
/// search's schedules; `body` gets the seed and makes its scheduler, which takes the frame's
/// directions) until it returns `true` or `limit` schedules ran. Reads no environment
/// variable; a panic in `body` propagates.
pub(crate) fn search(seed: u64, limit: u64, mut body: impl FnMut(u64) -> bool) -> SearchOutcome {
    let mut schedules = Schedules::new(seed);
    while schedules.number < limit {
        let plan = Plan {
            prefix: schedules.prefix.clone(),
            ..Plan::default()
        };
        let seed = schedules.seed;
        let (outcome, transcripts) = frame::within(plan, || body(seed));
        match outcome {
            Ok(true) => {
                return SearchOutcome {
                    schedules: schedules.number + 1,
                    found: true,
                    exhausted: false,
                };
            }
            Ok(false) => {}
            Err(panic) => resume_unwind(panic),
        }
        if !schedules.advance(&transcripts) {
            return SearchOutcome {
                schedules: schedules.number,
                found: false,
                exhausted: true,
            };
        }
    }
    SearchOutcome {
        schedules: schedules.number,
        found: false,
        exhausted: false,
    }
}

// ---- calls ---------------------------------------------------------------------------------------
// Which harness call of a test this is: a test may run several seed loops (two `many` calls),
// and a replay file names the one that failed, so only that one replays it.

thread_local! {
    /// The test running on this thread (its name) and how many harness calls it made.
    static CALLS: RefCell<(Option<String>, u64)> = const { RefCell::new((None, 0)) };
}

/// Counts a harness call of `test` on this thread: 1 for its first, 2 for its second, ...
/// (libtest runs each test on a thread of its own, named after it).
fn next_call(test: Option<&str>) -> u64 {
    CALLS.with(|calls| {
        let mut calls = calls.borrow_mut();
        if calls.0.as_deref() != test {
            *calls = (test.map(str::to_owned), 0);
        }
        calls.1 += 1;
        calls.1
    })
}

// ---- quiet ---------------------------------------------------------------------------------------
// Running a failing schedule a second time without printing its panic again: the seed harness
// reruns a failure to record its choices and its timeline, and the user already saw the panic.
//
// The panic hook is process-wide (and tests run on many threads), so one hook is installed
// once, wrapping the previous one: it stays silent only on a thread that is rerunning.

thread_local! {
    static RERUNNING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `rerun` with this thread's panics not printed.
pub(crate) fn rerun<R>(rerun: impl FnOnce() -> R) -> R {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !RERUNNING.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = RERUNNING.with(|flag| flag.replace(true));
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            RERUNNING.with(|flag| flag.set(self.0));
        }
    }
    let _restore = Restore(was);
    rerun()
}
