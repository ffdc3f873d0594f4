//! The shared behaviour suite (`native_tests::behaviour`) on the `WindowsScheduler`.
#![cfg(windows)]

use native_tests::behaviour::Harness;
use scheduler::Scheduler;
use scheduler::platform::WindowsScheduler;
use std::future::Future;
use std::sync::Arc;

/// A fresh `WindowsScheduler` whose main thread is the test's thread; `run` pumps that thread's
/// Win32 message loop until the future completes.
struct WindowsHarness(Arc<WindowsScheduler>);

impl WindowsHarness {
    fn new() -> Self {
        Self(WindowsScheduler::new().expect("create WindowsScheduler"))
    }
}

impl Harness for WindowsHarness {
    fn scheduler(&self) -> Arc<dyn Scheduler> {
        self.0.clone()
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.0
            .run_until(future)
            .expect("WM_QUIT arrived before the future completed")
    }
}

native_tests::behaviour_tests!(WindowsHarness::new());
