//! A fixed workload on the deterministic `TestScheduler` whose trace must hash to the same value
//! on every target: this one file is compiled into both `native-tests` (x86_64, aarch64, ...)
//! and `wasm-tests` (wasm32, run in Node), which assert the same recorded constant.
//!
//! The hash is FNV-1a 64 (defined here: std's hashers are randomized or unspecified) over a
//! canonical text of every `TraceEvent` plus the workload's output. Spawn locations enter by file
//! name, line and column only, since the two crates see this file under different paths.

use futures::StreamExt;
use futures::channel::mpsc;
use scheduler::{
    BackgroundExecutor, ForegroundExecutor, Scheduler, SessionId, TaskLabel, TestScheduler,
    TraceEvent, session,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The seeds the recorded hash covers.
pub const SEEDS: std::ops::Range<u64> = 0..12;

/// `combined_trace_hash()`, recorded once (on x86_64 Linux) and asserted on every target.
///
/// A deliberate change to the TestScheduler's choices (its generator, its ready queue) changes
/// this value: both test halves then fail printing the new hash; check that they print the same
/// one (`cargo test -p native-tests --test cross_target_trace` and `scripts/test.d/30-wasm.sh`)
/// before recording it here. Editing this file above the workload moves its spawn locations,
/// which the trace records, and so changes the hash too.
pub const EXPECTED_COMBINED_HASH: u64 = 0x4a17_ba10_08ea_dab1;

/// FNV-1a, 64 bits.
pub struct Fnv1a(u64);

impl Fnv1a {
    pub fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn write_str(&mut self, text: &str) {
        self.write(text.as_bytes());
        self.write(&[0xff]);
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// `dir/dir/file.rs:12:5` -> `file.rs:12:5`.
fn file_line_column(location: &str) -> &str {
    location.rsplit(['/', '\\']).next().unwrap_or(location)
}

fn summary(task: &scheduler::TaskSummary) -> String {
    format!(
        "#{} {:?} label={:?} session={:?} at {}",
        task.id,
        task.kind,
        task.label,
        task.session,
        file_line_column(&task.location)
    )
}

/// The canonical, target-independent text of one event.
pub fn canonical(event: &TraceEvent) -> String {
    match event {
        TraceEvent::Spawned { elapsed, task } => {
            format!("spawn {}ns {}", elapsed.as_nanos(), summary(task))
        }
        TraceEvent::Ran {
            tick,
            elapsed,
            task,
        } => format!("run {tick} {}ns {}", elapsed.as_nanos(), summary(task)),
        TraceEvent::Ended {
            elapsed,
            task,
            outcome,
        } => format!("end {}ns {} {outcome:?}", elapsed.as_nanos(), summary(task)),
    }
}

/// Runs the workload on `TestScheduler::new(config)` and returns its trace (canonical lines)
/// and output.
pub fn run_workload_with(config: scheduler::TestSchedulerConfig) -> (Vec<String>, Vec<String>) {
    let test = TestScheduler::new(config);
    test.enable_trace();
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let background = BackgroundExecutor::new(scheduler.clone());
    let output = Arc::new(Mutex::new(Vec::new()));
    let log = {
        let output = output.clone();
        move |line: String| output.lock().unwrap().push(line)
    };

    // A collector fed by a channel, and background workers that delay, sleep and spawn.
    let (sender, mut receiver) = mpsc::unbounded::<(u32, u64)>();
    let collector = background.spawn({
        let log = log.clone();
        async move {
            let mut sum = 0;
            while let Some((worker, value)) = receiver.next().await {
                sum += value;
                log(format!("got {worker}:{value}"));
            }
            sum
        }
    });
    let slow = TaskLabel::named("slow");
    test.deprioritize(slow);
    for worker in 0..10u32 {
        let (test, executor, sender) = (test.clone(), background.clone(), sender.clone());
        let task = async move {
            for step in 0..3u64 {
                test.simulate_random_delay().await;
                if (worker + step as u32).is_multiple_of(4) {
                    executor
                        .timer(Duration::from_millis(u64::from(worker) * 3 + step))
                        .await;
                }
                let value = if worker.is_multiple_of(3) {
                    executor.spawn(async move { step * 10 }).await
                } else {
                    step
                };
                sender.unbounded_send((worker, value)).unwrap();
            }
        };
        if worker % 5 == 4 {
            background.spawn_labeled(slow, task).detach();
        } else {
            background.spawn(task).detach();
        }
    }
    drop(sender);

    // Foreground work in two sessions, FIFO within each.
    for session_id in [1u64, 2] {
        let session = SessionId::from_raw(session_id);
        let foreground = ForegroundExecutor::for_session(scheduler.clone(), session);
        for index in 0..4 {
            let (test, log) = (test.clone(), log.clone());
            foreground
                .spawn(async move {
                    test.simulate_random_delay().await;
                    log(format!(
                        "fg {session_id}.{index} in {:?}",
                        session::current()
                    ));
                })
                .detach();
        }
    }

    // A task cancelled mid-flight, and a timer dropped before it fires.
    let doomed = background.spawn({
        let background = background.clone();
        async move { background.timer(Duration::from_secs(3600)).await }
    });
    test.run_until_parked();
    drop(doomed);
    drop(background.timer(Duration::from_millis(5)));

    test.advance_clock(Duration::from_millis(100));
    test.run_until_parked();
    let sum = background.block(collector);
    log(format!("sum {sum} at {:?}", test.elapsed()));

    let trace = test.take_trace().iter().map(canonical).collect();
    let output = output.lock().unwrap().clone();
    (trace, output)
}

/// Runs the workload on `TestScheduler::with_seed(seed)` (the default, random strategy).
pub fn run_workload(seed: u64) -> (Vec<String>, Vec<String>) {
    run_workload_with(scheduler::TestSchedulerConfig::with_seed(seed))
}

/// The strategy of the second recorded hash: PCT with 2 change points.
pub const PCT: scheduler::Strategy = scheduler::Strategy::Pct {
    depth: 3,
    steps: 60,
};

/// `combined_trace_hash_with(PCT)`, recorded once (on x86_64 Linux) and asserted on every target
/// (wasm32 printed the same). Recorded again, like [`EXPECTED_COMBINED_HASH`], only on a
/// deliberate change to PCT's choices.
pub const EXPECTED_PCT_HASH: u64 = 0x9e1b_7eab_5847_a7fd;

/// The hash of one seed's trace and output (random strategy).
pub fn trace_hash(seed: u64) -> u64 {
    trace_hash_with(scheduler::Strategy::Random, seed)
}

/// The hash of one seed's trace and output under `strategy`.
pub fn trace_hash_with(strategy: scheduler::Strategy, seed: u64) -> u64 {
    let (trace, output) = run_workload_with(scheduler::TestSchedulerConfig {
        strategy,
        ..scheduler::TestSchedulerConfig::with_seed(seed)
    });
    let mut hash = Fnv1a::new();
    for line in trace.iter().chain(&output) {
        hash.write_str(line);
    }
    hash.finish()
}

/// The hash of every seed in [`SEEDS`], in order (random strategy).
pub fn combined_trace_hash() -> u64 {
    combined_trace_hash_with(scheduler::Strategy::Random)
}

/// The hash of every seed in [`SEEDS`], in order, under `strategy`.
pub fn combined_trace_hash_with(strategy: scheduler::Strategy) -> u64 {
    let mut hash = Fnv1a::new();
    for seed in SEEDS {
        hash.write(&trace_hash_with(strategy, seed).to_le_bytes());
    }
    hash.finish()
}

/// Asserts that this target's combined hash is the recorded one (`target` names it in the
/// failure message). Kept after the workload: adding lines above it would move the spawn
/// locations the trace records, and so the hash.
pub fn assert_recorded_hash(target: &str) {
    let combined = combined_trace_hash();
    assert_eq!(
        combined, EXPECTED_COMBINED_HASH,
        "trace hash on {target}: {combined:#018x}"
    );
}

/// Asserts that this target's combined hash under PCT is the recorded one, and that PCT's
/// schedules differ from the random strategy's.
pub fn assert_recorded_pct_hash(target: &str) {
    let combined = combined_trace_hash_with(PCT);
    assert_eq!(
        combined, EXPECTED_PCT_HASH,
        "PCT trace hash on {target}: {combined:#018x}"
    );
    assert_ne!(combined, combined_trace_hash());
}

/// Asserts that one seed replays the same non-trivial trace and output, and another seed differs.
pub fn assert_same_seed_same_trace() {
    let (trace, output) = run_workload(7);
    assert!(
        trace.len() > 100,
        "the workload is not trivial: {} events",
        trace.len()
    );
    assert_eq!(run_workload(7), (trace, output));
    assert_ne!(trace_hash(7), trace_hash(8));
}

// History of EXPECTED_COMBINED_HASH (kept here, below the workload, so it moves no spawn
// location): 0x85e5_a568_f583_38ab until 2026-12-01; then recorded again on purpose when `tick`
// started firing timers that are already due (the workload's zero-length timers used to wait for
// `advance_clock`). With that one change undone, the previous value still came out. It stayed the
// same when the exploration strategies arrived (the random strategy's choices did not change).
// It stayed the same again when task priorities arrived: with every task medium the weighted
// pick is the one uniform draw it was (and the canonical text leaves the priority out).
//
// EXPECTED_PCT_HASH: recorded 2026-12-01 with the PCT strategy's introduction.

// ---------------------------------------------------------------------------------------------
// Priorities, dedicated executors and the UTC clock: a second workload with its own recorded
// hash (kept below everything above, so the first workload's spawn locations do not move).

/// The canonical text of one event with the task's priority (the first workload's text leaves
/// it out, so that hash did not change when priorities arrived).
pub fn canonical_with_priority(event: &TraceEvent) -> String {
    let task = match event {
        TraceEvent::Spawned { task, .. }
        | TraceEvent::Ran { task, .. }
        | TraceEvent::Ended { task, .. } => task,
    };
    format!("{} p={}", canonical(event), task.priority)
}

/// Mixed priorities (inherited and given), a simulated dedicated executor with local tasks, a
/// simulated realtime task, timers and the fake UTC clock, on `TestScheduler::with_seed(seed)`.
pub fn run_priority_workload(seed: u64) -> (Vec<String>, Vec<String>) {
    use scheduler::Priority;
    let test = TestScheduler::with_seed(seed);
    test.enable_trace();
    let background = test.background();
    let output = Arc::new(Mutex::new(Vec::new()));
    let log = {
        let output = output.clone();
        move |line: String| output.lock().unwrap().push(line)
    };
    let mut tasks = Vec::new();
    for (index, priority) in [Priority::Low, Priority::Medium, Priority::High]
        .into_iter()
        .cycle()
        .take(9)
        .enumerate()
    {
        let (test, executor, log) = (test.clone(), background.clone(), log.clone());
        tasks.push(background.spawn_with_priority(priority, async move {
            test.simulate_random_delay().await;
            let child = executor.spawn(async { Priority::current() }).await;
            if index % 4 == 0 {
                executor.timer(Duration::from_millis(index as u64)).await;
            }
            log(format!("{index} {priority} child {child}"));
        }));
    }
    let dedicated = background.spawn_dedicated({
        let log = log.clone();
        move |executor| async move {
            let locals: Vec<_> = (0..3)
                .map(|i| {
                    let log = log.clone();
                    executor.spawn(async move { log(format!("local {i}")) })
                })
                .collect();
            futures::future::join_all(locals).await;
            executor.timer(Duration::from_millis(7)).await;
        }
    });
    let realtime = background.spawn_with_priority(Priority::Realtime, {
        let (executor, log) = (background.clone(), log.clone());
        async move {
            let child = executor.spawn(async { Priority::current() }).await;
            log(format!("realtime child {child}"));
        }
    });
    test.set_utc_now(scheduler::SystemTime::UNIX_EPOCH + Duration::from_secs(1_798_761_599));
    test.advance_clock(Duration::from_millis(20));
    background.block(futures::future::join_all(tasks));
    background.block(dedicated);
    background.block(realtime);
    let utc = test
        .utc_now()
        .duration_since(scheduler::SystemTime::UNIX_EPOCH)
        .unwrap();
    log(format!("utc {}ms", utc.as_millis()));
    let trace = test
        .take_trace()
        .iter()
        .map(canonical_with_priority)
        .collect();
    let output = output.lock().unwrap().clone();
    (trace, output)
}

/// The hash of [`run_priority_workload`] over [`SEEDS`], recorded once (on x86_64 Linux; wasm32
/// printed the same) and asserted on every target. Like the first workload's, it moves with any
/// line added above the workload (its spawn locations are in the trace).
pub const EXPECTED_PRIORITY_HASH: u64 = 0xd261_0817_4371_090a;

/// The combined hash of the priority workload over [`SEEDS`].
pub fn combined_priority_hash() -> u64 {
    let mut combined = Fnv1a::new();
    for seed in SEEDS {
        let (trace, output) = run_priority_workload(seed);
        let mut hash = Fnv1a::new();
        for line in trace.iter().chain(&output) {
            hash.write_str(line);
        }
        combined.write(&hash.finish().to_le_bytes());
    }
    combined.finish()
}

/// Asserts that this target's priority-workload hash is the recorded one.
pub fn assert_recorded_priority_hash(target: &str) {
    let combined = combined_priority_hash();
    assert_eq!(
        combined, EXPECTED_PRIORITY_HASH,
        "priority trace hash on {target}: {combined:#018x}"
    );
}
