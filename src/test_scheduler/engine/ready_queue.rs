//! The runnables a [`TestScheduler`](crate::TestScheduler) can run now.
//!
//! Background runnables are picked at random, weighted by priority band (`explore/pick.rs`);
//! foreground runnables keep FIFO order within their session, and a dedicated executor's
//! runnables within that executor, while these lanes interleave at random; deprioritized
//! runnables wait until nothing else is ready. Every operation is O(1): a random pick is a
//! swap-remove from a `Vec`, never an insertion into the middle of a queue. A candidate is one
//! word ([`Entry`]): a queued task costs the queue 8 bytes, as in a bare `Vec<Runnable>`.

use crate::test_scheduler::explore::Chooser;
use crate::test_scheduler::explore::pick::{self as bands, BANDS, Lens, Rng};
use crate::{Runnable, SessionId, TaskKind};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

/// One candidate for a random pick, in one word: a runnable that can be picked on its own (the
/// pointer of [`Runnable::into_raw`], even: a task's header is word-aligned), or the head of
/// the FIFO lane at index `i` of `lanes`, in the band of that head (`i << 1 | 1`, an address
/// without provenance: a number, never dereferenced).
///
/// An entry of a runnable owns it: it is neither `Copy` nor `Clone`, and turns back into the
/// runnable exactly once ([`Entry::into_runnable`]); [`Candidates`] does that for the entries
/// still queued when it is dropped.
struct Entry(NonNull<()>);

// SAFETY: an entry is either a number or the sole owner of a `Runnable`, which is `Send`.
unsafe impl Send for Entry {}

impl Entry {
    #[inline]
    fn runnable(runnable: Runnable) -> Self {
        let raw = runnable.into_raw();
        debug_assert_eq!(raw.addr().get() & 1, 0, "task headers are word-aligned");
        Self(raw)
    }

    #[inline]
    fn lane(index: usize) -> Self {
        let tagged = std::ptr::without_provenance_mut::<()>(index << 1 | 1);
        Self(NonNull::new(tagged).expect("the low bit is set"))
    }

    /// The lane index of a lane entry; `None` for a runnable.
    #[inline]
    fn lane_index(&self) -> Option<usize> {
        let addr = self.0.addr().get();
        (addr & 1 == 1).then_some(addr >> 1)
    }

    /// The id of the task of a runnable entry.
    #[inline]
    fn task_id(&self) -> u64 {
        debug_assert!(self.lane_index().is_none());
        // SAFETY: a runnable entry holds the pointer `Runnable::into_raw` gave (see `runnable`),
        // and owns that runnable, which is alive until the entry turns back into it. The
        // `Runnable` made here only reads the task's metadata and is never dropped or run
        // (`ManuallyDrop`), so the entry stays the runnable's only owner.
        let runnable = ManuallyDrop::new(unsafe { Runnable::from_raw(self.0) });
        runnable.metadata().id().as_u64()
    }

    /// The runnable of a runnable entry (the entry is consumed); `None` for a lane entry.
    #[inline]
    fn into_runnable(self) -> Option<Runnable> {
        if self.lane_index().is_some() {
            return None;
        }
        // SAFETY: the pointer came from `Runnable::into_raw` (see `runnable`), and this entry,
        // its only owner (neither `Copy` nor `Clone`), is consumed here: the runnable is rebuilt
        // exactly once.
        Some(unsafe { Runnable::from_raw(self.0) })
    }
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
    /// How many of `runnables` are in each band: while they are all in one band, the band of
    /// the next head is known without reading that runnable's header.
    per_band: [u32; BANDS],
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
    /// In FIFO order, the lane of each queued runnable of a dedicated executor (by task id: a
    /// task has at most one runnable), so the queue's entries stay one word.
    fifo_lanes: FxHashMap<u64, u64>,
}

enum Order {
    /// Random picks among entries, weighted by band (the default).
    Random(Candidates),
    /// Oldest first, across kinds, lanes and priorities.
    Fifo(VecDeque<Runnable>),
}

impl ReadyQueue {
    /// With `randomize` off, runnables run in the order they were scheduled.
    pub(crate) fn new(randomize: bool) -> Self {
        Self {
            order: if randomize {
                Order::Random(Candidates::default())
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
            fifo_lanes: FxHashMap::default(),
        }
    }

    /// Holds the runnables of dedicated executor `lane` back until [`resume`](Self::resume):
    /// one of its tasks blocks its thread.
    pub(crate) fn suspend(&mut self, lane: u64) {
        self.suspended.push(lane);
        if let Order::Random(candidates) = &mut self.order
            && let Some(&index) = self.lane_index.get(&LaneKey::Dedicated(lane))
        {
            for (band, entry) in candidates.take_all() {
                if entry.lane_index() != Some(index) {
                    candidates.push(band, entry);
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
        if let Order::Random(candidates) = &mut self.order
            && let Some(&index) = self.lane_index.get(&LaneKey::Dedicated(lane))
            && let Some(head) = self.lanes[index].runnables.front()
        {
            candidates.push(band(head), Entry::lane(index));
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
                        .map(|runnable| runnable.metadata().id().as_u64())
                        .filter(|id| self.fifo_lanes.get(id) == Some(&lane))
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

    /// Whether a runnable at the front of the FIFO queue may run now (its dedicated executor,
    /// if any, is not held), forgetting its lane if so.
    fn fifo_runnable_free(&mut self, runnable: &Runnable) -> bool {
        let metadata = runnable.metadata();
        if metadata.kind() != TaskKind::Dedicated {
            return true;
        }
        let id = metadata.id().as_u64();
        match self.fifo_lanes.get(&id) {
            Some(lane) if self.suspended.contains(lane) => false,
            _ => {
                self.fifo_lanes.remove(&id);
                true
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Queues `runnable`; `dedicated` is the lane of a dedicated executor's runnable.
    #[inline(always)]
    pub(crate) fn push(&mut self, runnable: Runnable, deprioritized: bool, dedicated: u64) {
        self.len += 1;
        if deprioritized {
            self.deprioritized.push(runnable);
            return;
        }
        let kind = runnable.metadata().kind();
        match (&mut self.order, kind) {
            (Order::Random(candidates), TaskKind::Background | TaskKind::Timer) => {
                candidates.push(band(&runnable), Entry::runnable(runnable));
            }
            (Order::Fifo(queue), TaskKind::Dedicated) => {
                self.fifo_lanes
                    .insert(runnable.metadata().id().as_u64(), dedicated);
                queue.push_back(runnable);
            }
            (Order::Fifo(queue), _) => queue.push_back(runnable),
            (Order::Random(_), _) => self.push_to_lane(runnable, dedicated),
        }
    }

    /// Queues a foreground or dedicated runnable at the end of its lane; a lane that was empty
    /// becomes a candidate (unless its dedicated executor is held).
    #[inline(never)]
    fn push_to_lane(&mut self, runnable: Runnable, dedicated: u64) {
        let metadata = runnable.metadata();
        let key = match metadata.kind() {
            TaskKind::Dedicated => LaneKey::Dedicated(dedicated),
            _ => LaneKey::Session(metadata.session()),
        };
        let index = self.lane_queue(key);
        let band = band(&runnable);
        let held = matches!(key, LaneKey::Dedicated(lane) if self.suspended.contains(&lane));
        let lane = &mut self.lanes[index];
        if lane.runnables.is_empty()
            && !held
            && let Order::Random(candidates) = &mut self.order
        {
            candidates.push(band, Entry::lane(index));
        }
        lane.per_band[band] += 1;
        lane.runnables.push_back(runnable);
    }

    /// Takes the next runnable: the one `chooser` picks among the ready candidates (by default
    /// at random, weighted by band), or among the deprioritized ones if none is ready.
    #[inline(always)]
    pub(crate) fn pop(&mut self, rng: &mut Rng, chooser: &mut Chooser) -> Option<Runnable> {
        // The common cases, inline: oldest first; or plain random choices among medium
        // candidates only (the draw `Chooser::choose` would make: one uniform pick in the
        // medium band).
        if let Order::Fifo(queue) = &mut self.order
            && self.suspended.is_empty()
            && self.fifo_lanes.is_empty()
            && let Some(runnable) = queue.pop_front()
        {
            self.len -= 1;
            return Some(runnable);
        }
        if let Order::Random(candidates) = &mut self.order {
            let len = candidates.bands[1].len();
            if len != 0
                && candidates.bands[0].is_empty()
                && candidates.bands[2].is_empty()
                && chooser.is_plain_random()
            {
                let index = bands::pick(rng, len);
                chooser.chose(len);
                self.len -= 1;
                return match candidates.bands[1][index].lane_index() {
                    None => candidates.swap_remove(1, index).into_runnable(),
                    Some(lane) => self.pop_lane(1, index, lane),
                };
            }
        }
        self.pop_chosen(rng, chooser)
    }

    /// `pop` through the chooser (any strategy, recorded choices, several bands).
    fn pop_chosen(&mut self, rng: &mut Rng, chooser: &mut Chooser) -> Option<Runnable> {
        let runnable = match &mut self.order {
            Order::Fifo(_) => self.pop_fifo_free(),
            Order::Random(candidates) => {
                let lens = candidates.lens();
                if bands::total(lens) == 0 {
                    None
                } else {
                    let lanes = &self.lanes;
                    let flat = chooser.choose(rng, lens, |flat| {
                        let (from, index) = bands::locate(lens, flat);
                        let entry = candidates.get(from, index);
                        match entry.lane_index() {
                            None => entry.task_id(),
                            Some(lane) => lane_head(&lanes[lane]),
                        }
                    });
                    let (from, index) = bands::locate(lens, flat);
                    match candidates.get(from, index).lane_index() {
                        None => candidates.swap_remove(from, index).into_runnable(),
                        Some(lane) => self.pop_lane(from, index, lane),
                    }
                }
            }
        };
        let runnable = runnable.or_else(|| self.pop_deprioritized(rng, chooser));
        if runnable.is_some() {
            self.len -= 1;
        }
        runnable
    }

    /// The oldest runnable whose dedicated executor (if any) is not held.
    fn pop_fifo_free(&mut self) -> Option<Runnable> {
        let Order::Fifo(queue) = &mut self.order else {
            return None;
        };
        let mut queue = std::mem::take(queue);
        let at = (0..queue.len()).find(|&at| self.fifo_runnable_free(&queue[at]));
        let runnable = at.and_then(|at| queue.remove(at));
        self.order = Order::Fifo(queue);
        runnable
    }

    /// Takes the head of lane `lane`, the candidate at `index` of band `from`.
    fn pop_lane(&mut self, from: usize, index: usize, lane: usize) -> Option<Runnable> {
        let Order::Random(candidates) = &mut self.order else {
            return None;
        };
        let queue = &mut self.lanes[lane];
        let runnable = queue.runnables.pop_front();
        queue.per_band[from] -= 1;
        if queue.runnables.is_empty() {
            candidates.swap_remove(from, index);
            self.release_lane(lane);
        } else if queue.per_band[from] as usize != queue.runnables.len() {
            // Runnables of several bands wait in the lane: if the new head has another
            // priority, the lane's entry moves to its band.
            let next = queue.runnables.front().map_or(from, band);
            if next != from {
                let entry = candidates.swap_remove(from, index);
                candidates.push(next, entry);
            }
        }
        runnable
    }

    #[cold]
    fn pop_deprioritized(&mut self, rng: &mut Rng, chooser: &mut Chooser) -> Option<Runnable> {
        if self.deprioritized.is_empty() {
            return None;
        }
        let deprioritized = &self.deprioritized;
        let index = chooser.choose(rng, [0, deprioritized.len(), 0], |index| {
            deprioritized[index].metadata().id().as_u64()
        });
        Some(self.deprioritized.swap_remove(index))
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
                    queue.drain(..).partition(|runnable| doomed(runnable));
                for runnable in &dead {
                    self.fifo_lanes.remove(&runnable.metadata().id().as_u64());
                }
                removed.extend(dead);
                *queue = alive;
            }
            Order::Random(candidates) => {
                let mut released = Vec::new();
                for (from, entry) in candidates.take_all() {
                    match entry.lane_index() {
                        Some(index) => {
                            let lane = &mut self.lanes[index];
                            let (dead, alive): (VecDeque<_>, VecDeque<_>) = lane
                                .runnables
                                .drain(..)
                                .partition(|runnable| doomed(runnable));
                            removed.extend(dead);
                            lane.per_band = [0; BANDS];
                            for runnable in &alive {
                                lane.per_band[band(runnable)] += 1;
                            }
                            lane.runnables = alive;
                            match lane.runnables.front() {
                                None => released.push(index),
                                Some(head) => candidates.push(band(head), Entry::lane(index)),
                            }
                        }
                        None => {
                            let runnable = entry.into_runnable().expect("a runnable entry");
                            if doomed(&runnable) {
                                removed.push(runnable);
                            } else {
                                candidates.push(from, Entry::runnable(runnable));
                            }
                        }
                    }
                }
                // The lanes of suspended executors have no entry: gone through here.
                for lane in &self.suspended {
                    if let Some(&index) = self.lane_index.get(&LaneKey::Dedicated(*lane)) {
                        let lane = &mut self.lanes[index];
                        let (dead, alive): (VecDeque<_>, VecDeque<_>) = lane
                            .runnables
                            .drain(..)
                            .partition(|runnable| doomed(runnable));
                        removed.extend(dead);
                        lane.per_band = [0; BANDS];
                        for runnable in &alive {
                            lane.per_band[band(runnable)] += 1;
                        }
                        lane.runnables = alive;
                        if lane.runnables.is_empty() && !released.contains(&index) {
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
                            per_band: [0; BANDS],
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
            Order::Fifo(queue) => all.extend(queue.drain(..)),
            Order::Random(candidates) => all.extend(
                candidates
                    .take_all()
                    .into_iter()
                    .filter_map(|(_, entry)| entry.into_runnable()),
            ),
        }
        for lane in &mut self.lanes {
            all.extend(lane.runnables.drain(..));
        }
        self.fifo_lanes.clear();
        self.lanes.clear();
        self.lane_index.clear();
        self.free_lanes.clear();
        self.last_lane = None;
        all.append(&mut self.deprioritized);
        self.len = 0;
        all
    }
}

/// The candidates of a random pick: one `Vec` of entries per band. Owns the runnables of its
/// entries: those still queued when it is dropped are dropped with it.
#[derive(Default)]
struct Candidates {
    bands: [Vec<Entry>; BANDS],
}

impl Candidates {
    #[inline]
    fn lens(&self) -> Lens {
        [
            self.bands[0].len(),
            self.bands[1].len(),
            self.bands[2].len(),
        ]
    }

    #[inline]
    fn push(&mut self, band: usize, entry: Entry) {
        self.bands[band].push(entry);
    }

    #[inline]
    fn get(&self, band: usize, index: usize) -> &Entry {
        &self.bands[band][index]
    }

    /// Removes the entry, moving the band's last one into its place (O(1)).
    #[inline]
    fn swap_remove(&mut self, band: usize, index: usize) -> Entry {
        self.bands[band].swap_remove(index)
    }

    /// Takes every entry with its band, in band order then insertion order.
    fn take_all(&mut self) -> Vec<(usize, Entry)> {
        let mut all = Vec::with_capacity(bands::total(self.lens()));
        for (band, entries) in self.bands.iter_mut().enumerate() {
            all.extend(entries.drain(..).map(|entry| (band, entry)));
        }
        all
    }
}

impl Drop for Candidates {
    fn drop(&mut self) {
        for (_, entry) in self.take_all() {
            drop(entry.into_runnable());
        }
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
            .metadata(crate::scheduler::test_header(metadata))
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

#[cfg(test)]
mod entry_tests {
    use super::*;
    use crate::{Priority, TaskId, TaskMetadata};
    use rand::SeedableRng;
    use std::panic::Location;
    use std::sync::{Arc, Mutex};

    /// Records its task's id when dropped: every future is dropped exactly once.
    struct Dropped(u64, Arc<Mutex<Vec<u64>>>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    fn runnable(
        id: u64,
        kind: TaskKind,
        priority: Priority,
        log: &Arc<Mutex<Vec<u64>>>,
    ) -> Runnable {
        let session = (kind == TaskKind::Foreground).then(|| SessionId::from_raw(id % 3 + 1));
        let metadata = TaskMetadata::new(
            TaskId::from_raw(id),
            None,
            session,
            Location::caller(),
            kind,
        )
        .with_priority(priority);
        let guard = Dropped(id, log.clone());
        let (runnable, task) = async_task::Builder::new()
            .metadata(crate::scheduler::test_header(metadata))
            .spawn(move |_| async move { drop(guard) }, drop);
        task.detach();
        runnable
    }

    /// Entries are one word, and every runnable they hold comes back exactly once: popped,
    /// removed, taken, or dropped with the queue (Miri checks the raw round trips and leaks).
    #[test]
    fn one_word_entries_hand_back_every_runnable_once() {
        assert_eq!(std::mem::size_of::<Entry>(), 8);
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut queue = ReadyQueue::new(true);
        let mut rng = Rng::seed_from_u64(5);
        let mut chooser = Chooser::new(Default::default(), 5, &Default::default());
        let priorities = [Priority::Low, Priority::Medium, Priority::High];
        for id in 0..30u64 {
            let kind = if id % 4 == 0 {
                TaskKind::Foreground
            } else {
                TaskKind::Background
            };
            queue.push(
                runnable(id, kind, priorities[id as usize % 3], &log),
                false,
                0,
            );
        }
        let mut seen = Vec::new();
        for _ in 0..10 {
            let popped = queue.pop(&mut rng, &mut chooser).expect("queued");
            seen.push(popped.metadata().id().as_u64());
            drop(popped); // its future is dropped (never run)
        }
        let removed = queue.remove_matching(|runnable| runnable.metadata().id().as_u64() % 3 == 0);
        seen.extend(
            removed
                .iter()
                .map(|runnable| runnable.metadata().id().as_u64()),
        );
        drop(removed);
        assert_eq!(queue.len(), 30 - seen.len());
        // The rest go with the queue.
        drop(queue);
        let mut dropped = log.lock().unwrap().clone();
        dropped.sort_unstable();
        assert_eq!(dropped, (0..30).collect::<Vec<_>>());
        let taken = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), taken, "no runnable came out twice");
    }
}

#[cfg(test)]
mod lane_band_tests {
    use super::*;
    use crate::{Priority, TaskId, TaskMetadata};
    use rand::SeedableRng;
    use std::panic::Location;

    fn foreground(id: u64, priority: Priority) -> Runnable {
        let metadata = TaskMetadata::new(
            TaskId::from_raw(id),
            None,
            Some(SessionId::from_raw(1)),
            Location::caller(),
            TaskKind::Foreground,
        )
        .with_priority(priority);
        async_task::Builder::new()
            .metadata(crate::scheduler::test_header(metadata))
            .spawn(|_| async {}, drop)
            .0
    }

    /// The band a lane's entry sits in, if it has one.
    fn entry_band(queue: &ReadyQueue, lane: usize) -> Option<usize> {
        let Order::Random(candidates) = &queue.order else {
            return None;
        };
        (0..BANDS).find(|&band| {
            candidates.bands[band]
                .iter()
                .any(|entry| entry.lane_index() == Some(lane))
        })
    }

    /// A lane's entry always sits in the band of the lane's head, also when runnables of
    /// several priorities wait in it (the per-band counts skip reading the head only when they
    /// are all in one band), and the lane keeps its FIFO order.
    #[test]
    fn a_lane_entry_follows_its_head_across_bands() {
        let priorities = [
            Priority::Medium,
            Priority::High,
            Priority::Medium,
            Priority::Medium,
            Priority::Low,
            Priority::Low,
            Priority::High,
        ];
        let mut queue = ReadyQueue::new(true);
        let mut rng = Rng::seed_from_u64(3);
        let mut chooser = Chooser::new(Default::default(), 3, &Default::default());
        for (id, priority) in priorities.iter().enumerate() {
            queue.push(foreground(id as u64, *priority), false, 0);
        }
        let mut order = Vec::new();
        while let Some(runnable) = queue.pop(&mut rng, &mut chooser) {
            order.push(runnable.metadata().id().as_u64());
            if let Some(head) = queue.lanes[0].runnables.front() {
                assert_eq!(entry_band(&queue, 0), Some(band(head)), "after {order:?}");
            }
        }
        assert_eq!(order, (0..priorities.len() as u64).collect::<Vec<_>>());
    }
}

#[cfg(test)]
mod fifo_tests {
    use super::*;
    use crate::{TaskId, TaskMetadata};
    use rand::SeedableRng;
    use std::panic::Location;

    fn runnable(id: u64, kind: TaskKind) -> Runnable {
        let metadata =
            TaskMetadata::new(TaskId::from_raw(id), None, None, Location::caller(), kind);
        async_task::Builder::new()
            .metadata(crate::scheduler::test_header(metadata))
            .spawn(|_| async {}, drop)
            .0
    }

    /// In FIFO order, a held dedicated executor's runnables wait while the others run in
    /// order; resumed, they run in theirs; the side map of their lanes empties with them.
    #[test]
    fn fifo_order_holds_a_suspended_executor_back_then_forgets_its_lanes() {
        let mut queue = ReadyQueue::new(false);
        let mut rng = Rng::seed_from_u64(1);
        let mut chooser = Chooser::new(Default::default(), 1, &Default::default());
        let mut pop = |queue: &mut ReadyQueue| {
            queue
                .pop(&mut rng, &mut chooser)
                .map(|runnable| runnable.metadata().id().as_u64())
        };
        for id in 1..=6 {
            let kind = if id % 2 == 0 {
                TaskKind::Dedicated
            } else {
                TaskKind::Background
            };
            queue.push(runnable(id, kind), false, 100);
        }
        queue.suspend(100);
        assert_eq!(queue.suspended(), [(100, vec![2, 4, 6])]);
        assert_eq!([pop(&mut queue), pop(&mut queue)], [Some(1), Some(3)]);
        assert_eq!(pop(&mut queue), Some(5));
        assert_eq!(pop(&mut queue), None, "the held executor's runnables wait");
        queue.resume(100);
        let rest: Vec<_> = std::iter::from_fn(|| pop(&mut queue)).collect();
        assert_eq!(rest, [2, 4, 6]);
        assert!(queue.fifo_lanes.is_empty());
        assert_eq!(queue.len(), 0);
    }
}
