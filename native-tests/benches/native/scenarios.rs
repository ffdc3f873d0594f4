//! Scenarios a, b, c, d of BENCHMARKS.md, written once over [`Exec`].

use crate::executors::Exec;
use futures::channel::mpsc;
use futures::{SinkExt as _, StreamExt as _};
use native_tests::support::yield_now;
use std::time::{Duration, Instant};

pub const A_TASKS: u64 = 1_000_000;
pub const B_TASKS: u64 = 1_000;
pub const B_YIELDS: u64 = 1_000;
pub const C_ROUND_TRIPS: u64 = 100_000;
pub const D_TIMERS: u64 = 10_000;

/// a: one driver task spawns 1,000,000 trivial tasks, then awaits every handle in order.
/// Returns ns per task.
pub fn spawn_and_await<E: Exec>(exec: &E) -> f64 {
    spawn_and_await_n(exec, A_TASKS)
}

/// a with `tasks` tasks (the a curve). Returns ns per task.
pub fn spawn_and_await_n<E: Exec>(exec: &E, tasks: u64) -> f64 {
    let inner = exec.clone();
    let start = Instant::now();
    let sum = exec.block_on(exec.spawn(async move {
        let handles: Vec<_> = (0..tasks).map(|i| inner.spawn(async move { i })).collect();
        let mut sum = 0u64;
        for handle in handles {
            sum += handle.await;
        }
        sum
    }));
    let elapsed = start.elapsed();
    assert_eq!(sum, tasks * (tasks - 1) / 2);
    elapsed.as_nanos() as f64 / tasks as f64
}

/// b: 1,000 tasks x 1,000 cooperative yields. Returns ns per yield.
pub fn yield_heavy<E: Exec>(exec: &E) -> f64 {
    let inner = exec.clone();
    let start = Instant::now();
    let total = exec.block_on(exec.spawn(async move {
        let handles: Vec<_> = (0..B_TASKS)
            .map(|_| {
                inner.spawn(async {
                    for _ in 0..B_YIELDS {
                        yield_now().await;
                    }
                    B_YIELDS
                })
            })
            .collect();
        let mut total = 0;
        for handle in handles {
            total += handle.await;
        }
        total
    }));
    let elapsed = start.elapsed();
    assert_eq!(total, B_TASKS * B_YIELDS);
    elapsed.as_nanos() as f64 / (B_TASKS * B_YIELDS) as f64
}

/// c: two tasks, 100,000 round trips over `futures::channel::mpsc::channel(1)`. Returns ns per
/// round trip.
pub fn ping_pong<E: Exec>(exec: &E) -> f64 {
    let inner = exec.clone();
    let start = Instant::now();
    let sum = exec.block_on(exec.spawn(async move {
        let (mut ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
        let (mut pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
        let echo = inner.spawn(async move {
            while let Some(value) = ping_rx.next().await {
                if pong_tx.send(value).await.is_err() {
                    break;
                }
            }
        });
        let mut sum = 0u64;
        for i in 0..C_ROUND_TRIPS {
            ping_tx.send(i).await.expect("echo alive");
            sum += pong_rx.next().await.expect("echo alive");
        }
        drop(ping_tx);
        echo.await;
        sum
    }));
    let elapsed = start.elapsed();
    assert_eq!(sum, C_ROUND_TRIPS * (C_ROUND_TRIPS - 1) / 2);
    elapsed.as_nanos() as f64 / C_ROUND_TRIPS as f64
}

/// What scenario d measured in one run.
pub struct TimerRun {
    pub wall_ms: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// d: 10,000 tasks each sleep a fixed pseudo-random 1..=50 ms on the executor's own timer;
/// lateness is wake time minus deadline.
pub fn timers<E: Exec>(exec: &E) -> TimerRun {
    let inner = exec.clone();
    let start = Instant::now();
    let mut lateness_ns = exec.block_on(exec.spawn(async move {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let handles: Vec<_> = (0..D_TIMERS)
            .map(|_| {
                // xorshift: the same delays in every run and for every executor.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let delay = Duration::from_millis(1 + state % 50);
                let sleep_exec = inner.clone();
                inner.spawn(async move {
                    let deadline = Instant::now() + delay;
                    sleep_exec.sleep(delay).await;
                    Instant::now()
                        .saturating_duration_since(deadline)
                        .as_nanos() as u64
                })
            })
            .collect();
        let mut lateness = Vec::with_capacity(handles.len());
        for handle in handles {
            lateness.push(handle.await);
        }
        lateness
    }));
    let wall = start.elapsed();
    lateness_ns.sort_unstable();
    TimerRun {
        wall_ms: wall.as_secs_f64() * 1e3,
        p50_us: percentile(&lateness_ns, 50) / 1e3,
        p99_us: percentile(&lateness_ns, 99) / 1e3,
        max_us: *lateness_ns.last().expect("timers ran") as f64 / 1e3,
    }
}

/// The `pct`-th percentile of sorted nanosecond samples.
pub fn percentile(sorted: &[u64], pct: usize) -> f64 {
    let index = (sorted.len() * pct / 100).min(sorted.len() - 1);
    sorted[index] as f64
}
