//! PCT (probabilistic concurrency testing) mapped onto async tasks.
//!
//! - A *step* is one tick at a **choice point**: a tick where more than one candidate was ready.
//!   Ticks with a single candidate cannot be preempted, so they are not counted (PCT paper,
//!   section 4.1, "identifying sequential execution"; shuttle does the same).
//! - *Threads* are tasks. A task gets its priority when it is spawned: a fresh draw from PCT's
//!   own generator, so it lands at a uniformly random rank among the tasks alive then (the
//!   dynamic form of PCT's random permutation). Its runnables carry that priority whenever they
//!   are ready: a poll is one step of the task.
//! - The *candidates* are what the ready queue may pick: every ready background runnable, the
//!   head of each foreground session queue (FIFO within a session still holds: a later
//!   foreground runnable of a session is not a candidate, however high its priority), and the
//!   deprioritized runnables only when nothing else is ready. The highest-priority candidate
//!   runs; ties (which the draws make practically impossible) go to the lower task id.
//! - `depth - 1` *change points* are distinct choice-point numbers drawn in `0..steps`; change
//!   point `i` (in draw order, 1-based) carries the value `i`, below every initial priority. At
//!   a change point the candidate about to run is given that value (so another runs), exactly as
//!   the paper lowers the running thread.
//! - A task that stays the highest candidate through [`STARVATION_LIMIT`] consecutive choice
//!   points (a spin loop of yields waiting for a lower-priority task) is moved below every
//!   other task, so that strict priorities cannot livelock a test. PCT proper never needs this
//!   for tests whose tasks wait by awaiting (a waiting task is not a candidate).
//!
//! Priorities and change points come from a generator seeded from the seed but separate from
//! the one behind `random_range` and `simulate_random_delay`, so a test that draws one more
//! random number keeps its PCT schedule.

use crate::test_scheduler::explore::pick::Rng;
use rand::{Rng as _, SeedableRng};
use rustc_hash::FxHashMap;

/// Consecutive choice points one task may win before it is moved below all others.
pub(crate) const STARVATION_LIMIT: u32 = 1_000;

/// Initial priorities are at least this; change-point values and demotions are below it.
const INITIAL: u64 = 1 << 63;
/// Change point `i` lowers a task to `CHANGE + i`.
const CHANGE: u64 = 1 << 62;

/// Distinguishes PCT's generator from the seed's main one.
const STREAM: u64 = 0x5043_545f_7072_696f; // "PCT_prio"

pub(crate) struct Pct {
    rng: Rng,
    /// Priority of every live task.
    priorities: FxHashMap<u64, u64>,
    /// `(choice point, value)`, sorted by choice point.
    change_points: Vec<(u64, u64)>,
    next_change: usize,
    /// Choice points so far.
    steps: u64,
    /// The task that won the last choice point, and how many in a row it won.
    last: u64,
    streak: u32,
    /// The next starvation demotion's value (counts down below the change-point values).
    floor: u64,
}

impl Pct {
    pub(crate) fn new(seed: u64, depth: u32, steps: u64) -> Self {
        let mut rng = Rng::seed_from_u64(seed ^ STREAM);
        let wanted = u64::from(depth.saturating_sub(1)).min(steps);
        let mut change_points: Vec<(u64, u64)> = Vec::with_capacity(wanted as usize);
        while (change_points.len() as u64) < wanted {
            let at = ((u128::from(rng.next_u64()) * u128::from(steps)) >> 64) as u64;
            if change_points.iter().all(|&(taken, _)| taken != at) {
                change_points.push((at, CHANGE + change_points.len() as u64 + 1));
            }
        }
        change_points.sort_unstable();
        Self {
            rng,
            priorities: FxHashMap::default(),
            change_points,
            next_change: 0,
            steps: 0,
            last: 0,
            streak: 0,
            floor: CHANGE,
        }
    }

    /// A new task: its priority, at a uniformly random rank among the live tasks.
    pub(crate) fn task_spawned(&mut self, task: u64) {
        let priority = INITIAL | (self.rng.next_u64() >> 1);
        self.priorities.insert(task, priority);
    }

    pub(crate) fn task_ended(&mut self, task: u64) {
        self.priorities.remove(&task);
    }

    /// The candidate to run among `len` (`task_of` names each one's task).
    pub(crate) fn choose(&mut self, len: usize, task_of: &impl Fn(usize) -> u64) -> usize {
        if len == 1 {
            return 0;
        }
        let step = self.steps;
        self.steps += 1;
        let mut best = self.best(len, task_of);
        while let Some(&(at, value)) = self.change_points.get(self.next_change)
            && at <= step
        {
            self.next_change += 1;
            self.priorities.insert(task_of(best), value);
            best = self.best(len, task_of);
        }
        let task = task_of(best);
        if task == self.last {
            self.streak += 1;
            if self.streak >= STARVATION_LIMIT {
                self.floor -= 1;
                self.priorities.insert(task, self.floor);
                best = self.best(len, task_of);
                self.last = task_of(best);
                self.streak = 1;
            }
        } else {
            self.last = task;
            self.streak = 1;
        }
        best
    }

    /// The highest-priority candidate (the lower task id on a tie).
    fn best(&mut self, len: usize, task_of: &impl Fn(usize) -> u64) -> usize {
        let mut best = (0, (0, std::cmp::Reverse(u64::MAX)));
        for index in 0..len {
            let task = task_of(index);
            let priority = self.priority(task);
            let key = (priority, std::cmp::Reverse(task));
            if index == 0 || key > best.1 {
                best = (index, key);
            }
        }
        best.0
    }

    /// `task`'s priority; a task never seen spawned (none today) gets one on first sight.
    fn priority(&mut self, task: u64) -> u64 {
        if let Some(&priority) = self.priorities.get(&task) {
            return priority;
        }
        self.task_spawned(task);
        self.priorities[&task]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_points_are_distinct_sorted_and_below_initial_priorities() {
        for seed in 0..200 {
            let pct = Pct::new(seed, 4, 5);
            assert_eq!(pct.change_points.len(), 3);
            assert!(
                pct.change_points
                    .windows(2)
                    .all(|pair| pair[0].0 < pair[1].0)
            );
            assert!(
                pct.change_points
                    .iter()
                    .all(|&(at, value)| at < 5 && value < INITIAL)
            );
        }
        assert_eq!(Pct::new(0, 1, 100).change_points.len(), 0, "depth 1: none");
        assert_eq!(Pct::new(0, 9, 2).change_points.len(), 2, "at most steps");
    }

    #[test]
    fn the_highest_priority_runs_until_a_change_point_lowers_it() {
        let mut pct = Pct::new(3, 2, 4);
        let (at, _) = pct.change_points[0];
        pct.task_spawned(1);
        pct.task_spawned(2);
        let tasks = [1, 2];
        let task_of = |index: usize| tasks[index];
        let top = if pct.priorities[&1] > pct.priorities[&2] {
            0
        } else {
            1
        };
        for step in 0..10 {
            let chosen = pct.choose(2, &task_of);
            if step < at {
                assert_eq!(chosen, top, "step {step}: no change point yet");
            } else {
                assert_ne!(chosen, top, "step {step}: lowered at step {at}");
            }
        }
    }

    #[test]
    fn a_spinning_top_task_is_lowered_after_the_starvation_limit() {
        let mut pct = Pct::new(1, 1, 10);
        pct.task_spawned(1);
        pct.task_spawned(2);
        let tasks = [1, 2];
        let task_of = |index: usize| tasks[index];
        let first = pct.choose(2, &task_of);
        let switched = (1..2 * STARVATION_LIMIT).find(|_| pct.choose(2, &task_of) != first);
        assert_eq!(switched, Some(STARVATION_LIMIT - 1));
    }
}
