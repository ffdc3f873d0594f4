//! The shared behaviour suite on the deterministic `TestScheduler` (one fixed seed per test; the
//! same bodies run on the production backends).

use native_tests::behaviour::Harness;
use scheduler::{Scheduler, TestScheduler};
use std::future::Future;
use std::sync::Arc;

/// Runs behaviour bodies on a `TestScheduler`; `run` blocks, which runs every ready task.
struct TestHarness(Arc<TestScheduler>);

impl TestHarness {
    fn new() -> Self {
        Self(TestScheduler::with_seed(7))
    }
}

impl Harness for TestHarness {
    fn scheduler(&self) -> Arc<dyn Scheduler> {
        self.0.clone()
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let scheduler: Arc<dyn Scheduler> = self.0.clone();
        scheduler.block(future)
    }
}

native_tests::behaviour_tests!(TestHarness::new());
