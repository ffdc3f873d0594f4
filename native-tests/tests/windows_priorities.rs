//! WindowsScheduler: thread-pool callback priorities, realtime threads
//! (`THREAD_PRIORITY_TIME_CRITICAL`), and dedicated threads that block and end. Run under Wine
//! by `scripts/test.d/40-windows.sh`.
#![cfg(windows)]

use native_tests::behaviour::Harness;
use native_tests::harnesses::WindowsHarness;
use native_tests::threads;
use scheduler::{Priority, Task};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Keeps a thread busy for `duration` (a stand-in for work).
fn spin(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}

/// A high task submitted behind a backlog of low ones starts long before the backlog is done:
/// the pool runs pending high-priority callbacks first. Measured against the backlog still
/// pending when the high task was submitted (the pool grows threads and starts on the lows
/// while they are being submitted, faster or slower with the machine's load); each low keeps a
/// thread 1 ms, so the 2 cores cannot drain the backlog while it is submitted.
#[test]
fn a_high_task_overtakes_a_backlog_of_low_ones() {
    const LOWS: usize = 4_000;
    let harness = WindowsHarness::new();
    let scheduler = harness.scheduler();
    let done = Arc::new(AtomicUsize::new(0));
    let lows: Vec<Task<()>> = (0..LOWS)
        .map(|_| {
            let done = done.clone();
            scheduler.spawn_with_priority(Priority::Low, async move {
                spin(Duration::from_millis(1));
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let at_submit = done.load(Ordering::SeqCst);
    let high = scheduler.spawn_with_priority(Priority::High, {
        let done = done.clone();
        async move { done.load(Ordering::SeqCst) }
    });
    let (before_high, after) = harness.run(async move {
        let before_high = high.await;
        futures::future::join_all(lows).await;
        (before_high, done.load(Ordering::SeqCst))
    });
    assert_eq!(after, LOWS);
    let pending = LOWS - at_submit;
    assert!(
        pending >= LOWS / 2,
        "{at_submit} of {LOWS} low tasks ran while they were being submitted: no backlog to overtake"
    );
    let overtaken_by = before_high - at_submit;
    assert!(
        overtaken_by < pending / 4,
        "the high task started after {overtaken_by} of the {pending} low tasks pending at its submit \
         had run"
    );
}

/// `GetThreadPriority` of the calling thread.
fn current_thread_priority() -> i32 {
    use windows_sys::Win32::System::Threading::{GetCurrentThread, GetThreadPriority};
    // SAFETY: the calling thread's pseudo-handle; no other preconditions.
    unsafe { GetThreadPriority(GetCurrentThread()) }
}

#[test]
fn a_realtime_task_runs_on_a_time_critical_thread_of_its_own() {
    let priority = threads::a_realtime_task_runs_on_a_thread_of_its_own(
        &WindowsHarness::new(),
        current_thread_priority,
    );
    // THREAD_PRIORITY_TIME_CRITICAL, or THREAD_PRIORITY_NORMAL after the fallback warning.
    assert!(
        priority == 15 || priority == 0,
        "thread priority {priority}"
    );
    assert_eq!(
        priority, 15,
        "Windows (and Wine) let a process raise its own threads"
    );
}

#[test]
fn a_dedicated_thread_may_block_while_the_pool_runs() {
    threads::a_dedicated_thread_may_block_while_the_pool_runs(&WindowsHarness::new());
}

#[test]
fn blocking_a_dedicated_thread_on_its_own_task_panics_at_the_call() {
    threads::blocking_a_dedicated_thread_on_its_own_task_panics_at_the_call(&WindowsHarness::new());
}

#[test]
fn dropping_the_root_task_ends_the_dedicated_thread() {
    threads::dropping_the_root_task_ends_its_thread(&WindowsHarness::new());
}
