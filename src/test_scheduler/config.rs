//! [`TestSchedulerConfig`]: how a [`TestScheduler`](super::TestScheduler) behaves.

use std::ops::RangeInclusive;

/// How a [`TestScheduler`](super::TestScheduler) behaves. `TestSchedulerConfig::default()` is
/// seed 0 with random interleaving on.
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
    /// Pick a random ready runnable (the default) instead of the oldest one.
    pub randomize_order: bool,
    /// Whether a blocked thread may park for real, waiting for other OS threads.
    pub allow_parking: bool,
    /// How many ticks `block_with_timeout` may run before it times out (a random draw).
    pub block_tick_range: RangeInclusive<usize>,
    /// What [`Scheduler::num_cpus`](crate::Scheduler::num_cpus) reports.
    pub num_cpus: usize,
    /// Record a [`TraceEvent`](super::TraceEvent) for every spawn, run and end.
    pub trace: bool,
}

impl Default for TestSchedulerConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            randomize_order: true,
            allow_parking: false,
            block_tick_range: 10..=1000,
            num_cpus: 4,
            trace: false,
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
