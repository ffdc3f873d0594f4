//! Runs a scenario in a child process, so a test can assert how it ends even when it would
//! abort the process or hang: an abort or a hang is then a red test, not a dead run.
//!
//! The child is this same test binary, re-run for one test with an environment variable that
//! tells it to run the scenario instead of spawning another child:
//!
//! ```ignore
//! #[test]
//! fn misuse_is_a_clear_panic() {
//!     let Some(child) = child::run("misuse_is_a_clear_panic", Duration::from_secs(30), || {
//!         /* the scenario: runs in the child only */
//!     }) else {
//!         return; // this was the child
//!     };
//!     child.assert_succeeded();
//! }
//! ```

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const CHILD_VAR: &str = "NATIVE_TESTS_CHILD";

/// How a child run ended.
#[derive(Debug)]
pub struct ChildOutcome {
    /// Its exit status; `None` if it was killed for running longer than allowed.
    pub status: Option<ExitStatus>,
    /// Everything it wrote to stderr (panic messages, test harness output).
    pub stderr: String,
    /// Everything it wrote to stdout.
    pub stdout: String,
}

impl ChildOutcome {
    /// Panics unless the child exited successfully (no panic, no abort, no hang), showing its
    /// output.
    pub fn assert_succeeded(&self) {
        match self.status {
            Some(status) if status.success() => {}
            Some(status) => panic!(
                "the scenario failed ({status}) instead of passing:\n{}\n{}",
                self.stdout, self.stderr
            ),
            None => panic!(
                "the scenario hung (killed after its time limit):\n{}\n{}",
                self.stdout, self.stderr
            ),
        }
    }
}

/// In the parent: runs `test` (its exact name in this binary) in a child process that executes
/// `scenario`, kills it after `limit`, and returns how it ended. In that child: runs `scenario`
/// and returns `None` (the caller returns at once).
pub fn run(test: &str, limit: Duration, scenario: impl FnOnce()) -> Option<ChildOutcome> {
    run_with_env(test, limit, &[], scenario)
}

/// [`run`] with extra environment variables for the child (the seed harness's `SEED`,
/// `REPLAY`, `STRATEGY`, `CHECK_DETERMINISM`, ...). `""` as a value removes the variable.
pub fn run_with_env(
    test: &str,
    limit: Duration,
    env: &[(&str, &str)],
    scenario: impl FnOnce(),
) -> Option<ChildOutcome> {
    run_with_args(test, limit, env, &[], scenario)
}

/// [`run_with_env`] with extra arguments for the child's test harness (`--ignored` to run an
/// `#[ignore]`d test).
pub fn run_with_args(
    test: &str,
    limit: Duration,
    env: &[(&str, &str)],
    args: &[&str],
    scenario: impl FnOnce(),
) -> Option<ChildOutcome> {
    if std::env::var(CHILD_VAR).as_deref() == Ok(test) {
        scenario();
        return None;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    for (name, value) in env {
        match *value {
            "" => command.env_remove(name),
            value => command.env(name, value),
        };
    }
    let mut child = command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .args(args)
        .env(CHILD_VAR, test)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child test process");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Some(ChildOutcome {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}
