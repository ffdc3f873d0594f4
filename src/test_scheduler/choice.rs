//! [`Chooser`]: which candidate the ready queue hands out at each tick, per
//! [`Strategy`], and the record of those choices that a replay file keeps.
//!
//! The default strategy stays on the hot path's shape: one enum match, one draw (two when
//! candidates of several priorities are ready: the band, weighted, then the candidate; see
//! `bands.rs`), no allocation and no closure call unless choices are being recorded (only under
//! the seed harness). The other strategies take `task_of`, which names the task behind each
//! candidate.
//!
//! Task priorities only weight the random strategy. PCT and the exhaustive search choose among
//! all the candidates, whatever their priority: no production backend guarantees an order
//! between bands (low work still progresses under high load, by design), so every order they
//! explore can happen, and PCT's bound on finding a bug of depth `d` needs every candidate.

use super::bands::{self, Lens};
use super::context::Directions;
use super::exhaustive::Exhaustive;
use super::pct::Pct;
use super::rng::Rng;
use super::strategy::Strategy;

pub(super) struct Chooser {
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
    pub(super) fn new(strategy: Strategy, seed: u64, directions: &Directions) -> Self {
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
    pub(super) fn choose(
        &mut self,
        rng: &mut Rng,
        lens: Lens,
        task_of: impl Fn(usize) -> u64,
    ) -> usize {
        let index = match &mut self.mode {
            Mode::Random => bands::pick_weighted(rng, lens),
            mode => choose_in(mode, rng, lens, &task_of),
        };
        if bands::total(lens) > 1 {
            self.choice_points += 1;
            if let Some(record) = &mut self.record {
                record.push(task_of(index));
            }
        }
        index
    }

    /// Ticks so far at which more than one candidate was ready.
    pub(super) fn choice_points(&self) -> u64 {
        self.choice_points
    }

    /// A task was spawned (PCT gives it its priority).
    #[inline]
    pub(super) fn task_spawned(&mut self, task: u64) {
        if let Some(pct) = self.pct() {
            pct.task_spawned(task);
        }
    }

    /// A task ended.
    #[inline]
    pub(super) fn task_ended(&mut self, task: u64) {
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
    pub(super) fn take_record(&mut self) -> Vec<u64> {
        self.record.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The exhaustive search's `(index, candidates)` per choice point, if that is the strategy.
    pub(super) fn exhaustive_taken(&self) -> Option<&[(u32, u32)]> {
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
    let len = bands::total(lens);
    match mode {
        Mode::Random => bands::pick_weighted(rng, lens),
        Mode::Pct(pct) => pct.choose(len, task_of),
        Mode::Exhaustive(search) => search.choose(len),
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
