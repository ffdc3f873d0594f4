//! [`Strategy`]: how a [`TestScheduler`](super::TestScheduler) explores interleavings, and its
//! text form (`random`, `pct:3:40`, `exhaustive`) used by `STRATEGY=` and replay files.

use std::fmt;
use std::str::FromStr;

/// How a [`TestScheduler`](super::TestScheduler) chooses the next ready runnable whenever more
/// than one could run (a *choice point*). Every strategy is deterministic per seed on every
/// target. Set it in [`TestSchedulerConfig::strategy`](super::TestSchedulerConfig::strategy), or
/// for a whole test run with `STRATEGY=random|pct[:depth[:steps]]|exhaustive`.
///
/// ```
/// use scheduler::{Strategy, TestScheduler, TestSchedulerConfig};
/// let config = TestSchedulerConfig {
///     strategy: Strategy::pct(2), // depth 2: one priority change point
///     ..TestSchedulerConfig::default()
/// };
/// TestScheduler::many_with(config, 50, async |test| {
///     let task = test.spawn(async { 1 + 1 });
///     assert_eq!(task.await, 2);
/// });
/// assert_eq!("pct:2:40".parse::<Strategy>(), Ok(Strategy::Pct { depth: 2, steps: 40 }));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// Uniform random choice among the ready candidates at every tick (the default).
    #[default]
    Random,
    /// Probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): every task gets a
    /// random priority when it is spawned; the highest-priority ready candidate always runs;
    /// at `depth - 1` choice points drawn from the seed in `0..steps`, the task about to run
    /// drops below every initial priority. A bug that needs `depth` ordering constraints is hit
    /// with probability at least `1 / (tasks * steps^(depth - 1))` per seed, however many
    /// steps the tasks take in between (uniform random needs them all to line up).
    Pct {
        /// The bug depth searched for: `depth - 1` priority change points (1: none).
        depth: u32,
        /// An estimate of the test's choice points (ticks with more than one ready candidate);
        /// change points are drawn in `0..steps`. Too large wastes change points past the end.
        steps: u64,
    },
    /// Depth-first enumeration of every schedule, one per run, for tiny tests: the first run
    /// takes the first candidate at every choice point, each next run changes the deepest
    /// choice that has an untried alternative. Bounded by the run's iteration count; random
    /// values (`random_range`, `simulate_random_delay`) come from the seed, not enumerated.
    /// Every schedule of a search has the same seed: a failing one is rerun with its replay
    /// file (`SEED=` runs only the search's first schedule).
    Exhaustive,
}

/// `steps` of [`Strategy::pct`] and of `STRATEGY=pct:<depth>`.
pub const DEFAULT_PCT_STEPS: u64 = 100;

/// `depth` of `STRATEGY=pct`.
pub const DEFAULT_PCT_DEPTH: u32 = 3;

impl Strategy {
    /// PCT with `depth` and [`DEFAULT_PCT_STEPS`] steps.
    pub fn pct(depth: u32) -> Self {
        Self::Pct {
            depth,
            steps: DEFAULT_PCT_STEPS,
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Random => f.write_str("random"),
            Strategy::Pct { depth, steps } => write!(f, "pct:{depth}:{steps}"),
            Strategy::Exhaustive => f.write_str("exhaustive"),
        }
    }
}

/// Why a strategy's text could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseStrategyError(String);

impl fmt::Display for ParseStrategyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a strategy: expected random, pct[:depth[:steps]] (depth >= 1) or \
             exhaustive",
            self.0
        )
    }
}

impl std::error::Error for ParseStrategyError {}

impl FromStr for Strategy {
    type Err = ParseStrategyError;

    /// `random`, `pct`, `pct:<depth>`, `pct:<depth>:<steps>`, `exhaustive` (or `dfs`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseStrategyError(text.to_string());
        let mut parts = text.trim().split(':');
        let strategy = match parts.next().unwrap_or_default() {
            "random" => Strategy::Random,
            "exhaustive" | "dfs" => Strategy::Exhaustive,
            "pct" => {
                let depth = match parts.next() {
                    Some(depth) => depth.parse().map_err(|_| error())?,
                    None => DEFAULT_PCT_DEPTH,
                };
                let steps = match parts.next() {
                    Some(steps) => steps.parse().map_err(|_| error())?,
                    None => DEFAULT_PCT_STEPS,
                };
                if depth == 0 {
                    return Err(error());
                }
                Strategy::Pct { depth, steps }
            }
            _ => return Err(error()),
        };
        match parts.next() {
            None => Ok(strategy),
            Some(_) => Err(error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_rejects_nonsense() {
        for strategy in [
            Strategy::Random,
            Strategy::Exhaustive,
            Strategy::Pct {
                depth: 3,
                steps: 40,
            },
        ] {
            assert_eq!(strategy.to_string().parse(), Ok(strategy));
        }
        assert_eq!("pct".parse(), Ok(Strategy::pct(DEFAULT_PCT_DEPTH)));
        assert_eq!("pct:2".parse(), Ok(Strategy::pct(2)));
        assert_eq!("dfs".parse(), Ok(Strategy::Exhaustive));
        for bad in ["", "pct:0", "pct:x", "pct:2:3:4", "random:1", "fifo"] {
            assert!(bad.parse::<Strategy>().is_err(), "{bad:?}");
        }
    }
}
