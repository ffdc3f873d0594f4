//! What the seed harness reads from the environment (`SEED`, `ITERATIONS`, `STRATEGY`,
//! `REPLAY`, `CHECK_DETERMINISM`, `TIMELINE`) and the replay command it prints.

use super::replay_file::ReplayFile;
use crate::test_scheduler::explore::Strategy;
use std::path::PathBuf;

/// The harness's environment variables, parsed; a malformed value is a clear panic, not a
/// silent default.
#[derive(Debug, Default)]
pub(crate) struct Env {
    pub(crate) seed: Option<u64>,
    pub(crate) iterations: Option<u64>,
    pub(crate) strategy: Option<Strategy>,
    /// The replay file, if `REPLAY` names one for this test.
    pub(crate) replay: Option<(PathBuf, ReplayFile)>,
    pub(crate) check_determinism: bool,
    /// Record every schedule's timeline, written when it fails (`TIMELINE=0` turns it off).
    pub(crate) timeline: bool,
}

impl Env {
    /// Reads the environment for the test running on this thread (`test`: its name) in its
    /// harness call number `call` (from 1).
    pub(crate) fn read(test: Option<&str>, call: u64) -> Self {
        let replay = std::env::var_os("REPLAY").and_then(|path| {
            let path = PathBuf::from(path);
            let file = ReplayFile::read(&path).unwrap_or_else(|error| panic!("{error}"));
            match (&file.test, test, file.call) {
                (Some(recorded), Some(test), _) if recorded != test => {
                    eprintln!(
                        "REPLAY={} is a schedule of {recorded}: {test} runs its own seeds",
                        path.display()
                    );
                    None
                }
                (_, _, Some(recorded)) if recorded != call => {
                    eprintln!(
                        "REPLAY={} is a schedule of this test's harness call {recorded} (its \
                         seed loop number {recorded}): call {call} runs its own seeds",
                        path.display()
                    );
                    None
                }
                _ => Some((path, file)),
            }
        });
        Self {
            seed: var("SEED").map(|value| parse_number("SEED", &value)),
            iterations: var("ITERATIONS").map(|value| parse_number("ITERATIONS", &value)),
            strategy: var("STRATEGY").map(|value| match value.parse() {
                Ok(strategy) => strategy,
                Err(error) => panic!("STRATEGY={value:?}: {error}"),
            }),
            replay,
            check_determinism: var("CHECK_DETERMINISM")
                .is_some_and(|value| parse_flag("CHECK_DETERMINISM", &value)),
            timeline: var("TIMELINE").is_none_or(|value| parse_flag("TIMELINE", &value)),
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

pub(crate) fn parse_number(name: &str, value: &str) -> u64 {
    match value.trim().parse() {
        Ok(number) => number,
        Err(_) => panic!("{name}={value:?} is not a non-negative integer"),
    }
}

pub(crate) fn parse_flag(name: &str, value: &str) -> bool {
    match value.trim() {
        "1" | "true" | "yes" | "on" => true,
        "" | "0" | "false" | "no" | "off" => false,
        _ => panic!("{name}={value:?} is neither 1 nor 0"),
    }
}

/// The name of the test running on this thread (libtest names each test's thread after it).
pub(crate) fn test_name() -> Option<String> {
    std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .map(str::to_owned)
}

/// `cargo test -p native-tests --test core -- name --exact`: the command that runs only the
/// test on this thread (`cargo run -p tandem-scheduler --example timeline` from an example).
pub(crate) fn cargo_command() -> String {
    if let Some(example) = example_name() {
        let mut command = "cargo run".to_string();
        if let Ok(package) = std::env::var("CARGO_PKG_NAME") {
            command.push_str(&format!(" -p {package}"));
        }
        return format!("{command} --example {example}");
    }
    let mut command = "cargo test".to_string();
    if let Ok(package) = std::env::var("CARGO_PKG_NAME") {
        command.push_str(&format!(" -p {package}"));
    }
    if let Some(target) = test_target() {
        command.push_str(&target);
    }
    if let Some(name) = test_name() {
        command.push_str(&format!(" -- {name} --exact"));
        if let Some(flag) = ignored_flag(std::env::args()) {
            command.push_str(&format!(" {flag}"));
        }
    }
    command
}

/// `--ignored` or `--include-ignored`, whichever this test binary was run with: an `#[ignore]`d
/// test runs only with one of them, so the printed command must carry it too.
pub(crate) fn ignored_flag(args: impl IntoIterator<Item = String>) -> Option<&'static str> {
    let mut flag = None;
    for arg in args {
        match arg.as_str() {
            "--ignored" => flag = Some("--ignored"),
            "--include-ignored" => flag = Some("--include-ignored"),
            "--" => break,
            _ => {}
        }
    }
    flag
}

/// The example this process is, if it is one (cargo builds them into an `examples` folder).
fn example_name() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let folder = exe.parent()?.file_name()?;
    (folder == "examples")
        .then(|| exe.file_stem()?.to_str().map(str::to_owned))
        .flatten()
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
    let package = std::env::var("CARGO_PKG_NAME").ok()?;
    // A package's unit tests are named after its library: the package name with `_` for `-`,
    // or, for this crate, its `[lib] name` (`scheduler`, package `tandem-scheduler`).
    let is_lib = name == package.replace('-', "_")
        || (package == env!("CARGO_PKG_NAME") && name == env!("CARGO_CRATE_NAME"));
    Some(if is_lib {
        " --lib".to_string()
    } else {
        format!(" --test {name}")
    })
}

/// `path` as one shell word.
pub(crate) fn shell_word(path: &std::path::Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_variables_are_clear_errors() {
        // Exercised through the parsers directly: mutating the environment is not thread-safe.
        let outcome = std::panic::catch_unwind(|| parse_number("SEED", "abc"));
        let payload = outcome.unwrap_err();
        let message = payload.downcast_ref::<String>().unwrap();
        assert!(
            message.contains("SEED=\"abc\" is not a non-negative integer"),
            "{message}"
        );
        assert_eq!(parse_number("ITERATIONS", " 25 "), 25);
        assert!(parse_flag("CHECK_DETERMINISM", "1"));
        assert!(!parse_flag("CHECK_DETERMINISM", "0"));
        assert!(std::panic::catch_unwind(|| parse_flag("CHECK_DETERMINISM", "maybe")).is_err());
    }

    #[test]
    fn the_command_names_the_package_target_and_test() {
        let command = cargo_command();
        assert!(command.starts_with("cargo test"), "{command}");
        // Unit tests of this crate run from a `scheduler-<hash>` binary: the command says --lib.
        if std::env::var("CARGO_PKG_NAME").is_ok() {
            assert!(command.contains(" -p tandem-scheduler --lib"), "{command}");
        }
        if let Some(name) = test_name() {
            assert!(
                command.ends_with(&format!(" -- {name} --exact")),
                "{command}"
            );
        }
        assert_eq!(
            shell_word(std::path::Path::new("/a/b.replay")),
            "/a/b.replay"
        );
        assert_eq!(shell_word(std::path::Path::new("/a b/c")), "'/a b/c'");
    }

    /// Issue 20: the replay command of an `#[ignore]`d test lacked `--ignored`, so it ran
    /// nothing. The flag the binary got is passed on.
    #[test]
    fn the_ignored_flags_are_passed_on() {
        let args = |list: &[&str]| list.iter().map(|arg| arg.to_string()).collect::<Vec<_>>();
        assert_eq!(ignored_flag(args(&["bin", "name", "--exact"])), None);
        assert_eq!(
            ignored_flag(args(&["bin", "--ignored", "name"])),
            Some("--ignored")
        );
        assert_eq!(
            ignored_flag(args(&["bin", "name", "--include-ignored"])),
            Some("--include-ignored")
        );
    }
}
