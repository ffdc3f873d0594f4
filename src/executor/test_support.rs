//! The calls code under test makes on its [`BackgroundExecutor`] when it runs on a
//! [`TestScheduler`] (GPUI's `test-support` convention): only with the `test-support` feature.

use super::background::BackgroundExecutor;
use crate::{TaskLabel, TestScheduler};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

impl BackgroundExecutor {
    /// The [`TestScheduler`] behind this executor; panics, naming `call`, on any other
    /// scheduler.
    fn test_scheduler(&self, call: &str) -> &TestScheduler {
        self.scheduler()
            .downcast_ref::<TestScheduler>()
            .unwrap_or_else(|| {
                panic!(
                    "BackgroundExecutor::{call} is a test call: it needs a TestScheduler, and \
                     this executor runs on another scheduler"
                )
            })
    }

    /// Makes `label`'s tasks run last (see [`TestScheduler::deprioritize`]).
    pub fn deprioritize(&self, label: TaskLabel) {
        self.test_scheduler("deprioritize").deprioritize(label);
    }

    /// Runs one ready task (see [`TestScheduler::tick`]).
    pub fn tick(&self) -> bool {
        self.test_scheduler("tick").tick()
    }

    /// Runs ready tasks until none is left (see [`TestScheduler::run_until_parked`]).
    pub fn run_until_parked(&self) {
        self.test_scheduler("run_until_parked").run_until_parked();
    }

    /// Moves virtual time forward (see [`TestScheduler::advance_clock`]).
    pub fn advance_clock(&self, duration: Duration) {
        self.test_scheduler("advance_clock").advance_clock(duration);
    }

    /// Yields a random number of times (see [`TestScheduler::simulate_random_delay`]).
    pub fn simulate_random_delay(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(
            self.test_scheduler("simulate_random_delay")
                .simulate_random_delay(),
        )
    }
}
