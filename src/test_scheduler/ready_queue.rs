//! The runnables a [`TestScheduler`](super::TestScheduler) can run now.
//!
//! Background runnables are picked at random; foreground runnables keep FIFO order within their
//! session while sessions interleave at random; deprioritized runnables wait until nothing else
//! is ready. Every operation is O(1): a random pick is a swap-remove, never an insertion into
//! the middle of a queue.

use crate::{Runnable, SessionId, TaskKind};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// One candidate for the next pick.
enum Entry {
    /// A runnable that can be picked on its own.
    Runnable(Runnable),
    /// The head of a foreground session's FIFO queue.
    Session(Option<SessionId>),
}

pub(super) struct ReadyQueue {
    randomize: bool,
    entries: VecDeque<Entry>,
    sessions: FxHashMap<Option<SessionId>, VecDeque<Runnable>>,
    deprioritized: VecDeque<Runnable>,
    len: usize,
}

impl ReadyQueue {
    /// With `randomize` off, runnables run in the order they were scheduled.
    pub(super) fn new(randomize: bool) -> Self {
        Self {
            randomize,
            entries: VecDeque::new(),
            sessions: FxHashMap::default(),
            deprioritized: VecDeque::new(),
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn push(&mut self, runnable: Runnable, deprioritized: bool) {
        self.len += 1;
        let metadata = *runnable.metadata();
        if deprioritized {
            self.deprioritized.push_back(runnable);
        } else if metadata.kind() == TaskKind::Foreground && self.randomize {
            let queue = self.sessions.entry(metadata.session()).or_default();
            if queue.is_empty() {
                self.entries.push_back(Entry::Session(metadata.session()));
            }
            queue.push_back(runnable);
        } else {
            self.entries.push_back(Entry::Runnable(runnable));
        }
    }

    /// Takes the next runnable: a random ready one, or a deprioritized one if none is ready.
    pub(super) fn pop(&mut self, rng: &mut ChaCha8Rng) -> Option<Runnable> {
        let runnable = if !self.entries.is_empty() {
            self.pop_entry(rng)
        } else if !self.deprioritized.is_empty() {
            let index = self.pick(rng, self.deprioritized.len());
            self.deprioritized.swap_remove_back(index)
        } else {
            None
        };
        if runnable.is_some() {
            self.len -= 1;
        }
        runnable
    }

    fn pop_entry(&mut self, rng: &mut ChaCha8Rng) -> Option<Runnable> {
        let index = self.pick(rng, self.entries.len());
        match self.entries[index] {
            Entry::Runnable(_) => match self.entries.swap_remove_back(index) {
                Some(Entry::Runnable(runnable)) => Some(runnable),
                _ => unreachable!("entry changed under us"),
            },
            Entry::Session(session) => {
                let queue = self
                    .sessions
                    .get_mut(&session)
                    .expect("session queue exists");
                let runnable = queue.pop_front();
                if queue.is_empty() {
                    self.entries.swap_remove_back(index);
                }
                runnable
            }
        }
    }

    /// An index below `len`: random, or the front when randomization is off.
    fn pick(&self, rng: &mut ChaCha8Rng, len: usize) -> usize {
        if self.randomize {
            // Sampled as u64 so a seed picks the same index on 32- and 64-bit targets.
            rng.random_range(0..len as u64) as usize
        } else {
            0
        }
    }

    /// Removes the runnables `doomed` picks, keeping the others in order, for dropping outside
    /// the scheduler's lock.
    pub(super) fn remove_matching(
        &mut self,
        mut doomed: impl FnMut(&Runnable) -> bool,
    ) -> Vec<Runnable> {
        let mut removed = Vec::new();
        let mut kept = VecDeque::with_capacity(self.entries.len());
        for entry in self.entries.drain(..) {
            match entry {
                Entry::Runnable(runnable) if doomed(&runnable) => removed.push(runnable),
                Entry::Session(session) => {
                    let queue = self
                        .sessions
                        .get_mut(&session)
                        .expect("session queue exists");
                    let (dead, alive): (VecDeque<_>, VecDeque<_>) =
                        queue.drain(..).partition(|runnable| doomed(runnable));
                    removed.extend(dead);
                    *queue = alive;
                    if !queue.is_empty() {
                        kept.push_back(Entry::Session(session));
                    }
                }
                entry => kept.push_back(entry),
            }
        }
        self.entries = kept;
        let (dead, alive): (VecDeque<_>, VecDeque<_>) = self
            .deprioritized
            .drain(..)
            .partition(|runnable| doomed(runnable));
        removed.extend(dead);
        self.deprioritized = alive;
        self.len -= removed.len();
        removed
    }

    /// Removes every runnable, for dropping outside the scheduler's lock.
    pub(super) fn take_all(&mut self) -> Vec<Runnable> {
        let mut all = Vec::with_capacity(self.len);
        for entry in self.entries.drain(..) {
            if let Entry::Runnable(runnable) = entry {
                all.push(runnable);
            }
        }
        for (_, queue) in self.sessions.drain() {
            all.extend(queue);
        }
        all.extend(self.deprioritized.drain(..));
        self.len = 0;
        all
    }
}
