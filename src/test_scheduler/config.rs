//! [`TestSchedulerConfig`]: how a [`TestScheduler`](crate::TestScheduler) behaves (read by the
//! handle, the engine and the harness's frame; it imports only the strategy).

use super::explore::Strategy;
use std::ops::RangeInclusive;

/// How a [`TestScheduler`](crate::TestScheduler) behaves. `TestSchedulerConfig::default()` is
/// seed 0 with random interleaving on ([`Strategy::Random`]).
///
/// ```
/// use scheduler::{TestScheduler, TestSchedulerConfig};
/// let test = TestScheduler::new(TestSchedulerConfig {
///     trace: true,
///     ..TestSchedulerConfig::with_seed(7)
/// });
/// test.spawn(async {}).detach();
/// test.run_until_parked();
/// assert_eq!(test.take_trace().len(), 3); // spawned, ran, ended
/// ```
#[derive(Clone, Debug)]
pub struct TestSchedulerConfig {
    /// The seed of the random choices.
    pub seed: u64,
    /// Let [`strategy`](Self::strategy) choose among the ready runnables (the default) instead
    /// of always running the oldest one (`false`: FIFO, no choices, the strategy is unused).
    pub randomize_order: bool,
    /// How the next runnable is chosen when several are ready: uniformly at random (the
    /// default), by PCT priorities, or by exhaustive search. `STRATEGY=` overrides it for the
    /// schedulers the seed harness runs ([`TestScheduler::many`](crate::TestScheduler::many),
    /// [`run_seeds`](crate::run_seeds)).
    pub strategy: Strategy,
    /// Read by [`TestScheduler::many_with`](crate::TestScheduler::many_with): run every seed
    /// twice and fail, naming the first differing step, when the two traces differ (also
    /// `CHECK_DETERMINISM=1` for every harness). A scheduler made with `new` ignores it.
    pub check_determinism: bool,
    /// Whether a blocked thread may park for real, waiting for other OS threads.
    pub allow_parking: bool,
    /// How many ticks `block_with_timeout` may run before it times out (a random draw).
    pub block_tick_range: RangeInclusive<usize>,
    /// What [`Scheduler::num_cpus`](crate::Scheduler::num_cpus) reports.
    pub num_cpus: usize,
    /// Record a [`TraceEvent`](crate::TraceEvent) for every spawn, run and end.
    pub trace: bool,
    /// Record a timeline (every poll, spawn, wake, timer, end and marked instant) for
    /// [`TestScheduler::timeline_json`](crate::TestScheduler::timeline_json), a Chrome trace /
    /// Perfetto file. The seed harness records one for every seed anyway (`TIMELINE=0` stops
    /// it) and writes it when a seed fails.
    pub timeline: bool,
}

impl Default for TestSchedulerConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            randomize_order: true,
            strategy: Strategy::Random,
            check_determinism: false,
            allow_parking: false,
            block_tick_range: 10..=1000,
            num_cpus: 4,
            trace: false,
            timeline: false,
        }
    }
}

impl TestSchedulerConfig {
    /// The default configuration with `seed`.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }
}
