//! The runnables a [`TestScheduler`](crate::TestScheduler) can run now.
//!
//! Background runnables are picked at random, weighted by priority band (`bands.rs`);
//! foreground runnables keep FIFO order within their session, and a dedicated executor's
//! runnables within that executor, while these lanes interleave at random; deprioritized
//! runnables wait until nothing else is ready. Every operation is O(1): a random pick is a
//! swap-remove from a `Vec`, never an insertion into the middle of a queue.

use crate::test_scheduler::explore::Chooser;
use crate::test_scheduler::explore::pick::{self as bands, BANDS, Lens, Rng};
use crate::{Runnable, SessionId, TaskKind};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// One candidate for a random pick.
enum Entry {
    /// A runnable that can be picked on its own.
    Runnable(Runnable),
    /// The head of the FIFO lane at this index of `lanes` (in the band of that head).
    Lane(usize),
}

/// Which FIFO lane a runnable waits in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum LaneKey {
    /// The foreground runnables of a session (or of no session).
    Session(Option<SessionId>),
    /// The runnables of one simulated dedicated executor (keyed by its root task's id).
    Dedicated(u64),
}

/// The task id of a lane's head (the only one of its runnables that may run next).
fn lane_head(lane: &Lane) -> u64 {
    lane.runnables
        .front()
        .map_or(0, |runnable| runnable.metadata().id().as_u64())
}

/// The band of a runnable's priority.
#[inline]
fn band(runnable: &Runnable) -> usize {
    bands::band_of(runnable.metadata().priority())
}

/// A lane's runnables, in the order they were scheduled.
struct Lane {
    key: LaneKey,
    runnables: VecDeque<Runnable>,
}

pub(crate) struct ReadyQueue {
    order: Order,
    /// FIFO lanes that have runnables queued; a lane that empties is released (its slot
    /// reused), so a long simulation of many sessions stays small.
    lanes: Vec<Lane>,
    lane_index: FxHashMap<LaneKey, usize>,
    /// Released slots of `lanes`.
    free_lanes: Vec<usize>,
    /// The last lane looked up: most pushes come from the lane that just ran.
    last_lane: Option<(LaneKey, usize)>,
    deprioritized: Vec<Runnable>,
    len: usize,
    /// Dedicated executors whose (simulated) thread is held by one of their tasks blocking in
    /// `block`: their runnables wait, as on a real thread (one entry per blocking call).
    suspended: Vec<u64>,
}

enum Order {
    /// Random picks among entries, weighted by band (the default).
    Random(Bands<Entry>),
    /// Oldest first, across kinds, lanes and priorities; with each runnable, its dedicated
    /// executor's lane (0: none).
    Fifo(VecDeque<(Runnable, u64)>),
}

impl ReadyQueue {
    /// With `randomize` off, runnables run in the order they were scheduled.
    pub(crate) fn new(randomize: bool) -> Self {
        Self {
            order: if randomize {
                Order::Random(Bands::default())
            } else {
                Order::Fifo(VecDeque::new())
            },
            lanes: Vec::new(),
            lane_index: FxHashMap::default(),
            free_lanes: Vec::new(),
            last_lane: None,
            deprioritized: Vec::new(),
            len: 0,
            suspended: Vec::new(),
        }
    }

    /// Holds the runnables of dedicated executor `lane` back until [`resume`](Self::resume):
    /// one of its tasks blocks its thread.
    pub(crate) fn suspend(&mut self, lane: u64) {
        self.suspended.push(lane);
        if let Order::Random(entries) = &mut self.order
            && let Some(&index) = self.lane_index.get(&LaneKey::Dedicated(lane))
        {
            let taken = entries.take_all();
            for (band, entry) in taken {
                if !matches!(entry, Entry::Lane(at) if at == index) {
                    entries.push(band, entry);
                }
            }
        }
    }

    /// Lets the runnables of `lane` run again (see [`suspend`](Self::suspend)).
    pub(crate) fn resume(&mut self, lane: u64) {
        if let Some(at) = self.suspended.iter().rposition(|&held| held == lane) {
            self.suspended.remove(at);
        }
        if self.suspended.contains(&lane) {
            return;
        }
        if let Order::Random(entries) = &mut self.order
            && let Some(&index) = self.lane_index.get(&LaneKey::Dedicated(lane))
            && let Some(head) = self.lanes[index].runnables.front()
        {
            entries.push(band(head), Entry::Lane(index));
        }
    }

    /// The dedicated executors held back now, and the ids of their queued tasks.
    pub(crate) fn suspended(&self) -> Vec<(u64, Vec<u64>)> {
        let mut lanes: Vec<u64> = self.suspended.clone();
        lanes.sort_unstable();
        lanes.dedup();
        lanes
            .into_iter()
            .map(|lane| {
                let queued = match &self.order {
                    Order::Fifo(queue) => queue
                        .iter()
                        .filter(|(_, at)| *at == lane)
                        .map(|(runnable, _)| runnable.metadata().id().as_u64())
                        .collect(),
                    Order::Random(_) => self
                        .lane_index
                        .get(&LaneKey::Dedicated(lane))
                        .map(|&index| {
                            self.lanes[index]
                                .runnables
                                .iter()
                                .map(|runnable| runnable.metadata().id().as_u64())
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                (lane, queued)
            })
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Queues `runnable`; `dedicated` is the lane of a dedicated executor's runnable.
    pub(crate) fn push(&mut self, runnable: Runnable, deprioritized: bool, dedicated: u64) {
        self.len += 1;
        if deprioritized {
            self.deprioritized.push(runnable);
            return;
        }
        let metadata = runnable.metadata();
        let lane = match metadata.kind() {
            TaskKind::Foreground => Some(LaneKey::Session(metadata.session())),
            TaskKind::Dedicated => Some(LaneKey::Dedicated(dedicated)),
            TaskKind::Background | TaskKind::Timer => None,
        };
        match (&mut self.order, lane) {
            (Order::Fifo(queue), _) => queue.push_back((runnable, dedicated)),
            (Order::Random(entries), None) => {
                entries.push(band(&runnable), Entry::Runnable(runnable))
            }
            (Order::Random(_), Some(key)) => {
                let index = self.lane_queue(key);
                let queue = &mut self.lanes[index].runnables;
                let held =
                    matches!(key, LaneKey::Dedicated(lane) if self.suspended.contains(&lane));
                if queue.is_empty()
                    && !held
                    && let Order::Random(entries) = &mut self.order
                {
                    entries.push(band(&runnable), Entry::Lane(index));
                }
                queue.push_back(runnable);
            }
        }
    }

    /// Takes the next runnable: the one `chooser` picks among the ready candidates (by default
    /// at random, weighted by band), or among the deprioritized ones if none is ready.
    #[inline]
    pub(crate) fn pop(&mut self, rng: &mut Rng, chooser: &mut Chooser) -> Option<Runnable> {
        let lanes = &mut self.lanes;
        let suspended = &self.suspended;
        let runnable = match &mut self.order {
            Order::Fifo(queue) if suspended.is_empty() => {
                queue.pop_front().map(|(runnable, _)| runnable)
            }
            Order::Fifo(queue) => queue
                .iter()
                .position(|(_, lane)| *lane == 0 || !suspended.contains(lane))
                .and_then(|at| queue.remove(at))
                .map(|(runnable, _)| runnable),
            Order::Random(entries) => {
                let lens = entries.lens();
                if bands::total(lens) == 0 {
                    None
                } else {
                    let flat = chooser.choose(rng, lens, |flat| {
                        let (from, index) = bands::locate(lens, flat);
                        match entries.get(from, index) {
                            Entry::Runnable(runnable) => runnable.metadata().id().as_u64(),
                            Entry::Lane(lane) => lane_head(&lanes[*lane]),
                        }
                    });
                    let (from, index) = bands::locate(lens, flat);
                    match *entries.get(from, index) {
                        Entry::Runnable(_) => match entries.swap_remove(from, index) {
                            Entry::Runnable(runnable) => Some(runnable),
                            Entry::Lane(_) => unreachable!("entry changed under us"),
                        },
                        Entry::Lane(lane) => {
                            let queue = &mut lanes[lane].runnables;
                            let runnable = queue.pop_front();
                            match queue.front().map(band) {
                                None => {
                                    entries.swap_remove(from, index);
                                    self.release_lane(lane);
                                }
                                // The lane's new head has another priority: its entry moves.
                                Some(next) if next != from => {
                                    entries.swap_remove(from, index);
                                    entries.push(next, Entry::Lane(lane));
                                }
                                Some(_) => {}
                            }
                            runnable
                        }
                    }
                }
            }
        };
        let runnable = runnable.or_else(|| {
            if self.deprioritized.is_empty() {
                None
            } else {
                let deprioritized = &self.deprioritized;
                let index = chooser.choose(rng, [0, deprioritized.len(), 0], |index| {
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
    pub(crate) fn remove_matching(
        &mut self,
        mut doomed: impl FnMut(&Runnable) -> bool,
    ) -> Vec<Runnable> {
        let mut removed = Vec::new();
        match &mut self.order {
            Order::Fifo(queue) => {
                let (dead, alive): (VecDeque<_>, VecDeque<_>) =
                    queue.drain(..).partition(|(runnable, _)| doomed(runnable));
                removed.extend(dead.into_iter().map(|(runnable, _)| runnable));
                *queue = alive;
            }
            Order::Random(entries) => {
                let mut released = Vec::new();
                for (from, entry) in entries.take_all() {
                    match entry {
                        Entry::Runnable(runnable) if doomed(&runnable) => removed.push(runnable),
                        Entry::Lane(index) => {
                            let queue = &mut self.lanes[index].runnables;
                            let (dead, alive): (VecDeque<_>, VecDeque<_>) =
                                queue.drain(..).partition(|runnable| doomed(runnable));
                            removed.extend(dead);
                            *queue = alive;
                            match queue.front() {
                                None => released.push(index),
                                Some(head) => entries.push(band(head), Entry::Lane(index)),
                            }
                        }
                        entry => entries.push(from, entry),
                    }
                }
                // The lanes of suspended executors have no entry: gone through here.
                for lane in &self.suspended {
                    if let Some(&index) = self.lane_index.get(&LaneKey::Dedicated(*lane)) {
                        let queue = &mut self.lanes[index].runnables;
                        let (dead, alive): (VecDeque<_>, VecDeque<_>) =
                            queue.drain(..).partition(|runnable| doomed(runnable));
                        removed.extend(dead);
                        *queue = alive;
                        if queue.is_empty() && !released.contains(&index) {
                            released.push(index);
                        }
                    }
                }
                for index in released {
                    self.release_lane(index);
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

    /// Index of `key`'s lane in `lanes`, creating it on first use.
    fn lane_queue(&mut self, key: LaneKey) -> usize {
        if let Some((last, index)) = self.last_lane
            && last == key
        {
            return index;
        }
        let index = match self.lane_index.get(&key) {
            Some(&index) => index,
            None => {
                let index = match self.free_lanes.pop() {
                    Some(index) => {
                        self.lanes[index].key = key;
                        index
                    }
                    None => {
                        self.lanes.push(Lane {
                            key,
                            runnables: VecDeque::new(),
                        });
                        self.lanes.len() - 1
                    }
                };
                self.lane_index.insert(key, index);
                index
            }
        };
        self.last_lane = Some((key, index));
        index
    }

    /// Gives the emptied lane at `index` back for reuse by another lane.
    fn release_lane(&mut self, index: usize) {
        let key = self.lanes[index].key;
        self.lane_index.remove(&key);
        self.free_lanes.push(index);
        if self.last_lane.is_some_and(|(_, last)| last == index) {
            self.last_lane = None;
        }
    }

    /// How many lanes are held (for the tests of their release).
    #[cfg(test)]
    fn session_slots(&self) -> usize {
        self.lane_index.len()
    }

    /// Removes every runnable, for dropping outside the scheduler's lock.
    pub(crate) fn take_all(&mut self) -> Vec<Runnable> {
        let mut all = Vec::with_capacity(self.len);
        match &mut self.order {
            Order::Fifo(queue) => all.extend(queue.drain(..).map(|(runnable, _)| runnable)),
            Order::Random(entries) => all.extend(entries.take_all().into_iter().filter_map(
                |(_, entry)| match entry {
                    Entry::Runnable(runnable) => Some(runnable),
                    Entry::Lane(_) => None,
                },
            )),
        }
        for lane in &mut self.lanes {
            all.extend(lane.runnables.drain(..));
        }
        self.lanes.clear();
        self.lane_index.clear();
        self.free_lanes.clear();
        self.last_lane = None;
        all.append(&mut self.deprioritized);
        self.len = 0;
        all
    }
}

/// Items kept in one `Vec` per band.
pub(crate) struct Bands<T> {
    bands: [Vec<T>; BANDS],
}

impl<T> Default for Bands<T> {
    fn default() -> Self {
        Self {
            bands: [Vec::new(), Vec::new(), Vec::new()],
        }
    }
}

impl<T> Bands<T> {
    #[inline]
    pub(crate) fn lens(&self) -> Lens {
        [
            self.bands[0].len(),
            self.bands[1].len(),
            self.bands[2].len(),
        ]
    }

    #[inline]
    pub(crate) fn push(&mut self, band: usize, item: T) {
        self.bands[band].push(item);
    }

    #[inline]
    pub(crate) fn get(&self, band: usize, index: usize) -> &T {
        &self.bands[band][index]
    }

    /// Removes the item, moving the band's last one into its place (O(1)).
    #[inline]
    pub(crate) fn swap_remove(&mut self, band: usize, index: usize) -> T {
        self.bands[band].swap_remove(index)
    }

    /// Takes every item with its band, in band order then insertion order.
    pub(crate) fn take_all(&mut self) -> Vec<(usize, T)> {
        let mut all = Vec::with_capacity(bands::total(self.lens()));
        for (band, items) in self.bands.iter_mut().enumerate() {
            all.extend(items.drain(..).map(|item| (band, item)));
        }
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
            Some(SessionId::from_raw(session + 1)),
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
            queue.push(foreground(session * 2, session), false, 0);
            queue.push(foreground(session * 2 + 1, session), false, 0);
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
        assert!(queue.lanes.len() <= sessions as usize);
        for session in sessions..2 * sessions {
            queue.push(foreground(session * 2, session), false, 0);
            assert!(queue.pop(&mut rng, &mut chooser).is_some());
        }
        assert_eq!(queue.session_slots(), 0);
        assert_eq!(
            queue.lanes.len(),
            sessions as usize,
            "slots were reused, not added"
        );
    }
}
