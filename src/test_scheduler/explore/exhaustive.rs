//! The exhaustive strategy: depth-first enumeration of schedules, one per run.
//!
//! A run follows a *prefix* (the candidate index to take at each of its first choice points)
//! and takes candidate 0 after it, recording `(index taken, candidates)` at every choice point.
//! The next run's prefix changes the deepest choice with an untried alternative
//! ([`next_prefix`]); when there is none, every schedule has been run. Candidate indices name
//! the same candidates in every run as long as the test is deterministic: the ready queue's
//! order depends only on the choices made before.
//!
//! Candidate 0 is the first of the highest band, so a high-priority task that yields in a loop
//! waiting for a lower one would win every choice point forever. The guard is PCT's: a task
//! that wins [`STARVATION_LIMIT`] choice points in a row is demoted, and from then on the
//! default choice is the first candidate of a task not demoted (the search then skips the
//! schedules in which it spins longer; it still runs when it is the only candidate).

use super::pct::STARVATION_LIMIT;

/// One run of the search.
pub(crate) struct Exhaustive {
    prefix: Vec<u32>,
    /// `(index taken, number of candidates)` at each choice point so far.
    taken: Vec<(u32, u32)>,
    /// The task that won the last choice point, and how many in a row it won.
    last: u64,
    streak: u32,
    /// Tasks demoted for winning too many choice points in a row.
    demoted: Vec<u64>,
}

impl Exhaustive {
    pub(crate) fn new(prefix: Vec<u32>) -> Self {
        Self {
            prefix,
            taken: Vec::new(),
            last: 0,
            streak: 0,
            demoted: Vec::new(),
        }
    }

    /// The candidate to run among `len` (`task_of` names each one's task).
    pub(crate) fn choose(&mut self, len: usize, task_of: &impl Fn(usize) -> u64) -> usize {
        if len == 1 {
            return 0;
        }
        let point = self.taken.len();
        let index = match self.prefix.get(point) {
            Some(&index) => index,
            None if self.demoted.is_empty() => 0,
            None => (0..len)
                .find(|&index| !self.demoted.contains(&task_of(index)))
                .unwrap_or(0) as u32,
        };
        let count = u32::try_from(len).unwrap_or(u32::MAX);
        if index >= count {
            panic!(
                "non-determinism: the exhaustive search reached choice point {point} with {len} \
                 candidates, but an earlier run of the same schedule had more (it took candidate \
                 {index}). Something the test reads differs between runs: run it with \
                 CHECK_DETERMINISM=1 to find what."
            );
        }
        self.taken.push((index, count));
        let task = task_of(index as usize);
        if task == self.last {
            self.streak += 1;
            if self.streak >= STARVATION_LIMIT && !self.demoted.contains(&task) {
                self.demoted.push(task);
            }
        } else {
            (self.last, self.streak) = (task, 1);
        }
        index as usize
    }

    pub(crate) fn taken(&self) -> &[(u32, u32)] {
        &self.taken
    }
}

/// The prefix of the run after the one that took `taken`, or `None` when every schedule ran.
pub(crate) fn next_prefix(taken: &[(u32, u32)]) -> Option<Vec<u32>> {
    let deepest = taken
        .iter()
        .rposition(|&(index, count)| index + 1 < count)?;
    let mut prefix: Vec<u32> = taken[..deepest].iter().map(|&(index, _)| index).collect();
    prefix.push(taken[deepest].0 + 1);
    Some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enumerates a fixed tree: two choice points of 2 and 3 candidates = 6 schedules.
    #[test]
    fn enumerates_every_path_once_then_stops() {
        let mut prefix = Some(Vec::new());
        let mut paths = Vec::new();
        let task_of = |index: usize| index as u64 + 1;
        while let Some(current) = prefix {
            let mut run = Exhaustive::new(current);
            let path = (
                run.choose(2, &task_of),
                run.choose(1, &task_of),
                run.choose(3, &task_of),
            );
            paths.push(path);
            prefix = next_prefix(run.taken());
        }
        let expected: Vec<_> = (0..2)
            .flat_map(|a| (0..3).map(move |b| (a, 0, b)))
            .collect();
        assert_eq!(paths, expected);
    }

    /// Issue 20, defect 4: candidate 0 (a high-priority task yielding in a loop for a lower
    /// one) won every choice point forever. After the starvation limit it is demoted, and
    /// the lower task runs.
    #[test]
    fn a_task_winning_every_choice_point_is_demoted_after_the_limit() {
        let mut run = Exhaustive::new(Vec::new());
        let tasks = [7, 9]; // task 7, the spinner, is always candidate 0
        let task_of = |index: usize| tasks[index];
        let switched = (0..2 * STARVATION_LIMIT).find(|_| run.choose(2, &task_of) != 0);
        assert_eq!(switched, Some(STARVATION_LIMIT));
        // Alone, the demoted task still runs.
        assert_eq!(run.choose(1, &task_of), 0);
    }
}
