//! LinuxScheduler: priority bands in the pool (ordering with bounded starvation), realtime
//! threads (`SCHED_FIFO`, and the fallback when the process may not), and dedicated threads
//! that block and end.
#![cfg(any(target_os = "linux", target_os = "freebsd"))]

use futures::future::join_all;
use native_tests::harnesses::LinuxHarness;
use native_tests::{child, threads};
use scheduler::platform::LinuxScheduler;
use scheduler::{Priority, Scheduler, Task};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// One worker, blocked while 30 tasks of each band are queued (interleaved), then released:
/// it serves high first, medium every third run, low every tenth, so a low task never waits
/// more than 10 runs and the bands finish in order.
#[test]
fn the_pool_serves_high_bands_first_and_low_every_tenth_run() {
    let linux = LinuxScheduler::with_threads(1).expect("one worker");
    let scheduler: Arc<dyn Scheduler> = linux.clone();
    let (blocked_sender, blocked) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let blocker = scheduler.spawn(async move {
        blocked_sender.send(()).expect("the test waits");
        released.recv().expect("the test releases");
    });
    blocked.recv().expect("the worker runs the blocker");
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks: Vec<Task<()>> = Vec::new();
    for _ in 0..30 {
        for priority in [Priority::Low, Priority::Medium, Priority::High] {
            let order = order.clone();
            tasks.push(scheduler.spawn_with_priority(priority, async move {
                order.lock().unwrap().push(priority);
            }));
        }
    }
    release.send(()).expect("the blocker waits");
    scheduler.block(join_all(tasks));
    scheduler.block(blocker);
    let order = order.lock().unwrap().clone();
    assert_eq!(order.len(), 90);
    let positions =
        |band| -> Vec<usize> { (0..order.len()).filter(|&i| order[i] == band).collect() };
    let (high, medium, low) = (
        positions(Priority::High),
        positions(Priority::Medium),
        positions(Priority::Low),
    );
    // Bounded starvation: while low work waits, one of every 10 runs is low.
    let mut previous = None;
    for &position in &low {
        let gap = position - previous.map_or(0, |p: usize| p + 1);
        assert!(gap < 10, "a low task waited {gap} runs: {order:?}");
        previous = Some(position);
    }
    // High first: the high band is done in its first 45 runs (60% of them, and 2 of 3 while
    // no low turn comes), and before most of the medium band.
    assert!(*high.last().unwrap() < 50, "{order:?}");
    let mean =
        |positions: &[usize]| positions.iter().sum::<usize>() as f64 / positions.len() as f64;
    assert!(mean(&high) < mean(&medium), "{order:?}");
    assert!(
        medium.iter().filter(|&&p| p < 10).count() >= 2,
        "medium runs every third run under high load: {order:?}"
    );
}

/// The calling thread's scheduling policy (`SCHED_FIFO`, `SCHED_OTHER`, ...).
fn current_policy() -> i32 {
    let mut policy = 0;
    // SAFETY: a plain C struct of integers, valid when zeroed.
    let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
    // SAFETY: the calling thread's handle, and pointers to locals that outlive the call.
    let result =
        unsafe { libc::pthread_getschedparam(libc::pthread_self(), &mut policy, &mut param) };
    assert_eq!(result, 0);
    policy
}

/// Whether a thread of this process may switch to `SCHED_FIFO` (tried on a throwaway thread).
fn may_raise_priority() -> bool {
    std::thread::spawn(|| {
        // SAFETY: as in `current_policy`.
        let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
        param.sched_priority = 1;
        // SAFETY: the calling (throwaway) thread's handle and a valid `param`.
        unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) == 0 }
    })
    .join()
    .unwrap()
}

#[test]
fn a_realtime_task_runs_on_a_sched_fifo_thread_of_its_own() {
    let harness = LinuxHarness::new();
    let policy = threads::a_realtime_task_runs_on_a_thread_of_its_own(&harness, current_policy);
    if may_raise_priority() {
        assert_eq!(
            policy,
            libc::SCHED_FIFO,
            "the realtime thread was not raised"
        );
    } else {
        // The fallback (see the next test): normal priority, one warning.
        assert_eq!(policy, libc::SCHED_OTHER);
    }
}

#[test]
fn a_realtime_task_falls_back_with_one_warning_when_the_process_may_not_raise_priority() {
    let test =
        "a_realtime_task_falls_back_with_one_warning_when_the_process_may_not_raise_priority";
    let Some(outcome) = child::run(test, Duration::from_secs(60), || {
        // SAFETY: `geteuid` and `setuid` have no memory preconditions; dropping root (to
        // `nobody`) takes away CAP_SYS_NICE, and RLIMIT_RTPRIO is 0 by default.
        unsafe {
            if libc::geteuid() == 0 {
                assert_eq!(libc::setuid(65534), 0, "setuid(nobody)");
            }
        }
        if may_raise_priority() {
            println!("SKIP: this process may raise priority even without root");
            return;
        }
        let harness = LinuxHarness::new();
        for _ in 0..2 {
            let policy =
                threads::a_realtime_task_runs_on_a_thread_of_its_own(&harness, current_policy);
            assert_eq!(policy, libc::SCHED_OTHER);
        }
    }) else {
        return;
    };
    outcome.assert_succeeded();
    if outcome.stdout.contains("SKIP:") {
        return;
    }
    let warnings = outcome
        .stderr
        .matches("could not raise a realtime thread to SCHED_FIFO")
        .count();
    assert_eq!(
        warnings, 1,
        "one warning for four realtime threads:\n{}",
        outcome.stderr
    );
}

#[test]
fn a_dedicated_thread_may_block_while_the_pool_runs() {
    threads::a_dedicated_thread_may_block_while_the_pool_runs(&LinuxHarness::new());
}

#[test]
fn blocking_a_dedicated_thread_on_its_own_task_panics_at_the_call() {
    threads::blocking_a_dedicated_thread_on_its_own_task_panics_at_the_call(&LinuxHarness::new());
}

#[test]
fn dropping_the_root_task_ends_the_dedicated_thread() {
    threads::dropping_the_root_task_ends_its_thread(&LinuxHarness::new());
}
