//! The live tasks of a [`TestScheduler`](crate::TestScheduler): who is still running, for
//! `is_task_running`, `live_tasks` and deadlock reports.
//!
//! Task ids are handed out in order, so the registry is dense: metadata sits in a deque indexed
//! by id, liveness in a bitset. Spawning appends; ending clears one bit (the bitset of a million
//! tasks is 128 KiB, so this stays in cache however tasks interleave); fully ended 64-id blocks
//! at the front are dropped, so memory follows the span of live ids, not the number ever spawned.

use crate::{TaskId, TaskMetadata};
use std::collections::VecDeque;

const WORD: u64 = 64;

#[derive(Default)]
pub(crate) struct Registry {
    /// Id of `metadata[0]`; always a multiple of 64.
    base: u64,
    metadata: VecDeque<Option<TaskMetadata>>,
    live_bits: VecDeque<u64>,
    live: usize,
}

impl Registry {
    #[inline]
    pub(crate) fn insert(&mut self, metadata: TaskMetadata) {
        let id = metadata.id().as_u64();
        // The common case: the next id (ids are handed out in order).
        if id >= self.base && (id - self.base) as usize == self.metadata.len() {
            let index = self.metadata.len();
            if index.is_multiple_of(WORD as usize) {
                self.live_bits.push_back(1);
            } else {
                let (word, bit) = (index / WORD as usize, index % WORD as usize);
                self.live_bits[word] |= 1 << bit;
            }
            self.metadata.push_back(Some(metadata));
            self.live += 1;
            return;
        }
        self.insert_anywhere(metadata);
    }

    #[cold]
    fn insert_anywhere(&mut self, metadata: TaskMetadata) {
        let id = metadata.id().as_u64();
        while id < self.base {
            // Registered after its block was dropped (only possible with out-of-order spawns
            // from several threads): grow back to the front.
            self.base -= WORD;
            self.live_bits.push_front(0);
            for _ in 0..WORD {
                self.metadata.push_front(None);
            }
        }
        let index = (id - self.base) as usize;
        while self.metadata.len() <= index {
            if self.metadata.len().is_multiple_of(WORD as usize) {
                self.live_bits.push_back(0);
            }
            self.metadata.push_back(None);
        }
        let (word, bit) = (index / WORD as usize, index % WORD as usize);
        if self.live_bits[word] & (1 << bit) == 0 {
            self.live += 1;
        }
        self.live_bits[word] |= 1 << bit;
        self.metadata[index] = Some(metadata);
    }

    #[inline]
    pub(crate) fn remove(&mut self, id: TaskId) {
        let Some((word, bit)) = self.position(id) else {
            return;
        };
        let bits = &mut self.live_bits[word];
        if *bits & (1 << bit) != 0 {
            *bits &= !(1 << bit);
            self.live -= 1;
            // Only an emptied first block lets the front move.
            if word == 0 && *bits == 0 {
                self.compact();
            }
        }
    }

    pub(crate) fn contains(&self, id: TaskId) -> bool {
        self.position(id)
            .is_some_and(|(word, bit)| self.live_bits[word] & (1 << bit) != 0)
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Metadata of every live task, in id order.
    pub(crate) fn live(&self) -> Vec<TaskMetadata> {
        let mut live = Vec::with_capacity(self.live);
        for (word_index, word) in self.live_bits.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let bit = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let Some(metadata) = self.metadata[word_index * WORD as usize + bit] {
                    live.push(metadata);
                }
            }
        }
        live
    }

    fn position(&self, id: TaskId) -> Option<(usize, usize)> {
        let index = id.as_u64().checked_sub(self.base)? as usize;
        (index < self.metadata.len()).then_some((index / WORD as usize, index % WORD as usize))
    }

    /// Drops fully ended 64-id blocks from the front (never the block still being filled).
    fn compact(&mut self) {
        while self.live_bits.len() > 1 && self.live_bits[0] == 0 {
            self.live_bits.pop_front();
            self.metadata.drain(..WORD as usize);
            self.base += WORD;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TaskKind;
    use std::panic::Location;

    fn metadata(id: u64) -> TaskMetadata {
        TaskMetadata::new(
            TaskId::from_raw(id),
            None,
            None,
            Location::caller(),
            TaskKind::Background,
        )
    }

    #[test]
    fn tracks_liveness_with_holes_out_of_order_inserts_and_compaction() {
        let mut registry = Registry::default();
        for id in (1..=300).filter(|id| id % 3 != 0) {
            registry.insert(metadata(id)); // multiples of 3 are holes (e.g. timers)
        }
        assert_eq!(registry.len(), 200);
        assert!(registry.contains(TaskId::from_raw(1)));
        assert!(!registry.contains(TaskId::from_raw(3)));
        for id in 1..=200 {
            registry.remove(TaskId::from_raw(id));
        }
        let expected: Vec<u64> = (201..=300).filter(|id| id % 3 != 0).collect();
        assert_eq!(registry.len(), expected.len());
        assert!(registry.base > 0, "ended blocks at the front are dropped");
        let live: Vec<u64> = registry.live().iter().map(|m| m.id().as_u64()).collect();
        assert_eq!(live, expected);
        registry.insert(metadata(5)); // late, below the base
        assert!(registry.contains(TaskId::from_raw(5)));
        assert_eq!(registry.len(), expected.len() + 1);
        registry.remove(TaskId::from_raw(5));
        registry.remove(TaskId::from_raw(9999)); // unknown: ignored
        assert!(!registry.contains(TaskId::from_raw(5)));
    }
}
