//! Seeded bug programs for comparing the TestScheduler's exploration strategies: each runs a few
//! tasks of 10 steps (a step is one poll: the code up to the task's next `yield_now`) on the
//! scheduler it is given and says whether the bug happened. Used by the `exploration` bench
//! (the README's table) and the `exploration` tests.

use crate::support::yield_now;
use scheduler::{Strategy, TestScheduler, TestSchedulerConfig};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// Steps per task.
pub const STEPS: u32 = 10;

/// One bug program.
#[derive(Clone, Copy, Debug)]
pub struct Program {
    /// Short name.
    pub name: &'static str,
    /// What goes wrong, in one line.
    pub bug: &'static str,
    /// The bug's depth: how many ordering constraints it needs.
    pub depth: u32,
    /// Tasks × steps.
    pub tasks: u32,
    /// Runs the program once on `test`; `true` if the bug happened.
    pub run: fn(&Arc<TestScheduler>) -> bool,
}

/// The three programs of the README's table.
pub const PROGRAMS: [Program; 3] = [
    Program {
        name: "order violation",
        bug: "a consumer reads a config at its step 5 before the loader sets it at its step 5",
        depth: 1,
        tasks: 2,
        run: order_violation,
    },
    Program {
        name: "atomicity violation",
        bug: "a reader checks a key (step 1) and uses it (step 2); an evictor removes it at its \
              step 10",
        depth: 2,
        tasks: 2,
        run: atomicity_violation,
    },
    Program {
        name: "depth-3 handshake",
        bug: "A opens a window (step 3) and closes it (step 4); B must advance it at its step 10, \
              then C at its step 10, both inside A's window",
        depth: 3,
        tasks: 3,
        run: depth_three,
    },
];

/// Runs `body(step)` for steps 1 to [`STEPS`], yielding between steps.
async fn steps(mut body: impl FnMut(u32)) {
    for step in 1..=STEPS {
        body(step);
        if step < STEPS {
            yield_now().await;
        }
    }
}

/// Depth 1: the consumer's read (its step 5) must come before the loader's write (its step 5).
pub fn order_violation(test: &Arc<TestScheduler>) -> bool {
    let config = Arc::new(Mutex::new(None::<u32>));
    let bug = Arc::new(AtomicBool::new(false));
    let loader = {
        let config = config.clone();
        steps(move |step| {
            if step == 5 {
                *config.lock().unwrap() = Some(42);
            }
        })
    };
    let consumer = {
        let bug = bug.clone();
        steps(move |step| {
            if step == 5 && config.lock().unwrap().is_none() {
                bug.store(true, Ordering::Relaxed);
            }
        })
    };
    test.spawn(loader).detach();
    test.spawn(consumer).detach();
    test.run_until_parked();
    bug.load(Ordering::Relaxed)
}

/// Depth 2: the evictor's removal (its step 10) must fall between the reader's check (step 1)
/// and use (step 2).
pub fn atomicity_violation(test: &Arc<TestScheduler>) -> bool {
    let cache = Arc::new(Mutex::new(Some("value")));
    let bug = Arc::new(AtomicBool::new(false));
    let reader = {
        let (cache, bug) = (cache.clone(), bug.clone());
        let mut present = false;
        steps(move |step| match step {
            1 => present = cache.lock().unwrap().is_some(),
            2 if present && cache.lock().unwrap().is_none() => bug.store(true, Ordering::Relaxed),
            _ => {}
        })
    };
    let evictor = steps(move |step| {
        if step == STEPS {
            *cache.lock().unwrap() = None;
        }
    });
    test.spawn(reader).detach();
    test.spawn(evictor).detach();
    test.run_until_parked();
    bug.load(Ordering::Relaxed)
}

/// Depth 3: A's step 3 < B's step 10 < C's step 10 < A's step 4.
pub fn depth_three(test: &Arc<TestScheduler>) -> bool {
    let stage = Arc::new(AtomicU8::new(0));
    let a = {
        let stage = stage.clone();
        steps(move |step| match step {
            3 => stage.store(1, Ordering::Relaxed),
            4 => stage.store(0, Ordering::Relaxed),
            _ => {}
        })
    };
    let reached_three = Arc::new(AtomicBool::new(false));
    let advance = |from: u8| {
        let (stage, reached_three) = (stage.clone(), reached_three.clone());
        steps(move |step| {
            if step == STEPS && stage.load(Ordering::Relaxed) == from {
                stage.store(from + 1, Ordering::Relaxed);
                if from + 1 == 3 {
                    reached_three.store(true, Ordering::Relaxed);
                }
            }
        })
    };
    let (b, c) = (advance(1), advance(2));
    test.spawn(a).detach();
    test.spawn(b).detach();
    test.spawn(c).detach();
    test.run_until_parked();
    // C advanced 2 -> 3 inside A's window (A's step 4 resets the stage, so C leaves a mark).
    reached_three.load(Ordering::Relaxed)
}

/// How many schedules `strategy` needs to hit `program`'s bug, searching from `base_seed`
/// (`None`: not within `limit`).
pub fn seeds_to_bug(
    program: &Program,
    strategy: Strategy,
    base_seed: u64,
    limit: u64,
) -> Option<u64> {
    let config = TestSchedulerConfig {
        strategy,
        ..TestSchedulerConfig::with_seed(base_seed)
    };
    let outcome = TestScheduler::search(config, limit, program.run);
    outcome.found.then_some(outcome.schedules)
}
