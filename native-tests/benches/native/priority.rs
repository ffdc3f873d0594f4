//! Scenario p: the latency of a stream of high-priority tasks while low-priority tasks flood the
//! pool. 1,000,000 flood tasks (each a few microseconds of work: the pool needs seconds for
//! them) are queued from the bench thread, then 10,000 probe tasks are spawned from it, one per
//! 50 µs; a probe's latency is the time from just before its spawn to the start of its first
//! poll. Run three ways in the same round:
//! - ours with priorities: flood `Priority::Low`, probes `Priority::High`;
//! - ours without: every task spawned plainly (medium);
//! - tokio multi-thread (2 workers), which has no priorities.

use crate::scenarios::percentile;
use scheduler::{Priority, Scheduler};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const FLOOD: usize = 1_000_000;
pub const PROBES: usize = 10_000;
pub const PACE: Duration = Duration::from_micros(50);

/// What one run measured.
pub struct PriorityRun {
    pub p50_us: f64,
    pub p99_us: f64,
    /// From the first flood spawn to the last flood task's end.
    pub flood_ms: f64,
}

/// How a run spawns: a flood task or a probe, as a boxed job.
pub trait Spawner {
    fn flood(&self, job: Box<dyn FnOnce() + Send>);
    fn probe(&self, job: Box<dyn FnOnce() + Send>);
}

/// Ours, through `Arc<dyn Scheduler>`, with or without priorities.
pub struct Ours {
    pub scheduler: Arc<dyn Scheduler>,
    pub priorities: bool,
}

impl Spawner for Ours {
    fn flood(&self, job: Box<dyn FnOnce() + Send>) {
        let task = if self.priorities {
            self.scheduler
                .spawn_with_priority(Priority::Low, async move { job() })
        } else {
            self.scheduler.spawn(async move { job() })
        };
        task.detach();
    }

    fn probe(&self, job: Box<dyn FnOnce() + Send>) {
        let task = if self.priorities {
            self.scheduler
                .spawn_with_priority(Priority::High, async move { job() })
        } else {
            self.scheduler.spawn(async move { job() })
        };
        task.detach();
    }
}

/// tokio (no priorities): both kinds are plain spawns.
pub struct Tokio(pub Arc<tokio::runtime::Runtime>);

impl Spawner for Tokio {
    fn flood(&self, job: Box<dyn FnOnce() + Send>) {
        drop(self.0.spawn(async move { job() }));
    }

    fn probe(&self, job: Box<dyn FnOnce() + Send>) {
        drop(self.0.spawn(async move { job() }));
    }
}

/// A little work for a flood task (a few microseconds, the same for every executor): the pool
/// takes longer to run the flood than the bench thread takes to queue it, so it is a backlog.
fn work(seed: u64) -> u64 {
    let mut state = seed | 1;
    for _ in 0..1_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
    }
    std::hint::black_box(state)
}

/// Runs scenario p on `spawner`.
pub fn run(spawner: &dyn Spawner) -> PriorityRun {
    let flood_done = Arc::new(AtomicUsize::new(0));
    let flood_end = Arc::new(AtomicU64::new(0));
    let latencies: Arc<Vec<AtomicU64>> = Arc::new((0..PROBES).map(|_| AtomicU64::new(0)).collect());
    let probes_done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    for i in 0..FLOOD {
        let (done, end) = (flood_done.clone(), flood_end.clone());
        spawner.flood(Box::new(move || {
            work(i as u64);
            if done.fetch_add(1, Ordering::AcqRel) + 1 == FLOOD {
                end.store(start.elapsed().as_nanos() as u64, Ordering::Release);
            }
        }));
    }
    let stream_start = Instant::now();
    for i in 0..PROBES {
        let due = stream_start + PACE * i as u32;
        while Instant::now() < due {
            // Leaves the cores to the pool while it waits (2 cores here).
            std::thread::yield_now();
        }
        let (latencies, done) = (latencies.clone(), probes_done.clone());
        let spawned = Instant::now();
        spawner.probe(Box::new(move || {
            latencies[i].store(spawned.elapsed().as_nanos() as u64, Ordering::Relaxed);
            done.fetch_add(1, Ordering::AcqRel);
        }));
    }
    while probes_done.load(Ordering::Acquire) < PROBES || flood_done.load(Ordering::Acquire) < FLOOD
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut sorted: Vec<u64> = latencies
        .iter()
        .map(|l| l.load(Ordering::Relaxed))
        .collect();
    sorted.sort_unstable();
    PriorityRun {
        p50_us: percentile(&sorted, 50) / 1e3,
        p99_us: percentile(&sorted, 99) / 1e3,
        flood_ms: flood_end.load(Ordering::Acquire) as f64 / 1e6,
    }
}
