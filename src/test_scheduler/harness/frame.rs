//! The seed harness's frame around one schedule: what every `TestScheduler` created on this
//! thread meanwhile should do (a strategy from `STRATEGY`, the exhaustive search's prefix, a
//! replay file's recording, recording for a replay file, the determinism check's trace), and
//! the list of them, so the harness can read back what each one did.
//!
//! This is how `run_seeds`, whose body creates its own schedulers, gets the same exploration,
//! replay and checks as `many`. Outside a frame, a scheduler does exactly what its config says.

use crate::test_scheduler::config::TestSchedulerConfig;
use crate::test_scheduler::engine::{Engine, Transcript};
use crate::test_scheduler::explore::{Directions, Recording, Strategy};
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// What the harness asks of the schedulers created during one schedule.
#[derive(Clone, Debug, Default)]
pub(crate) struct Plan {
    /// Overrides the config's strategy (`STRATEGY=`, or a replay file's).
    pub(crate) strategy: Option<Strategy>,
    /// The exhaustive search's prefix, for the first scheduler.
    pub(crate) prefix: Vec<u32>,
    /// Recordings to follow, by creation order.
    pub(crate) replay: Vec<Recording>,
    /// Record choices and draws (for a replay file).
    pub(crate) record: bool,
    /// Record a trace for the determinism check.
    pub(crate) audit: bool,
    /// Record a timeline (written next to the replay file if the schedule fails).
    pub(crate) timeline: bool,
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
pub(crate) fn within<R>(
    plan: Plan,
    body: impl FnOnce() -> R,
) -> (std::thread::Result<R>, Vec<Transcript>) {
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
    let reports = frame
        .engines
        .iter()
        .map(|engine| engine.transcript())
        .collect();
    (outcome, reports)
}

/// For a scheduler about to be created on this thread: applies the innermost frame's strategy
/// to `config`, and says what else to do. Nothing outside a frame.
pub(crate) fn directions(config: &mut TestSchedulerConfig) -> Directions {
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
pub(crate) fn register(engine: &Arc<Engine>) {
    FRAMES.with(|frames| {
        if let Some(frame) = frames.borrow_mut().last_mut() {
            frame.engines.push(engine.clone());
        }
    });
}
