//! Random values a test draws (`random_range`, `simulate_random_delay`, the tick budget of
//! `block_with_timeout`): recorded for a replay file, and given back when replaying.
//!
//! Values are kept per task (the task running when the value was drawn; 0 for code outside any
//! task, such as the test body) and per range, in order. Replaying hands a draw the next
//! recorded value of its task and range, and a fresh one when there is none left; so a draw
//! added or removed in one task leaves the values of every other task, and of its other ranges,
//! where they were.

use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// One drawn value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Draw {
    /// The task that drew it (0: none).
    pub(crate) task: u64,
    /// The range, `start..end`.
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) value: u64,
}

#[derive(Default)]
pub(crate) struct Draws {
    record: Option<Vec<Draw>>,
    replay: Option<FxHashMap<(u64, u64, u64), VecDeque<u64>>>,
}

impl Draws {
    pub(crate) fn new(record: bool, replay: Option<&[Draw]>) -> Self {
        let replay = replay.map(|draws| {
            let mut values: FxHashMap<_, VecDeque<u64>> = FxHashMap::default();
            for draw in draws {
                values
                    .entry((draw.task, draw.start, draw.end))
                    .or_default()
                    .push_back(draw.value);
            }
            values
        });
        Self {
            record: record.then(Vec::new),
            replay,
        }
    }

    /// `value` was drawn from `start..end` by `task`: returns the value to use (the recorded
    /// one when replaying and one is left), recording it.
    pub(crate) fn drawn(&mut self, task: u64, start: u64, end: u64, value: u64) -> u64 {
        let value = self
            .replay
            .as_mut()
            .and_then(|replay| replay.get_mut(&(task, start, end)))
            .and_then(VecDeque::pop_front)
            .filter(|recorded| (start..end).contains(recorded))
            .unwrap_or(value);
        if let Some(record) = &mut self.record {
            record.push(Draw {
                task,
                start,
                end,
                value,
            });
        }
        value
    }

    pub(crate) fn take_record(&mut self) -> Vec<Draw> {
        self.record.as_mut().map(std::mem::take).unwrap_or_default()
    }
}
