//! The WasmScheduler's queue of ready runnables, fair across sessions, in priority bands.
//!
//! Medium runnables: each session has its own FIFO lane (tasks without a session share one more
//! lane). Lanes with work take turns, one runnable at a time, so a burst of tasks from one
//! request cannot starve another request's tasks; within a lane, runnables run in the order they
//! were scheduled. High (and realtime) runnables wait in one FIFO queue that every drain serves
//! first; low ones in one FIFO queue that only macrotask drains serve (see `drain.rs`). Every
//! operation is O(1) except removing a session's runnables.

use crate::scheduler::LocalQueue;
use crate::{Priority, Runnable, SessionId, TaskId};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// Lane index of tasks that belong to no session (its runnables are in `RunQueue::plain`).
const NO_SESSION: usize = 0;

struct Lane {
    session: Option<SessionId>,
    runnables: VecDeque<Runnable>,
}

pub(super) struct RunQueue {
    /// The medium runnables of tasks without a session: the lane of the common case (no
    /// session, medium priority only), which [`push_plain`](Self::push_plain) fills without
    /// reading any metadata, and which wakes push into directly while it is open (see
    /// `drain.rs`).
    plain: LocalQueue,
    /// Session lanes, at index `lane - 1` (lane `NO_SESSION` is `plain`).
    lanes: Vec<Lane>,
    lane_of: FxHashMap<SessionId, usize>,
    /// Lanes no session uses now (their buffers are kept for reuse).
    free: Vec<usize>,
    /// Lanes that hold runnables, in turn order; kept once session lanes are in use (until
    /// then `plain` is the only lane).
    turns: VecDeque<usize>,
    /// Medium runnables in the session lanes.
    session_len: usize,
    /// Whether any task with a session was spawned; until then every runnable goes to the
    /// no-session lane without reading its metadata.
    session_lanes: bool,
    /// High and realtime runnables, first in every drain.
    high: VecDeque<Runnable>,
    /// Low runnables, for macrotask drains.
    low: VecDeque<Runnable>,
    /// Whether a task of another priority than medium is running; otherwise every runnable
    /// goes to the lanes without reading its priority.
    priority_bands: bool,
    /// `session_lanes || priority_bands`: whether a push must read the runnable's metadata.
    routed: bool,
}

/// Where [`RunQueue::push`] put a runnable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Band {
    High,
    Medium,
    Low,
}

impl RunQueue {
    /// An empty queue whose no-session lane is `plain`.
    pub(super) fn new(plain: LocalQueue) -> Self {
        Self {
            plain,
            lanes: Vec::new(),
            lane_of: FxHashMap::default(),
            free: Vec::new(),
            turns: VecDeque::new(),
            session_len: 0,
            session_lanes: false,
            high: VecDeque::new(),
            low: VecDeque::new(),
            priority_bands: false,
            routed: false,
        }
    }

    /// How many runnables are queued, in every band.
    pub(super) fn len(&self) -> usize {
        self.urgent_len() + self.low.len()
    }

    /// How many high and medium runnables are queued (what a microtask drain runs).
    pub(super) fn urgent_len(&self) -> usize {
        self.plain.runnables().len() + self.session_len + self.high.len()
    }

    /// The lane of tasks without a session, which wakes push into directly while it is open.
    pub(super) fn local(&self) -> &LocalQueue {
        &self.plain
    }

    /// Whether pushes must read metadata (sessions or priorities are in use).
    pub(super) fn routed(&self) -> bool {
        self.routed
    }

    /// Whether high runnables are queued.
    pub(super) fn has_high(&self) -> bool {
        !self.high.is_empty()
    }

    /// How many low runnables are queued.
    pub(super) fn low_len(&self) -> usize {
        self.low.len()
    }

    /// Routes runnables by priority from now on (until [`stop_priority_bands`]
    /// (Self::stop_priority_bands)). Called before the first runnable of a task with another
    /// priority than medium is pushed.
    pub(super) fn use_priority_bands(&mut self) {
        self.priority_bands = true;
        self.routed = true;
    }

    /// Stops routing runnables by priority, once no task of another priority than medium is
    /// running (so none of their runnables is queued; kept on if one still is).
    pub(super) fn stop_priority_bands(&mut self) {
        if self.high.is_empty() && self.low.is_empty() {
            self.priority_bands = false;
            self.routed = self.session_lanes;
        }
    }

    /// Routes runnables by session from now on. Called before the first runnable of a task
    /// with a session is pushed.
    pub(super) fn use_session_lanes(&mut self) {
        if !self.session_lanes && !self.plain.runnables().is_empty() {
            // The no-session lane joins the turns it was not kept in.
            self.turns.push_back(NO_SESSION);
        }
        self.session_lanes = true;
        self.routed = true;
    }

    /// The common case's push: while no task has a session or another priority than medium,
    /// queues `runnable` at the back of the only lane and returns `None`; otherwise gives it
    /// back for [`push`](Self::push).
    #[inline(always)]
    pub(super) fn push_plain(&mut self, runnable: Runnable) -> Option<Runnable> {
        if self.routed {
            return Some(runnable);
        }
        self.plain.runnables().push_back(runnable);
        None
    }

    /// Queues `runnable` at the back of its band (a medium one: of its session's lane).
    pub(super) fn push(&mut self, runnable: Runnable) -> Band {
        if self.priority_bands {
            match runnable.metadata().priority() {
                Priority::Medium => {}
                Priority::High | Priority::Realtime => {
                    self.high.push_back(runnable);
                    return Band::High;
                }
                Priority::Low => {
                    self.low.push_back(runnable);
                    return Band::Low;
                }
            }
        }
        let session = if self.session_lanes {
            runnable.metadata().session()
        } else {
            None
        };
        let Some(session) = session else {
            let mut plain = self.plain.runnables();
            if self.session_lanes && plain.is_empty() {
                self.turns.push_back(NO_SESSION);
            }
            plain.push_back(runnable);
            return Band::Medium;
        };
        let lane = self.lane_for(session);
        let runnables = &mut self.lanes[lane - 1].runnables;
        if runnables.is_empty() {
            self.turns.push_back(lane);
        }
        runnables.push_back(runnable);
        self.session_len += 1;
        Band::Medium
    }

    /// Takes the oldest high runnable.
    pub(super) fn pop_high(&mut self) -> Option<Runnable> {
        self.high.pop_front()
    }

    /// Takes the oldest low runnable.
    pub(super) fn pop_low(&mut self) -> Option<Runnable> {
        self.low.pop_front()
    }

    /// Takes the next runnable by priority: high, then medium (lanes in turn), then, when
    /// `low` allows it, low.
    pub(super) fn pop_by_priority(&mut self, low: bool) -> Option<Runnable> {
        self.pop_high()
            .or_else(|| self.pop())
            .or_else(|| if low { self.pop_low() } else { None })
    }

    /// Runs `f` on the runnables of `lane` (`NO_SESSION`: the plain lane).
    fn with_lane<R>(&mut self, lane: usize, f: impl FnOnce(&mut VecDeque<Runnable>) -> R) -> R {
        match lane {
            NO_SESSION => f(&mut self.plain.runnables()),
            _ => f(&mut self.lanes[lane - 1].runnables),
        }
    }

    /// Takes the front runnable of the medium lane whose turn it is.
    pub(super) fn pop(&mut self) -> Option<Runnable> {
        if !self.session_lanes {
            return self.plain.runnables().pop_front();
        }
        let lane = *self.turns.front()?;
        let (runnable, empty) = self.with_lane(lane, |runnables| {
            (runnables.pop_front(), runnables.is_empty())
        });
        if empty {
            self.turns.pop_front();
            self.release(lane);
        } else if self.turns.len() > 1 {
            // Next lane's turn.
            self.turns.pop_front();
            self.turns.push_back(lane);
        }
        if lane != NO_SESSION {
            self.session_len -= 1;
        }
        runnable
    }

    /// If one lane holds all the queued medium runnables, moves its first `max` runnables to the empty
    /// `batch` (whose buffer the caller keeps for reuse; when they all fit, the two buffers are
    /// simply swapped) and returns `true`. Otherwise (several sessions take turns) returns
    /// `false`: the caller pops one runnable at a time, so that lanes woken meanwhile get their
    /// turns within the batch.
    pub(super) fn take_single_lane(&mut self, max: usize, batch: &mut VecDeque<Runnable>) -> bool {
        debug_assert!(batch.is_empty());
        let lane = if !self.session_lanes {
            NO_SESSION
        } else if self.turns.len() == 1 {
            self.turns[0]
        } else {
            return self.turns.is_empty();
        };
        let (taken, all) = self.with_lane(lane, |runnables| {
            if runnables.len() > max {
                batch.extend(runnables.drain(..max));
                (max, false)
            } else {
                std::mem::swap(runnables, batch);
                (batch.len(), true)
            }
        });
        if all && self.session_lanes {
            self.turns.clear();
            self.release(lane);
        }
        if lane != NO_SESSION {
            self.session_len -= taken;
        }
        true
    }

    /// Removes the runnables of `session` for which `remove` is true, keeping the others in
    /// order. The caller drops the returned runnables (outside any borrow of the scheduler).
    pub(super) fn remove_from_session(
        &mut self,
        session: SessionId,
        mut remove: impl FnMut(TaskId) -> bool,
    ) -> Vec<Runnable> {
        let mut removed = Vec::new();
        for band in [&mut self.high, &mut self.low] {
            let (doomed, kept): (VecDeque<_>, VecDeque<_>) = band.drain(..).partition(|runnable| {
                runnable.metadata().session() == Some(session) && remove(runnable.metadata().id())
            });
            removed.extend(doomed);
            *band = kept;
        }
        let Some(&lane) = self.lane_of.get(&session) else {
            return removed;
        };
        let runnables = &mut self.lanes[lane - 1].runnables;
        let removed_before = removed.len();
        let mut kept = VecDeque::with_capacity(runnables.len());
        for runnable in runnables.drain(..) {
            if remove(runnable.metadata().id()) {
                removed.push(runnable);
            } else {
                kept.push_back(runnable);
            }
        }
        *runnables = kept;
        self.session_len -= removed.len() - removed_before;
        if self.lanes[lane - 1].runnables.is_empty() {
            self.turns.retain(|&turn| turn != lane);
            self.release(lane);
        }
        removed
    }

    /// Takes the high and medium runnables out, grouped by session (`None`: no session), each
    /// group in the order a drain would run it: a yield's continuations (see `drain.rs`). Low
    /// runnables stay.
    pub(super) fn take_urgent_by_session(&mut self) -> Vec<(Option<SessionId>, Vec<Runnable>)> {
        let mut groups: Vec<(Option<SessionId>, Vec<Runnable>)> = Vec::new();
        let mut group_of: FxHashMap<Option<SessionId>, usize> = FxHashMap::default();
        let mut add = |runnable: Runnable| {
            let session = runnable.metadata().session();
            let group = *group_of.entry(session).or_insert_with(|| {
                groups.push((session, Vec::new()));
                groups.len() - 1
            });
            groups[group].1.push(runnable);
        };
        self.high.drain(..).for_each(&mut add);
        if !self.session_lanes {
            self.plain.runnables().drain(..).for_each(&mut add);
        }
        for lane in std::mem::take(&mut self.turns) {
            self.with_lane(lane, |runnables| runnables.drain(..).for_each(&mut add));
            self.release(lane);
        }
        self.session_len = 0;
        groups
    }

    /// Takes the oldest low runnable whose session `wanted` accepts (`None`: no session).
    pub(super) fn take_low_of(
        &mut self,
        wanted: impl Fn(Option<SessionId>) -> bool,
    ) -> Option<Runnable> {
        let position = self
            .low
            .iter()
            .position(|runnable| wanted(runnable.metadata().session()))?;
        self.low.remove(position)
    }

    /// Removes every runnable, for dropping outside the scheduler's state.
    pub(super) fn take_all(&mut self) -> Vec<Runnable> {
        let mut all = Vec::with_capacity(self.len());
        all.extend(self.high.drain(..));
        all.extend(self.plain.runnables().drain(..));
        for lane in &mut self.lanes {
            all.extend(lane.runnables.drain(..));
        }
        all.extend(self.low.drain(..));
        self.turns.clear();
        self.session_len = 0;
        all
    }

    fn lane_for(&mut self, session: SessionId) -> usize {
        if let Some(&lane) = self.lane_of.get(&session) {
            return lane;
        }
        let lane = match self.free.pop() {
            Some(lane) => {
                self.lanes[lane - 1].session = Some(session);
                lane
            }
            None => {
                self.lanes.push(Lane {
                    session: Some(session),
                    runnables: VecDeque::new(),
                });
                self.lanes.len()
            }
        };
        self.lane_of.insert(session, lane);
        lane
    }

    /// Gives an empty session lane back (the lane of tasks without a session stays).
    fn release(&mut self, lane: usize) {
        if lane == NO_SESSION {
            return;
        }
        if let Some(session) = self.lanes[lane - 1].session.take() {
            self.lane_of.remove(&session);
            self.free.push(lane);
        }
    }
}
