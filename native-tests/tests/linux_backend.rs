//! LinuxScheduler: the shared behaviour suite, plus Linux-specific stress and shutdown tests.
#![cfg(any(target_os = "linux", target_os = "freebsd"))]

use native_tests::behaviour::Harness;
use scheduler::Scheduler;
use scheduler::platform::LinuxScheduler;
use std::future::Future;
use std::sync::Arc;

/// Runs behaviour bodies on a fresh `LinuxScheduler` whose main thread is the test thread;
/// `run` drives the main queue with the ready-made calloop loop.
struct LinuxHarness(Arc<LinuxScheduler>);

impl LinuxHarness {
    fn new() -> Self {
        Self(LinuxScheduler::new().expect("start the scheduler's threads"))
    }
}

impl Harness for LinuxHarness {
    fn scheduler(&self) -> Arc<dyn Scheduler> {
        self.0.clone()
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.0.run(future).expect("calloop event loop")
    }
}

native_tests::behaviour_tests!(LinuxHarness::new());
