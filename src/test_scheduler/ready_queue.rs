//! The runnables a [`TestScheduler`](super::TestScheduler) can run now.
//!
//! Background runnables are picked at random; foreground runnables keep FIFO order within their
//! session while sessions interleave at random; deprioritized runnables wait until nothing else
//! is ready. Every operation is O(1): a random pick is a swap-remove from a `Vec`, never an
//! insertion into the middle of a queue.

use super::choice::Chooser;
use super::rng::Rng;
use crate::{Runnable, SessionId, TaskKind};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// One candidate for a random pick.
enum Entry {
    /// A runnable that can be picked on its own.
    Runnable(Runnable),
    /// The head of the foreground session queue at this index of `sessions`.
    Session(usize),
}

/// The task id of a session queue's head (the only one of its runnables that may run next).
fn session_head(queue: &SessionQueue) -> u64 {
    queue
        .runnables
        .front()
        .map_or(0, |runnable| runnable.metadata().id().as_u64())
}

/// A foreground session's runnables, in the order they were scheduled.
struct SessionQueue {
    session: Option<SessionId>,
    runnables: VecDeque<Runnable>,
}

pub(super) struct ReadyQueue {
    order: Order,
    /// Foreground queues of the sessions that have runnables queued; a queue that empties is
    /// released (its slot reused), so a long simulation of many sessions stays small.
    sessions: Vec<SessionQueue>,
    session_index: FxHashMap<Option<SessionId>, usize>,
    /// Released slots of `sessions`.
    free_sessions: Vec<usize>,
    /// The last session looked up: most pushes come from the session that just ran.
    last_session: Option<(Option<SessionId>, usize)>,
    deprioritized: Vec<Runnable>,
    len: usize,
}

enum Order {
    /// Random picks among entries (the default).
    Random(Vec<Entry>),
    /// Oldest first, across kinds and sessions.
    Fifo(VecDeque<Runnable>),
}

impl ReadyQueue {
    /// With `randomize` off, runnables run in the order they were scheduled.
    pub(super) fn new(randomize: bool) -> Self {
        Self {
            order: if randomize {
                Order::Random(Vec::new())
            } else {
                Order::Fifo(VecDeque::new())
            },
            sessions: Vec::new(),
            session_index: FxHashMap::default(),
            free_sessions: Vec::new(),
            last_session: None,
            deprioritized: Vec::new(),
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn push(&mut self, runnable: Runnable, deprioritized: bool) {
        self.len += 1;
        if deprioritized {
            self.deprioritized.push(runnable);
            return;
        }
        let foreground = runnable.metadata().kind() == TaskKind::Foreground;
        match &mut self.order {
            Order::Fifo(queue) => queue.push_back(runnable),
            Order::Random(entries) if !foreground => entries.push(Entry::Runnable(runnable)),
            Order::Random(_) => {
                let index = self.session_queue(runnable.metadata().session());
                let queue = &mut self.sessions[index].runnables;
                if queue.is_empty()
                    && let Order::Random(entries) = &mut self.order
                {
                    entries.push(Entry::Session(index));
                }
                queue.push_back(runnable);
            }
        }
    }

    /// Takes the next runnable: the one `chooser` picks among the ready candidates (by default
    /// a random one), or among the deprioritized ones if none is ready.
    #[inline]
    pub(super) fn pop(&mut self, rng: &mut Rng, chooser: &mut Chooser) -> Option<Runnable> {
        let sessions = &mut self.sessions;
        let runnable = match &mut self.order {
            Order::Fifo(queue) => queue.pop_front(),
            Order::Random(entries) if entries.is_empty() => None,
            Order::Random(entries) => {
                let index = chooser.choose(rng, entries.len(), |index| match &entries[index] {
                    Entry::Runnable(runnable) => runnable.metadata().id().as_u64(),
                    Entry::Session(session) => session_head(&sessions[*session]),
                });
                match entries[index] {
                    Entry::Runnable(_) => match entries.swap_remove(index) {
                        Entry::Runnable(runnable) => Some(runnable),
                        Entry::Session(_) => unreachable!("entry changed under us"),
                    },
                    Entry::Session(session) => {
                        let queue = &mut sessions[session].runnables;
                        let runnable = queue.pop_front();
                        if queue.is_empty() {
                            entries.swap_remove(index);
                            self.release_session(session);
                        }
                        runnable
                    }
                }
            }
        };
        let runnable = runnable.or_else(|| {
            if self.deprioritized.is_empty() {
                None
            } else {
                let deprioritized = &self.deprioritized;
                let index = chooser.choose(rng, deprioritized.len(), |index| {
                    deprioritized[index].metadata().id().as_u64()
                });
                Some(self.deprioritized.swap_remove(index))
            }
        });
        if runnable.is_some() {
            self.len -= 1;
        }
        runnable
    }

    /// Removes the runnables `doomed` picks, keeping the others in their order, for dropping
    /// outside the scheduler's state borrow.
    pub(super) fn remove_matching(
        &mut self,
        mut doomed: impl FnMut(&Runnable) -> bool,
    ) -> Vec<Runnable> {
        let mut removed = Vec::new();
        match &mut self.order {
            Order::Fifo(queue) => {
                let (dead, alive): (VecDeque<_>, VecDeque<_>) =
                    queue.drain(..).partition(|runnable| doomed(runnable));
                removed.extend(dead);
                *queue = alive;
            }
            Order::Random(entries) => {
                let mut kept = Vec::with_capacity(entries.len());
                let mut released = Vec::new();
                for entry in entries.drain(..) {
                    match entry {
                        Entry::Runnable(runnable) if doomed(&runnable) => removed.push(runnable),
                        Entry::Session(index) => {
                            let queue = &mut self.sessions[index].runnables;
                            let (dead, alive): (VecDeque<_>, VecDeque<_>) =
                                queue.drain(..).partition(|runnable| doomed(runnable));
                            removed.extend(dead);
                            *queue = alive;
                            if queue.is_empty() {
                                released.push(index);
                            } else {
                                kept.push(Entry::Session(index));
                            }
                        }
                        entry => kept.push(entry),
                    }
                }
                *entries = kept;
                for index in released {
                    self.release_session(index);
                }
            }
        }
        let (dead, alive): (Vec<_>, Vec<_>) = self
            .deprioritized
            .drain(..)
            .partition(|runnable| doomed(runnable));
        removed.extend(dead);
        self.deprioritized = alive;
        self.len -= removed.len();
        removed
    }

    /// Index of `session`'s queue in `sessions`, creating it on first use.
    fn session_queue(&mut self, session: Option<SessionId>) -> usize {
        if let Some((last, index)) = self.last_session
            && last == session
        {
            return index;
        }
        let index = match self.session_index.get(&session) {
            Some(&index) => index,
            None => {
                let index = match self.free_sessions.pop() {
                    Some(index) => {
                        self.sessions[index].session = session;
                        index
                    }
                    None => {
                        self.sessions.push(SessionQueue {
                            session,
                            runnables: VecDeque::new(),
                        });
                        self.sessions.len() - 1
                    }
                };
                self.session_index.insert(session, index);
                index
            }
        };
        self.last_session = Some((session, index));
        index
    }

    /// Gives the emptied queue at `index` back for reuse by another session.
    fn release_session(&mut self, index: usize) {
        let session = self.sessions[index].session;
        self.session_index.remove(&session);
        self.free_sessions.push(index);
        if self.last_session.is_some_and(|(_, last)| last == index) {
            self.last_session = None;
        }
    }

    /// How many session queues are held (for the tests of their release).
    #[cfg(test)]
    fn session_slots(&self) -> usize {
        self.session_index.len()
    }

    /// Removes every runnable, for dropping outside the scheduler's lock.
    pub(super) fn take_all(&mut self) -> Vec<Runnable> {
        let mut all = Vec::with_capacity(self.len);
        match &mut self.order {
            Order::Fifo(queue) => all.extend(queue.drain(..)),
            Order::Random(entries) => {
                all.extend(entries.drain(..).filter_map(|entry| match entry {
                    Entry::Runnable(runnable) => Some(runnable),
                    Entry::Session(_) => None,
                }))
            }
        }
        for session in &mut self.sessions {
            all.extend(session.runnables.drain(..));
        }
        self.sessions.clear();
        self.session_index.clear();
        self.free_sessions.clear();
        self.last_session = None;
        all.append(&mut self.deprioritized);
        self.len = 0;
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TaskId, TaskMetadata};
    use rand::SeedableRng;
    use std::panic::Location;

    fn foreground(id: u64, session: u64) -> Runnable {
        let metadata = TaskMetadata::new(
            TaskId::from_raw(id),
            None,
            Some(SessionId::from_raw(session)),
            Location::caller(),
            TaskKind::Foreground,
        );
        // A plain `spawn` (not `spawn_local`): the queue only looks at the metadata, and the
        // runnables are dropped on this thread either way.
        async_task::Builder::new()
            .metadata(metadata)
            .spawn(|_| async {}, drop)
            .0
    }

    /// Suspected unbounded growth, confirmed and fixed: the queue kept one slot per session
    /// ever seen. Now a session's slot is released when its queue empties, and reused.
    #[test]
    fn session_queues_are_released_when_they_empty_and_reused() {
        // Fewer under Miri, whose interpreter is slow; the property does not depend on the size.
        let sessions: u64 = if cfg!(miri) { 64 } else { 1_000 };
        let mut queue = ReadyQueue::new(true);
        let mut rng = Rng::seed_from_u64(1);
        let mut chooser = Chooser::new(Default::default(), 1, &Default::default());
        for session in 0..sessions {
            queue.push(foreground(session * 2, session), false);
            queue.push(foreground(session * 2 + 1, session), false);
        }
        assert_eq!(queue.session_slots(), sessions as usize);
        let mut order = Vec::new();
        while let Some(runnable) = queue.pop(&mut rng, &mut chooser) {
            order.push(runnable.metadata().id().as_u64());
        }
        assert_eq!(order.len(), 2 * sessions as usize);
        for session in 0..sessions {
            let first = order.iter().position(|&id| id == session * 2).unwrap();
            let second = order.iter().position(|&id| id == session * 2 + 1).unwrap();
            assert!(first < second, "FIFO within session {session}");
        }
        assert_eq!(
            queue.session_slots(),
            0,
            "every emptied session was released"
        );
        assert!(queue.sessions.len() <= sessions as usize);
        for session in sessions..2 * sessions {
            queue.push(foreground(session * 2, session), false);
            assert!(queue.pop(&mut rng, &mut chooser).is_some());
        }
        assert_eq!(queue.session_slots(), 0);
        assert_eq!(
            queue.sessions.len(),
            sessions as usize,
            "slots were reused, not added"
        );
    }
}
