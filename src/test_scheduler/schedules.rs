//! The sequence of schedules a strategy explores (seeds one after another; the exhaustive
//! search's next prefix), shared by the seed harness and [`TestScheduler::search`].

use super::config::TestSchedulerConfig;
use super::context::{self, Plan, Report};
use super::exhaustive::next_prefix;
use super::handle::TestScheduler;
use std::panic::resume_unwind;
use std::sync::Arc;

/// Which schedule runs next.
#[derive(Clone, Debug)]
pub(super) struct Schedules {
    /// Schedules run so far.
    pub(super) number: u64,
    /// The seed of the next one (the same for every run of an exhaustive search).
    pub(super) seed: u64,
    /// The exhaustive search's prefix for the next one.
    pub(super) prefix: Vec<u32>,
}

impl Schedules {
    pub(super) fn new(seed: u64) -> Self {
        Self {
            number: 0,
            seed,
            prefix: Vec::new(),
        }
    }

    /// Moves past the schedule that just ran (`reports`: its schedulers). Returns `false` when
    /// it was the exhaustive search's last.
    pub(super) fn advance(&mut self, reports: &[Report]) -> bool {
        self.number += 1;
        match reports.first().and_then(|report| report.taken.as_deref()) {
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

/// How [`TestScheduler::search`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchOutcome {
    /// Schedules run, the finding one included.
    pub schedules: u64,
    /// Whether a schedule made the body return `true`.
    pub found: bool,
    /// Whether the exhaustive search ran every schedule there is.
    pub exhausted: bool,
}

impl TestScheduler {
    /// Runs `body` on one fresh scheduler per schedule of `config.strategy` (seeds
    /// `config.seed`, `config.seed + 1`, … or the exhaustive search's schedules) until it
    /// returns `true` or `limit` schedules ran: how many schedules it took to find what `body`
    /// looks for. Reads no environment variable; a panic in `body` propagates.
    ///
    /// ```
    /// use scheduler::{Strategy, TestScheduler, TestSchedulerConfig};
    /// use std::sync::{Arc, Mutex};
    /// let config = TestSchedulerConfig { strategy: Strategy::Exhaustive, ..Default::default() };
    /// let outcome = TestScheduler::search(config, 100, |test| {
    ///     let order = Arc::new(Mutex::new(Vec::new()));
    ///     for name in ["a", "b"] {
    ///         let order = order.clone();
    ///         test.spawn(async move { order.lock().unwrap().push(name) }).detach();
    ///     }
    ///     test.run_until_parked();
    ///     let order = order.lock().unwrap().clone();
    ///     order == ["b", "a"]
    /// });
    /// assert!(outcome.found && outcome.schedules <= 2);
    /// ```
    pub fn search(
        config: TestSchedulerConfig,
        limit: u64,
        mut body: impl FnMut(&Arc<TestScheduler>) -> bool,
    ) -> SearchOutcome {
        let mut schedules = Schedules::new(config.seed);
        while schedules.number < limit {
            let plan = Plan {
                prefix: schedules.prefix.clone(),
                ..Plan::default()
            };
            let seed = schedules.seed;
            let (outcome, reports) = context::within(plan, || {
                body(&TestScheduler::new(TestSchedulerConfig {
                    seed,
                    ..config.clone()
                }))
            });
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
            if !schedules.advance(&reports) {
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
}
