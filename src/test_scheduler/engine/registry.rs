//! The live tasks of a [`TestScheduler`](crate::TestScheduler): who is still running, for
//! `is_task_running`, `live_tasks` and deadlock reports.
//!
//! Task ids are handed out in order, so the registry is dense: ids sit in 64-id blocks, each
//! with a word of live bits and what the task's metadata holds besides its id (its spawn
//! location and one byte of kind and priority: 9 bytes a task; a label or a session adds 16, in
//! a side array the block makes only when one of its tasks has either). Spawning writes into the
//! block being filled (the tail); ending clears one bit, in a dense deque of words (the words of
//! a million tasks are 128 KiB, so this stays in cache however tasks interleave).
//!
//! Memory and the cost of [`live`](Registry::live) follow the live tasks, not the number ever
//! spawned:
//! - a block that empties is freed at once (its place in the deque is one word and one empty
//!   pointer), and empty places at the front are dropped;
//! - when the blocks before the tail are mostly empty places (a long-lived task pins the front
//!   while many short ones come and go), the oldest block's survivors move to a small ordered
//!   map and the block goes, so the deque shrinks to the span of the recent tasks;
//! - the deque gives back capacity it no longer needs.
//!
//! It keeps copies, not pointers into the task: a task's header outlives its registration only
//! if its end is reported here, and a forwarding [`Scheduler`](crate::Scheduler) (one that passes
//! `schedule_spawned` on but not `task_ended`) can break that in safe code.

use crate::{Priority, SessionId, TaskId, TaskKind, TaskLabel, TaskMetadata};
use std::collections::{BTreeMap, VecDeque};
use std::panic::Location;

/// Ids per block.
const BLOCK: u64 = 64;

/// A task's label and session (kept only for tasks that have either).
type Extras = (Option<TaskLabel>, Option<SessionId>);

/// What a block keeps of its tasks besides their ids (an id is the block's base plus the slot).
struct Payload {
    locations: [Option<&'static Location<'static>>; BLOCK as usize],
    /// Kind (bits 0-1), priority (bits 2-3), whether the task has extras (bit 4).
    traits: [u8; BLOCK as usize],
    extras: Option<Box<[Extras; BLOCK as usize]>>,
}

impl Payload {
    fn new() -> Box<Self> {
        Box::new(Self {
            locations: [None; BLOCK as usize],
            traits: [0; BLOCK as usize],
            extras: None,
        })
    }

    #[inline]
    fn write(&mut self, slot: usize, metadata: &TaskMetadata) {
        let (label, session) = (metadata.label(), metadata.session());
        let has_extras = label.is_some() || session.is_some();
        self.locations[slot] = Some(metadata.location());
        self.traits[slot] = encode(metadata.kind(), metadata.priority(), has_extras);
        if has_extras {
            self.extras
                .get_or_insert_with(|| Box::new([(None, None); BLOCK as usize]))[slot] =
                (label, session);
        }
    }

    fn read(&self, slot: usize, id: u64) -> TaskMetadata {
        let traits = self.traits[slot];
        let (label, session) = match &self.extras {
            Some(extras) if traits & HAS_EXTRAS != 0 => extras[slot],
            _ => (None, None),
        };
        let location = self.locations[slot].expect("a live slot was written");
        TaskMetadata::new(
            TaskId::from_raw(id),
            label,
            session,
            location,
            kind_of(traits),
        )
        .with_priority(Priority::ALL[usize::from(traits >> 2 & 3)])
    }
}

const HAS_EXTRAS: u8 = 1 << 4;

#[inline]
fn encode(kind: TaskKind, priority: Priority, has_extras: bool) -> u8 {
    let kind = match kind {
        TaskKind::Background => 0,
        TaskKind::Foreground => 1,
        TaskKind::Timer => 2,
        TaskKind::Dedicated => 3,
    };
    kind | (priority as u8) << 2 | if has_extras { HAS_EXTRAS } else { 0 }
}

fn kind_of(traits: u8) -> TaskKind {
    match traits & 3 {
        0 => TaskKind::Background,
        1 => TaskKind::Foreground,
        2 => TaskKind::Timer,
        _ => TaskKind::Dedicated,
    }
}

#[derive(Default)]
pub(crate) struct Registry {
    /// Live bits of the block being filled: ids `tail_base..tail_base + 64`.
    tail_bits: u64,
    tail: Option<Box<Payload>>,
    /// A multiple of 64.
    tail_base: u64,
    /// The blocks before the tail, oldest first (ids from `tail_base - 64 * bits.len()`): their
    /// live bits, and their payloads (`None` once a block has no live task).
    bits: VecDeque<u64>,
    payloads: VecDeque<Option<Box<Payload>>>,
    /// How many of `payloads` are `Some`.
    allocated: usize,
    /// Live tasks below the oldest block (survivors of blocks dropped from the front, and tasks
    /// registered late, below it), in id order.
    stragglers: BTreeMap<u64, TaskMetadata>,
    /// A freed payload, reused by the next block (tasks that come and go one at a time would
    /// otherwise allocate one every 64 tasks).
    spare: Option<Box<Payload>>,
    live: usize,
}

impl Registry {
    /// Registers a live task (its metadata is copied: see the module docs).
    #[inline]
    pub(crate) fn insert(&mut self, metadata: &TaskMetadata) {
        let offset = metadata.id().as_u64().wrapping_sub(self.tail_base);
        if offset < BLOCK
            && let Some(tail) = &mut self.tail
        {
            // The common case: the next id, in the block being filled.
            let mask = 1u64 << offset;
            if self.tail_bits & mask == 0 {
                self.live += 1;
            }
            self.tail_bits |= mask;
            tail.write(offset as usize, metadata);
            return;
        }
        self.insert_elsewhere(metadata);
    }

    #[cold]
    fn insert_elsewhere(&mut self, metadata: &TaskMetadata) {
        let id = metadata.id().as_u64();
        if self.tail.is_none() || id >= self.tail_base + BLOCK {
            self.start_block(id);
            return self.insert(metadata);
        }
        let base = self.base();
        if id < base {
            // Below every block: its block was dropped before this (late) registration.
            if self.stragglers.insert(id, *metadata).is_none() {
                self.live += 1;
            }
            return;
        }
        let index = ((id - base) / BLOCK) as usize;
        let slot = ((id - base) % BLOCK) as usize;
        if self.payloads[index].is_none() {
            self.payloads[index] = Some(self.spare.take().unwrap_or_else(Payload::new));
            self.allocated += 1;
        }
        let mask = 1u64 << slot;
        if self.bits[index] & mask == 0 {
            self.live += 1;
        }
        self.bits[index] |= mask;
        if let Some(payload) = &mut self.payloads[index] {
            payload.write(slot, metadata);
        }
    }

    /// Makes the block of `id` (past the tail) the tail: the old tail joins the older blocks,
    /// with empty places for the ids skipped in between (ids taken by timers, or by tasks of
    /// another thread not registered yet), then the front is compacted.
    fn start_block(&mut self, id: u64) {
        let base = id - id % BLOCK;
        if let Some(tail) = self.tail.take() {
            let skipped = ((base - self.tail_base) / BLOCK - 1) as usize;
            self.push_older(self.tail_bits, Some(tail));
            self.compact();
            if skipped > 2 * self.allocated + 4 {
                // Far ahead: rather than a run of empty places, the survivors move aside.
                while !self.bits.is_empty() {
                    self.evict_front();
                }
            } else if !self.bits.is_empty() {
                for _ in 0..skipped {
                    self.push_older(0, None);
                }
            }
        }
        self.tail = Some(self.spare.take().unwrap_or_else(Payload::new));
        self.tail_bits = 0;
        self.tail_base = base;
        // While most places before the tail are empty, the oldest block goes: the deque then
        // spans the recent tasks, however long some early task lives.
        while self.bits.len() > 4 && self.bits.len() > 2 * self.allocated {
            self.evict_front();
        }
    }

    fn push_older(&mut self, bits: u64, payload: Option<Box<Payload>>) {
        let payload = match payload {
            Some(payload) if bits == 0 => {
                self.spare.get_or_insert(payload);
                None
            }
            payload => payload,
        };
        self.allocated += usize::from(payload.is_some());
        self.bits.push_back(bits);
        self.payloads.push_back(payload);
    }

    /// Moves the oldest block's survivors to `stragglers` and drops it (with the empty places
    /// after it). Each task moves at most once.
    fn evict_front(&mut self) {
        let base = self.base();
        let mut bits = self.bits.pop_front().unwrap_or(0);
        if let Some(payload) = self.payloads.pop_front().flatten() {
            self.allocated -= 1;
            while bits != 0 {
                let slot = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let id = base + slot as u64;
                self.stragglers.insert(id, payload.read(slot, id));
            }
            self.spare.get_or_insert(payload);
        }
        self.compact();
    }

    /// Drops empty places from the front of the older blocks, and capacity the deque no longer
    /// needs.
    fn compact(&mut self) {
        while self.bits.front() == Some(&0) {
            self.bits.pop_front();
            if let Some(payload) = self.payloads.pop_front().flatten() {
                self.allocated -= 1;
                self.spare.get_or_insert(payload);
            }
        }
        if self.bits.capacity() > 64 && self.bits.capacity() > 4 * self.bits.len() {
            self.bits.shrink_to(2 * self.bits.len());
            self.payloads.shrink_to(2 * self.payloads.len());
        }
    }

    /// Id of the oldest block's first slot.
    fn base(&self) -> u64 {
        self.tail_base - BLOCK * self.bits.len() as u64
    }

    /// The task ended (unknown ids are ignored).
    #[inline]
    pub(crate) fn remove(&mut self, id: TaskId) {
        let offset = id.as_u64().wrapping_sub(self.tail_base);
        if offset < BLOCK {
            // In the tail (kept, empty or not: it is still being filled).
            let mask = 1u64 << offset;
            if self.tail_bits & mask != 0 {
                self.tail_bits &= !mask;
                self.live -= 1;
            }
            return;
        }
        self.remove_elsewhere(id.as_u64());
    }

    fn remove_elsewhere(&mut self, id: u64) {
        let base = self.base();
        if id < base {
            if self.stragglers.remove(&id).is_some() {
                self.live -= 1;
            }
            return;
        }
        if id >= self.tail_base {
            return;
        }
        let index = ((id - base) / BLOCK) as usize;
        let mask = 1u64 << ((id - base) % BLOCK);
        let bits = &mut self.bits[index];
        if *bits & mask == 0 {
            return;
        }
        *bits &= !mask;
        self.live -= 1;
        if *bits == 0 {
            // The block emptied: free its payload now, and the front if it was the front.
            if let Some(payload) = self.payloads[index].take() {
                self.allocated -= 1;
                self.spare.get_or_insert(payload);
            }
            if index == 0 {
                self.compact();
            }
        }
    }

    pub(crate) fn contains(&self, id: TaskId) -> bool {
        let id = id.as_u64();
        let offset = id.wrapping_sub(self.tail_base);
        if offset < BLOCK {
            return self.tail_bits & (1 << offset) != 0;
        }
        let base = self.base();
        if id < base {
            return self.stragglers.contains_key(&id);
        }
        id < self.tail_base
            && self.bits[((id - base) / BLOCK) as usize] & (1 << ((id - base) % BLOCK)) != 0
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Metadata of every live task, in id order.
    pub(crate) fn live(&self) -> Vec<TaskMetadata> {
        let mut live = Vec::with_capacity(self.live);
        live.extend(self.stragglers.values().copied());
        let blocks = self.bits.iter().zip(&self.payloads);
        let tail = std::iter::once((&self.tail_bits, &self.tail));
        for (index, (&bits, payload)) in blocks.chain(tail).enumerate() {
            let (mut bits, Some(payload)) = (bits, payload) else {
                continue;
            };
            let base = self.base() + BLOCK * index as u64;
            while bits != 0 {
                let slot = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                live.push(payload.read(slot, base + slot as u64));
            }
        }
        live
    }

    /// What the registry holds, for the tests of its bounds: places in the deque (what
    /// [`live`](Self::live) walks besides the live tasks), payloads allocated, stragglers, and
    /// heap bytes (deque capacity, payloads, extras and stragglers at their entry size).
    #[cfg(test)]
    pub(crate) fn footprint(&self) -> Footprint {
        let payload_bytes = |payload: &Payload| {
            std::mem::size_of::<Payload>()
                + payload
                    .extras
                    .as_ref()
                    .map_or(0, |_| std::mem::size_of::<[Extras; BLOCK as usize]>())
        };
        let payloads = self
            .payloads
            .iter()
            .flatten()
            .chain(&self.tail)
            .chain(&self.spare);
        Footprint {
            places: self.bits.len(),
            payloads: self.allocated + usize::from(self.tail.is_some()),
            stragglers: self.stragglers.len(),
            bytes: self.bits.capacity() * 8
                + self.payloads.capacity() * 8
                + payloads
                    .map(|payload| payload_bytes(payload))
                    .sum::<usize>()
                + self.stragglers.len() * (8 + std::mem::size_of::<TaskMetadata>()),
        }
    }
}

/// See [`Registry::footprint`].
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footprint {
    pub(crate) places: usize,
    pub(crate) payloads: usize,
    pub(crate) stragglers: usize,
    pub(crate) bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionId;

    fn metadata(id: u64) -> TaskMetadata {
        TaskMetadata::new(
            TaskId::from_raw(id),
            None,
            None,
            Location::caller(),
            TaskKind::Background,
        )
    }

    fn ids(registry: &Registry) -> Vec<u64> {
        registry.live().iter().map(|m| m.id().as_u64()).collect()
    }

    #[test]
    fn tracks_liveness_with_holes_out_of_order_inserts_and_compaction() {
        let mut registry = Registry::default();
        for id in (1..=300).filter(|id| id % 3 != 0) {
            registry.insert(&metadata(id)); // multiples of 3 are holes (e.g. timers)
        }
        assert_eq!(registry.len(), 200);
        assert!(registry.contains(TaskId::from_raw(1)));
        assert!(!registry.contains(TaskId::from_raw(3)));
        for id in 1..=200 {
            registry.remove(TaskId::from_raw(id));
        }
        let expected: Vec<u64> = (201..=300).filter(|id| id % 3 != 0).collect();
        assert_eq!(registry.len(), expected.len());
        assert!(registry.base() > 0, "ended blocks at the front are dropped");
        assert_eq!(ids(&registry), expected);
        registry.insert(&metadata(5)); // late, below the base
        assert!(registry.contains(TaskId::from_raw(5)));
        assert_eq!(registry.len(), expected.len() + 1);
        assert_eq!(ids(&registry)[0], 5);
        registry.remove(TaskId::from_raw(5));
        registry.remove(TaskId::from_raw(9999)); // unknown: ignored
        assert!(!registry.contains(TaskId::from_raw(5)));
        assert_eq!(ids(&registry), expected);
    }

    #[test]
    fn keeps_every_field_of_the_metadata() {
        let label = TaskLabel::named("indexer");
        let session = SessionId::from_raw(9);
        let mut registry = Registry::default();
        let tasks = [
            metadata(1),
            TaskMetadata::new(
                TaskId::from_raw(2),
                Some(label),
                Some(session),
                Location::caller(),
                TaskKind::Foreground,
            )
            .with_priority(Priority::Low),
            metadata(3).with_priority(Priority::Realtime),
            TaskMetadata::new(
                TaskId::from_raw(70),
                None,
                Some(session),
                Location::caller(),
                TaskKind::Dedicated,
            ),
        ];
        for task in &tasks {
            registry.insert(task);
        }
        let live = registry.live();
        assert_eq!(live.len(), tasks.len());
        for (got, want) in live.iter().zip(&tasks) {
            assert_eq!(got.to_string(), want.to_string());
            assert_eq!(
                (
                    got.id(),
                    got.label(),
                    got.session(),
                    got.kind(),
                    got.priority()
                ),
                (
                    want.id(),
                    want.label(),
                    want.session(),
                    want.kind(),
                    want.priority()
                )
            );
            assert!(std::ptr::eq(got.location(), want.location()));
        }
    }

    /// The registry keeps kind and priority in one byte: every combination reads back as
    /// written.
    #[test]
    fn keeps_every_kind_and_priority() {
        let kinds = [
            TaskKind::Background,
            TaskKind::Foreground,
            TaskKind::Timer,
            TaskKind::Dedicated,
        ];
        let mut registry = Registry::default();
        let mut tasks = vec![];
        for kind in kinds {
            for priority in Priority::ALL {
                let id = tasks.len() as u64 + 1;
                let task = TaskMetadata::new(
                    TaskId::from_raw(id),
                    None,
                    id.is_multiple_of(2).then(|| SessionId::from_raw(id)),
                    Location::caller(),
                    kind,
                )
                .with_priority(priority);
                registry.insert(&task);
                tasks.push(task);
            }
        }
        let live = registry.live();
        assert_eq!(live.len(), tasks.len());
        for (got, want) in live.iter().zip(&tasks) {
            assert_eq!(
                (got.id(), got.session(), got.kind(), got.priority()),
                (want.id(), want.session(), want.kind(), want.priority())
            );
        }
    }

    /// Issue 20, defect 2: tasks that end one at a time (block 0 empties while it is the only
    /// block) left every block in place, so the registry grew by 40 bytes a task and `live`
    /// walked all of them. Now it holds the same after 2 million such tasks as after one.
    #[test]
    fn tasks_ending_one_at_a_time_leave_nothing_behind() {
        let count = if cfg!(miri) { 2_000 } else { 2_000_000 };
        let mut registry = Registry::default();
        registry.insert(&metadata(1));
        registry.remove(TaskId::from_raw(1));
        let after_one = registry.footprint();
        for id in 2..=count {
            registry.insert(&metadata(id));
            registry.remove(TaskId::from_raw(id));
        }
        assert_eq!(registry.len(), 0);
        assert!(registry.live().is_empty());
        let after_all = registry.footprint();
        assert_eq!(after_all.places, after_one.places, "{after_all:?}");
        assert!(
            after_all.places <= 1 && after_all.stragglers == 0,
            "{after_all:?}"
        );
        assert!(after_all.bytes <= 4 * 1024, "{after_all:?}");
    }

    /// The same with a long-lived task pinning the front (a root task serving requests): the
    /// early blocks go once they are mostly empty, the survivor moves aside, and what `live`
    /// walks stays bounded by the recent span, not by history.
    #[test]
    fn a_long_lived_task_does_not_pin_history() {
        let count = if cfg!(miri) { 3_000 } else { 1_000_000 };
        let mut registry = Registry::default();
        registry.insert(&metadata(1)); // lives throughout
        let mut peak = registry.footprint();
        for id in 2..=count {
            if id % 3 == 0 {
                continue; // an id taken by a timer: never registered
            }
            registry.insert(&metadata(id));
            registry.remove(TaskId::from_raw(id));
            let now = registry.footprint();
            peak.places = peak.places.max(now.places);
            peak.bytes = peak.bytes.max(now.bytes);
        }
        assert_eq!(ids(&registry), [1]);
        assert!(peak.places <= 8, "{peak:?}");
        assert!(peak.bytes <= 16 * 1024, "{peak:?}");
    }

    /// Many tasks live at once, then end in a scattered order: the blocks go as they empty and
    /// the deque gives its capacity back.
    #[test]
    fn memory_follows_the_live_tasks_after_a_burst() {
        let count: u64 = if cfg!(miri) { 1_000 } else { 200_000 };
        let mut registry = Registry::default();
        for id in 1..=count {
            registry.insert(&metadata(id));
        }
        let full = registry.footprint();
        // Every id but the multiples of 1000 ends, in a scattered order.
        let mut order: Vec<u64> = (1..=count).filter(|id| id % 1000 != 0).collect();
        let len = order.len();
        for i in 0..len {
            order.swap(i, (i * 7919) % len);
        }
        for &id in &order {
            registry.remove(TaskId::from_raw(id));
        }
        let expected: Vec<u64> = (1..=count).filter(|id| id % 1000 == 0).collect();
        assert_eq!(ids(&registry), expected);
        let after = registry.footprint();
        assert!(after.payloads <= expected.len() + 2, "{after:?}");
        assert!(after.bytes * 4 < full.bytes, "{full:?} then {after:?}");
        for &id in &expected {
            registry.remove(TaskId::from_raw(id));
        }
        assert_eq!(registry.len(), 0);
        registry.insert(&metadata(count + 1));
        let last = registry.footprint();
        assert!(last.places == 0 && last.bytes <= 4 * 1024, "{last:?}");
    }
}

/// Issue 20, defect 2, through a scheduler: tasks spawned and run one at a time leave the
/// registry as they found it, however many there were.
#[cfg(test)]
mod scheduler_tests {
    use crate::{Scheduler, TestScheduler};
    use std::sync::Arc;

    #[test]
    fn sequential_tasks_keep_the_registry_of_one() {
        let count = if cfg!(miri) { 300 } else { 200_000 };
        let test = TestScheduler::with_seed(7);
        let scheduler: Arc<dyn Scheduler> = test.clone();
        let footprint = || test.engine.state("footprint").live.footprint();
        scheduler.spawn(async {}).detach();
        test.run_until_parked();
        let after_one = footprint();
        for _ in 1..count {
            scheduler.spawn(async {}).detach();
            test.run_until_parked();
            assert!(test.live_tasks().is_empty());
        }
        let after_all = footprint();
        assert_eq!(after_all.places, after_one.places, "{after_all:?}");
        assert!(after_all.bytes <= 4 * 1024, "{after_all:?}");
    }
}
