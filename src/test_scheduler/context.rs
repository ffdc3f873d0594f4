//! The seed harness's frame around one schedule: what every `TestScheduler` created on this
//! thread meanwhile should do (a strategy from `STRATEGY`, the exhaustive search's prefix, a
//! replay file's recording, recording for a replay file, the determinism check's trace), and
//! the list of them, so the harness can read back what each one did.
//!
//! This is how `run_seeds`, whose body creates its own schedulers, gets the same exploration,
//! replay and checks as `many`. Outside a frame, a scheduler does exactly what its config says.

use super::config::TestSchedulerConfig;
use super::draws::Draw;
use super::engine::Engine;
use super::strategy::Strategy;
use super::timeline::Timeline;
use super::trace::TraceEvent;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// What one scheduler chose and drew: enough to replay its schedule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Recording {
    /// The task run at each choice point (a tick with more than one candidate).
    pub(super) choices: Vec<u64>,
    pub(super) draws: Vec<Draw>,
}

/// What the harness asks of the schedulers created during one schedule.
#[derive(Clone, Debug, Default)]
pub(super) struct Plan {
    /// Overrides the config's strategy (`STRATEGY=`, or a replay file's).
    pub(super) strategy: Option<Strategy>,
    /// The exhaustive search's prefix, for the first scheduler.
    pub(super) prefix: Vec<u32>,
    /// Recordings to follow, by creation order.
    pub(super) replay: Vec<Recording>,
    /// Record choices and draws (for a replay file).
    pub(super) record: bool,
    /// Record a trace for the determinism check.
    pub(super) audit: bool,
    /// Record a timeline (written next to the replay file if the schedule fails).
    pub(super) timeline: bool,
}

/// What one scheduler is asked to do.
#[derive(Clone, Debug, Default)]
pub(super) struct Directions {
    pub(super) prefix: Vec<u32>,
    pub(super) replay: Option<Recording>,
    pub(super) record: bool,
    pub(super) audit: bool,
    pub(super) timeline: bool,
}

/// What one scheduler did, read back by the harness.
#[derive(Debug)]
pub(super) struct Report {
    pub(super) strategy: Strategy,
    pub(super) recording: Recording,
    /// The exhaustive search's `(index, candidates)` per choice point.
    pub(super) taken: Option<Vec<(u32, u32)>>,
    pub(super) audit: Vec<TraceEvent>,
    /// The timeline, if one was recorded.
    pub(super) timeline: Option<Timeline>,
    /// `TestScheduler (seed 17, strategy random)`: its process name in a timeline file.
    pub(super) name: String,
}

struct Frame {
    plan: Plan,
    engines: Vec<Arc<Engine>>,
}

thread_local! {
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Runs `body` in a frame with `plan`; returns its outcome (a panic is caught) and what every
/// scheduler created meanwhile on this thread did, in creation order.
pub(super) fn within<R>(
    plan: Plan,
    body: impl FnOnce() -> R,
) -> (std::thread::Result<R>, Vec<Report>) {
    FRAMES.with(|frames| {
        frames.borrow_mut().push(Frame {
            plan,
            engines: Vec::new(),
        })
    });
    let outcome = catch_unwind(AssertUnwindSafe(body));
    let frame = FRAMES
        .with(|frames| frames.borrow_mut().pop())
        .expect("the frame pushed above");
    let reports = frame.engines.iter().map(|engine| engine.report()).collect();
    (outcome, reports)
}

/// For a scheduler about to be created on this thread: applies the innermost frame's strategy
/// to `config`, and says what else to do. Nothing outside a frame.
pub(super) fn directions(config: &mut TestSchedulerConfig) -> Directions {
    FRAMES.with(|frames| {
        let frames = frames.borrow();
        let Some(frame) = frames.last() else {
            return Directions::default();
        };
        if let Some(strategy) = frame.plan.strategy {
            config.strategy = strategy;
        }
        let index = frame.engines.len();
        Directions {
            prefix: if index == 0 {
                frame.plan.prefix.clone()
            } else {
                Vec::new()
            },
            replay: frame.plan.replay.get(index).cloned(),
            record: frame.plan.record,
            audit: frame.plan.audit,
            timeline: frame.plan.timeline,
        }
    })
}

/// Lists a scheduler just created on this thread in the innermost frame.
pub(super) fn register(engine: &Arc<Engine>) {
    FRAMES.with(|frames| {
        if let Some(frame) = frames.borrow_mut().last_mut() {
            frame.engines.push(engine.clone());
        }
    });
}
