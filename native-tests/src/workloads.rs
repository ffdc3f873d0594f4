//! Workloads shared by the benchmarks and the instruction-count example, so both measure the
//! same thing.

use crate::support::yield_now;
use scheduler::{ForegroundExecutor, Scheduler, TestScheduler};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Scenario e's body on `test` (BENCHMARKS.md): 50 foreground and 50 background tasks of 10
/// yields each, and a task waiting on a 10 ms timer that `advance_clock` releases. Returns
/// whether that timer fired.
pub fn many_seeds_body(test: &Arc<TestScheduler>) -> bool {
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let foreground = ForegroundExecutor::new(scheduler.clone());
    for _ in 0..50 {
        foreground.spawn(yields(10)).detach();
        scheduler.spawn(yields(10)).detach();
    }
    let fired = Arc::new(AtomicBool::new(false));
    let timer = scheduler.timer(Duration::from_millis(10));
    let flag = fired.clone();
    scheduler
        .spawn(async move {
            timer.await;
            flag.store(true, Ordering::Relaxed);
        })
        .detach();
    test.run_until_parked();
    test.advance_clock(Duration::from_millis(10));
    fired.load(Ordering::Relaxed)
}

async fn yields(count: usize) {
    for _ in 0..count {
        yield_now().await;
    }
}
