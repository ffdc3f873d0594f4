//! Scenario wp of the wasm benchmarks: the latency of a high-priority task under a
//! low-priority flood. 100,000 flood tasks (each a little work) are queued at once; every
//! 100th spawns a probe task as it runs, and a probe's latency is the time from its spawn to
//! the start of its poll. Three ways, in the same round: the WasmScheduler with priorities
//! (flood `Low`, probes `High`), the WasmScheduler without (every task medium), and
//! `wasm_bindgen_futures::spawn_local` (no priorities).

use crate::support::js_sleep;
use scheduler::{Instant, Priority, Scheduler, Task};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use wasm_bindgen_futures::spawn_local;

const FLOOD: u64 = 100_000;
const EVERY: u64 = 100;
const PROBES: usize = (FLOOD / EVERY) as usize;

/// A little work for a flood task (the same on every side).
fn work(seed: u64) -> u64 {
    let mut state = seed | 1;
    for _ in 0..500 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
    }
    std::hint::black_box(state)
}

/// The 50th and 99th percentiles of `latencies` (µs).
fn percentiles(mut latencies: Vec<f64>) -> (f64, f64) {
    latencies.sort_by(f64::total_cmp);
    let at = |pct: usize| latencies[(latencies.len() * pct).div_ceil(100).max(1) - 1];
    (at(50), at(99))
}

/// Waits (on JS timeouts, outside any scheduler) until `done()`.
async fn until(done: impl Fn() -> bool) {
    while !done() {
        js_sleep(1.0).await;
    }
}

/// wp, ours: with `priorities`, the flood is low and the probes high; else all medium.
pub(crate) async fn wp_ours(scheduler: &Arc<dyn Scheduler>, priorities: bool) -> (f64, f64) {
    let (flood_priority, probe_priority) = if priorities {
        (Priority::Low, Priority::High)
    } else {
        (Priority::Medium, Priority::Medium)
    };
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(PROBES)));
    let flood: Vec<Task<()>> = (0..FLOOD)
        .map(|i| {
            let (scheduler, latencies) = (scheduler.clone(), latencies.clone());
            scheduler
                .clone()
                .spawn_with_priority(flood_priority, async move {
                    work(i);
                    if i % EVERY == 0 {
                        let spawned = Instant::now();
                        scheduler
                            .spawn_with_priority(probe_priority, async move {
                                let latency = spawned.elapsed().as_secs_f64() * 1e6;
                                latencies.lock().unwrap().push(latency);
                            })
                            .detach();
                    }
                })
        })
        .collect();
    for task in flood {
        task.await;
    }
    until(|| latencies.lock().unwrap().len() == PROBES).await;
    let latencies = std::mem::take(&mut *latencies.lock().unwrap());
    percentiles(latencies)
}

/// wp, peer: the same on `spawn_local`.
pub(crate) async fn wp_peer() -> (f64, f64) {
    let latencies = Rc::new(RefCell::new(Vec::with_capacity(PROBES)));
    let finished = Rc::new(RefCell::new(0u64));
    for i in 0..FLOOD {
        let (latencies, finished) = (latencies.clone(), finished.clone());
        spawn_local(async move {
            work(i);
            if i % EVERY == 0 {
                let spawned = Instant::now();
                spawn_local(async move {
                    let latency = spawned.elapsed().as_secs_f64() * 1e6;
                    latencies.borrow_mut().push(latency);
                });
            }
            *finished.borrow_mut() += 1;
        });
    }
    until(|| *finished.borrow() == FLOOD && latencies.borrow().len() == PROBES).await;
    let latencies = latencies.take();
    percentiles(latencies)
}
