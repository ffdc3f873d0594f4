//! Seeds: [`TestScheduler::many`] (an async test body, one handle) and [`run_seeds`] (a plain
//! closure per seed) run a test over many seeds and say how to replay a failing one.

use super::handle::TestScheduler;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

impl TestScheduler {
    /// Runs the async test body `test` once per seed, each time on a fresh `TestScheduler` of
    /// that seed, and returns the outputs in seed order. Seeds are `0..iterations`, or
    /// `0..ITERATIONS` when that environment variable is set, or only `SEED` when that is set.
    /// When a seed fails, prints the seed and the exact command that replays it, then re-raises
    /// the panic.
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
    pub fn many<R>(iterations: u64, mut test: impl AsyncFnMut(Arc<TestScheduler>) -> R) -> Vec<R> {
        let mut outputs = Vec::new();
        seeds(iterations, |seed| {
            let scheduler = TestScheduler::with_seed(seed);
            let output = scheduler.block(test(scheduler.clone()));
            drop(scheduler);
            outputs.push(output);
        });
        outputs
    }
}

/// How many seeds [`run_seeds`] tries when `ITERATIONS` is not set.
pub const DEFAULT_ITERATIONS: u64 = 100;

/// Runs `test` once per seed: seeds `0..ITERATIONS` (environment variable, default 100), or only
/// `SEED` when that is set. When a seed fails, prints the seed and the exact command that replays
/// it, then re-raises the panic.
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
    seeds(DEFAULT_ITERATIONS, test);
}

/// Runs `test` for seeds `0..iterations` (or `ITERATIONS`, or only `SEED`), printing the replay
/// command for a failing seed.
fn seeds(iterations: u64, mut test: impl FnMut(u64)) {
    let seeds = match env_number("SEED") {
        Some(seed) => seed..=seed,
        None => {
            let iterations = env_number("ITERATIONS").unwrap_or(iterations);
            assert!(iterations > 0, "ITERATIONS must be at least 1");
            0..=iterations - 1
        }
    };
    for seed in seeds {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| test(seed))) {
            eprintln!("\n{}\n", replay_hint(seed));
            resume_unwind(panic);
        }
    }
}

/// A number from the environment; a malformed value is a clear panic, not a silent default.
fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(parse_number(name, &value))
}

fn parse_number(name: &str, value: &str) -> u64 {
    match value.trim().parse() {
        Ok(number) => number,
        Err(_) => panic!("{name}={value:?} is not a non-negative integer"),
    }
}

/// `failing seed: 17 — replay with: SEED=17 cargo test -p native-tests --test core -- name --exact`
fn replay_hint(seed: u64) -> String {
    let mut command = format!("SEED={seed} cargo test");
    if let Ok(package) = std::env::var("CARGO_PKG_NAME") {
        command.push_str(&format!(" -p {package}"));
    }
    if let Some(target) = test_target() {
        command.push_str(&target);
    }
    let thread = std::thread::current();
    match thread.name() {
        Some(name) if name != "main" => command.push_str(&format!(" -- {name} --exact")),
        _ => {}
    }
    format!("failing seed: {seed}\nreplay with: {command}")
}

/// `--test NAME` for an integration test binary, `--lib` for a crate's unit tests.
fn test_target() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let stem = exe.file_stem()?.to_str()?;
    // Test binaries are named `<target>-<16 hex digits>`.
    let (name, hash) = stem.rsplit_once('-')?;
    if hash.len() != 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let package = std::env::var("CARGO_PKG_NAME").ok()?.replace('-', "_");
    Some(if name == package {
        " --lib".to_string()
    } else {
        format!(" --test {name}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_hint_names_the_seed_and_a_cargo_command() {
        let hint = replay_hint(17);
        assert!(
            hint.starts_with("failing seed: 17\nreplay with: SEED=17 cargo test"),
            "{hint}"
        );
        // Unit tests of this crate run from a `scheduler-<hash>` binary: the hint says --lib.
        if std::env::var("CARGO_PKG_NAME").is_ok() {
            assert!(hint.contains(" -p scheduler --lib"), "{hint}");
        }
        let name = std::thread::current().name().map(str::to_owned);
        if let Some(name) = name.filter(|name| name != "main") {
            assert!(hint.ends_with(&format!(" -- {name} --exact")), "{hint}");
        }
    }

    #[test]
    fn a_malformed_seed_variable_is_a_clear_error() {
        // Exercised through the parser directly: mutating the environment is not thread-safe.
        let outcome = std::panic::catch_unwind(|| parse_number("SEED", "abc"));
        let payload = outcome.unwrap_err();
        let message = payload.downcast_ref::<String>().unwrap();
        assert!(
            message.contains("SEED=\"abc\" is not a non-negative integer"),
            "{message}"
        );
        assert_eq!(parse_number("ITERATIONS", " 25 "), 25);
    }
}
