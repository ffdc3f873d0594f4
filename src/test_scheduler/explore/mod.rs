//! Exploration: how a [`TestScheduler`](crate::TestScheduler) chooses among ready candidates.
//! [`Strategy`] and its text form (`random`, `pct:3:40`, `exhaustive`) used by `STRATEGY=` and
//! replay files; what one scheduler is asked to do ([`Directions`]: a prefix to follow, a
//! [`Recording`] to replay, what to record); and the [`Chooser`] that answers at each tick.
//! The strategies live in `pct.rs` and `exhaustive.rs`, the seeded generator and its picks in
//! `pick.rs`, random values drawn by tests (recorded and replayed) in `draws.rs`. Nothing here
//! knows the engine: a strategy decides over candidate counts and the tasks behind them.

pub(crate) mod draws;
pub(crate) mod exhaustive;
mod pct;
pub(crate) mod pick;

use draws::Draw;
use exhaustive::Exhaustive;
use pct::Pct;
use pick::{Lens, Rng};
use std::fmt;
use std::str::FromStr;

/// How a [`TestScheduler`](crate::TestScheduler) chooses the next ready runnable whenever more
/// than one could run (a *choice point*). Every strategy is deterministic per seed on every
/// target. Set it in [`TestSchedulerConfig::strategy`](crate::TestSchedulerConfig::strategy), or
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
    /// file (`SEED=` runs only the search's first schedule). As with PCT, a task that wins
    /// 1,000 choice points in a row (a yield loop waiting for a lower-priority task) is
    /// demoted, so such a loop ends; the search skips the schedules where it spins longer.
    Exhaustive,
}

/// `steps` of [`Strategy::pct`] and of `STRATEGY=pct:<depth>`.
pub const DEFAULT_PCT_STEPS: u64 = 100;

/// `depth` of `STRATEGY=pct`.
pub const DEFAULT_PCT_DEPTH: u32 = 3;

/// The largest PCT `depth` accepted: `depth - 1` change points, and a bug of depth `d` is found
/// with probability about `1 / (tasks * steps^(d - 1))`, so deeper searches find nothing.
pub const MAX_PCT_DEPTH: u32 = 32;

/// The largest PCT `steps` accepted (an estimate of a test's choice points).
pub const MAX_PCT_STEPS: u64 = 1_000_000_000;

impl Strategy {
    /// PCT with `depth` and [`DEFAULT_PCT_STEPS`] steps.
    pub fn pct(depth: u32) -> Self {
        Self::Pct {
            depth,
            steps: DEFAULT_PCT_STEPS,
        }
    }

    /// Why this strategy cannot run, if it cannot: a PCT `depth` outside
    /// `1..=`[`MAX_PCT_DEPTH`] or `steps` outside `1..=`[`MAX_PCT_STEPS`]. Parsing checks it, and
    /// so does [`TestScheduler::new`](crate::TestScheduler::new) (a clear panic).
    pub(crate) fn check(&self) -> Result<(), String> {
        match *self {
            Strategy::Pct { depth, .. } if !(1..=MAX_PCT_DEPTH).contains(&depth) => Err(format!(
                "PCT depth {depth} is outside 1..={MAX_PCT_DEPTH} (depth - 1 priority change \
                 points; a bug of depth d is found with probability about 1/(tasks * \
                 steps^(d-1)))"
            )),
            Strategy::Pct { steps, .. } if !(1..=MAX_PCT_STEPS).contains(&steps) => Err(format!(
                "PCT steps {steps} is outside 1..={MAX_PCT_STEPS} (an estimate of the test's \
                 choice points: TestScheduler::choice_count at the end of a typical run)"
            )),
            _ => Ok(()),
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
pub struct ParseStrategyError {
    /// The text (cut short if long).
    text: String,
    /// What is wrong with a well-formed strategy (a value out of range); `None`: not a strategy.
    reason: Option<String>,
}

impl ParseStrategyError {
    fn new(text: &str, reason: Option<String>) -> Self {
        const SHOWN: usize = 64;
        let text = match text.char_indices().nth(SHOWN) {
            Some((end, _)) => format!("{}...", &text[..end]),
            None => text.to_string(),
        };
        Self { text, reason }
    }
}

impl fmt::Display for ParseStrategyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Some(reason) => write!(f, "{:?}: {reason}", self.text),
            None => write!(
                f,
                "{:?} is not a strategy: expected random, pct[:depth[:steps]] (depth in \
                 1..={MAX_PCT_DEPTH}, steps in 1..={MAX_PCT_STEPS}) or exhaustive",
                self.text
            ),
        }
    }
}

impl std::error::Error for ParseStrategyError {}

impl FromStr for Strategy {
    type Err = ParseStrategyError;

    /// `random`, `pct`, `pct:<depth>`, `pct:<depth>:<steps>`, `exhaustive` (or `dfs`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseStrategyError::new(text, None);
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
                let strategy = Strategy::Pct { depth, steps };
                strategy
                    .check()
                    .map_err(|reason| ParseStrategyError::new(text, Some(reason)))?;
                strategy
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

    /// Issue 20, defect 7: `pct:4294967295:18446744073709551615` aborted allocating 68 GB and
    /// `pct:200000:200000` hung in `TestScheduler::new`; both parsed. Now depth and steps are
    /// capped, with a message saying which bound.
    #[test]
    fn pct_depth_and_steps_out_of_range_are_clear_errors() {
        let error = "pct:4294967295:18446744073709551615"
            .parse::<Strategy>()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("PCT depth 4294967295 is outside 1..=32"),
            "{error}"
        );
        let error = "pct:200000:200000"
            .parse::<Strategy>()
            .unwrap_err()
            .to_string();
        assert!(error.contains("PCT depth 200000 is outside"), "{error}");
        let error = "pct:3:0".parse::<Strategy>().unwrap_err().to_string();
        assert!(error.contains("PCT steps 0 is outside 1..="), "{error}");
        let error = "pct:3:1000000001"
            .parse::<Strategy>()
            .unwrap_err()
            .to_string();
        assert!(error.contains("PCT steps 1000000001"), "{error}");
        let error = "pct:0".parse::<Strategy>().unwrap_err().to_string();
        assert!(error.contains("PCT depth 0 is outside"), "{error}");
        assert_eq!(
            format!("pct:{MAX_PCT_DEPTH}:{MAX_PCT_STEPS}").parse(),
            Ok(Strategy::Pct {
                depth: MAX_PCT_DEPTH,
                steps: MAX_PCT_STEPS
            })
        );
        let long = "x".repeat(10_000);
        let error = long.parse::<Strategy>().unwrap_err().to_string();
        assert!(error.len() < 300, "a long text is cut short: {error}");
    }
}

/// What one scheduler chose and drew: enough to replay its schedule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Recording {
    /// The task run at each choice point (a tick with more than one candidate).
    pub(crate) choices: Vec<u64>,
    pub(crate) draws: Vec<Draw>,
}

/// What one scheduler is asked to do.
#[derive(Clone, Debug, Default)]
pub(crate) struct Directions {
    pub(crate) prefix: Vec<u32>,
    pub(crate) replay: Option<Recording>,
    pub(crate) record: bool,
    pub(crate) audit: bool,
    pub(crate) timeline: bool,
}

// ---- choice --------------------------------------------------------------------------------------
// [`Chooser`]: which candidate the ready queue hands out at each tick, per
// [`Strategy`], and the record of those choices that a replay file keeps.
//
// The default strategy stays on the hot path's shape: one enum match, one draw (two when
// candidates of several priorities are ready: the band, weighted, then the candidate; see
// `bands.rs`), no allocation and no closure call unless choices are being recorded (only under
// the seed harness). The other strategies take `task_of`, which names the task behind each
// candidate.
//
// Task priorities only weight the random strategy. PCT and the exhaustive search choose among
// all the candidates, whatever their priority: no production backend guarantees an order
// between bands (low work still progresses under high load, by design), so every order they
// explore can happen, and PCT's bound on finding a bug of depth `d` needs every candidate.

pub(crate) struct Chooser {
    mode: Mode,
    /// Ticks so far at which more than one candidate was ready.
    choice_points: u64,
    /// The task chosen at every choice point (a tick with more than one candidate), while the
    /// seed harness records for a replay file.
    record: Option<Vec<u64>>,
}

enum Mode {
    Random,
    Pct(Box<Pct>),
    Exhaustive(Box<Exhaustive>),
    /// Follows recorded choices, then the strategy inside.
    Replay(Box<Replay>),
}

struct Replay {
    /// The strategy the recording was made with: it still makes its own choice at every tick
    /// (keeping its generator where the recorded run had it), and takes over once the
    /// recording ends.
    inner: Mode,
    choices: Vec<u64>,
    next: usize,
    /// Ticks so far (one choice per tick).
    ticks: u64,
}

impl Chooser {
    pub(crate) fn new(strategy: Strategy, seed: u64, directions: &Directions) -> Self {
        if let Err(reason) = strategy.check() {
            panic!("TestSchedulerConfig::strategy {strategy}: {reason}");
        }
        let mode = match strategy {
            Strategy::Random => Mode::Random,
            Strategy::Pct { depth, steps } => Mode::Pct(Box::new(Pct::new(seed, depth, steps))),
            Strategy::Exhaustive => {
                Mode::Exhaustive(Box::new(Exhaustive::new(directions.prefix.clone())))
            }
        };
        let mode = match &directions.replay {
            Some(recording) => Mode::Replay(Box::new(Replay {
                inner: mode,
                choices: recording.choices.clone(),
                next: 0,
                ticks: 0,
            })),
            None => mode,
        };
        Self {
            mode,
            choice_points: 0,
            record: directions.record.then(Vec::new),
        }
    }

    /// The flat index (bands concatenated, high first) of the candidate to run among `lens`
    /// per priority band (at least one in all); `task_of(index)` is the id of the task behind a
    /// candidate.
    #[inline]
    pub(crate) fn choose(
        &mut self,
        rng: &mut Rng,
        lens: Lens,
        task_of: impl Fn(usize) -> u64,
    ) -> usize {
        let index = match &mut self.mode {
            Mode::Random => pick::pick_weighted(rng, lens),
            mode => choose_in(mode, rng, lens, &task_of),
        };
        if pick::total(lens) > 1 {
            self.choice_points += 1;
            if let Some(record) = &mut self.record {
                record.push(task_of(index));
            }
        }
        index
    }

    /// Ticks so far at which more than one candidate was ready.
    pub(crate) fn choice_points(&self) -> u64 {
        self.choice_points
    }

    /// A task was spawned (PCT gives it its priority).
    #[inline]
    pub(crate) fn task_spawned(&mut self, task: u64) {
        if let Some(pct) = self.pct() {
            pct.task_spawned(task);
        }
    }

    /// A task ended.
    #[inline]
    pub(crate) fn task_ended(&mut self, task: u64) {
        if let Some(pct) = self.pct() {
            pct.task_ended(task);
        }
    }

    fn pct(&mut self) -> Option<&mut Pct> {
        let mut mode = &mut self.mode;
        loop {
            match mode {
                Mode::Random | Mode::Exhaustive(_) => return None,
                Mode::Pct(pct) => return Some(pct),
                Mode::Replay(replay) => mode = &mut replay.inner,
            }
        }
    }

    /// The recorded choices (empty unless recording), leaving the record empty.
    pub(crate) fn take_record(&mut self) -> Vec<u64> {
        self.record.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The exhaustive search's `(index, candidates)` per choice point, if that is the strategy.
    pub(crate) fn exhaustive_taken(&self) -> Option<&[(u32, u32)]> {
        let mut mode = &self.mode;
        loop {
            match mode {
                Mode::Exhaustive(search) => return Some(search.taken()),
                Mode::Replay(replay) => mode = &replay.inner,
                Mode::Random | Mode::Pct(_) => return None,
            }
        }
    }
}

fn choose_in(mode: &mut Mode, rng: &mut Rng, lens: Lens, task_of: &impl Fn(usize) -> u64) -> usize {
    let len = pick::total(lens);
    match mode {
        Mode::Random => pick::pick_weighted(rng, lens),
        Mode::Pct(pct) => pct.choose(len, task_of),
        Mode::Exhaustive(search) => search.choose(len, task_of),
        Mode::Replay(replay) => {
            let own = choose_in(&mut replay.inner, rng, lens, task_of);
            let tick = replay.ticks;
            replay.ticks += 1;
            if len == 1 {
                return own;
            }
            let Some(&wanted) = replay.choices.get(replay.next) else {
                return own;
            };
            replay.next += 1;
            match (0..len).find(|&index| task_of(index) == wanted) {
                Some(index) => index,
                None => diverged(tick, replay.next - 1, wanted, len, task_of),
            }
        }
    }
}

#[cold]
#[inline(never)]
fn diverged(
    tick: u64,
    choice: usize,
    wanted: u64,
    len: usize,
    task_of: &impl Fn(usize) -> u64,
) -> ! {
    let mut ready: Vec<u64> = (0..len).map(task_of).collect();
    ready.sort_unstable();
    let ready: Vec<String> = ready.iter().map(|task| format!("task#{task}")).collect();
    panic!(
        "REPLAY diverged at tick {tick} (choice {choice} of the file): the recorded schedule runs \
         task#{wanted} next, but it is not ready; ready: {}. The code changed what the schedule \
         depends on (which tasks are spawned in which order, or how often a task is polled \
         before this point), or the test is not deterministic (CHECK_DETERMINISM=1 finds out).",
        ready.join(", ")
    )
}
