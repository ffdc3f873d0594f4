//! The exhaustive strategy: depth-first enumeration of schedules, one per run.
//!
//! A run follows a *prefix* (the candidate index to take at each of its first choice points)
//! and takes candidate 0 after it, recording `(index taken, candidates)` at every choice point.
//! The next run's prefix changes the deepest choice with an untried alternative
//! ([`next_prefix`]); when there is none, every schedule has been run. Candidate indices name
//! the same candidates in every run as long as the test is deterministic: the ready queue's
//! order depends only on the choices made before.

/// One run of the search.
pub(crate) struct Exhaustive {
    prefix: Vec<u32>,
    /// `(index taken, number of candidates)` at each choice point so far.
    taken: Vec<(u32, u32)>,
}

impl Exhaustive {
    pub(crate) fn new(prefix: Vec<u32>) -> Self {
        Self {
            prefix,
            taken: Vec::new(),
        }
    }

    pub(crate) fn choose(&mut self, len: usize) -> usize {
        if len == 1 {
            return 0;
        }
        let point = self.taken.len();
        let index = self.prefix.get(point).copied().unwrap_or(0);
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
        while let Some(current) = prefix {
            let mut run = Exhaustive::new(current);
            let path = (run.choose(2), run.choose(1), run.choose(3));
            paths.push(path);
            prefix = next_prefix(run.taken());
        }
        let expected: Vec<_> = (0..2)
            .flat_map(|a| (0..3).map(move |b| (a, 0, b)))
            .collect();
        assert_eq!(paths, expected);
    }
}
