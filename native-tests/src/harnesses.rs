//! The [`Harness`] of each production backend, shared by its behaviour suite and its
//! backend-specific tests: a fresh scheduler whose main thread is the thread that made it.

use crate::behaviour::Harness;
use scheduler::Scheduler;
use std::future::Future;
use std::sync::Arc;

/// A fresh `LinuxScheduler` whose main thread is the test thread; `run` drives the main queue
/// with the ready-made calloop loop.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub struct LinuxHarness(pub Arc<scheduler::platform::LinuxScheduler>);

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
impl LinuxHarness {
    /// Starts a `LinuxScheduler` (its pool and timer threads).
    pub fn new() -> Self {
        Self(scheduler::platform::LinuxScheduler::new().expect("start the scheduler's threads"))
    }
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
impl Default for LinuxHarness {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
impl Harness for LinuxHarness {
    fn scheduler(&self) -> Arc<dyn Scheduler> {
        self.0.clone()
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.0.run_until(future).expect("calloop event loop")
    }
}

/// A fresh `WindowsScheduler` whose main thread is the test's thread; `run` pumps that thread's
/// Win32 message loop until the future completes.
#[cfg(windows)]
pub struct WindowsHarness(pub Arc<scheduler::platform::WindowsScheduler>);

#[cfg(windows)]
impl WindowsHarness {
    /// Creates a `WindowsScheduler` (its message-only window on this thread).
    pub fn new() -> Self {
        Self(scheduler::platform::WindowsScheduler::new().expect("create WindowsScheduler"))
    }
}

#[cfg(windows)]
impl Default for WindowsHarness {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(windows)]
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
