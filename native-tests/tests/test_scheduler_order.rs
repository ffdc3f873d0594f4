//! TestScheduler: determinism and ordering — same seed ⇒ same trace, different seeds explore
//! different interleavings, per-session FIFO, timer order, deprioritized labels.

use futures::future::join_all;
use native_tests::support::yield_now;
use scheduler::{
    ForegroundExecutor, Scheduler, SessionId, TaskLabel, TestScheduler, TestSchedulerConfig,
    TraceEvent, run_seeds,
};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Log = Arc<Mutex<Vec<String>>>;

fn new_log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// A workload touching every part of the scheduler: background and foreground tasks, sessions,
/// timers, nested spawns, random delays. Returns its output log and the scheduler's full trace.
fn traced_workload(seed: u64) -> (Vec<String>, Vec<TraceEvent>) {
    let test = TestScheduler::new(TestSchedulerConfig {
        trace: true,
        ..TestSchedulerConfig::with_seed(seed)
    });
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let log = new_log();
    let mut tasks = Vec::new();
    for worker in 0..4u64 {
        let scheduler2 = scheduler.clone();
        let test2 = test.clone();
        let log = log.clone();
        tasks.push(scheduler.spawn(async move {
            for step in 0..3u64 {
                test2.simulate_random_delay().await;
                let child = scheduler2.spawn(async move { worker * 10 + step });
                let value = child.await;
                scheduler2
                    .timer(Duration::from_millis(worker * 3 + step))
                    .await;
                let at = test2.elapsed().as_millis();
                log.lock()
                    .unwrap()
                    .push(format!("bg{worker}.{step}={value}@{at}ms"));
            }
        }));
    }
    for session in 1..=2 {
        let foreground =
            ForegroundExecutor::for_session(scheduler.clone(), SessionId::from_raw(session));
        for i in 0..3 {
            let log = log.clone();
            foreground
                .spawn(async move { log.lock().unwrap().push(format!("fg{session}.{i}")) })
                .detach();
        }
    }
    scheduler.block(join_all(tasks));
    test.run_until_parked();
    (entries(&log), test.take_trace())
}

#[test]
fn same_seed_twice_gives_identical_trace_and_output() {
    for seed in [0, 1, 7, 12345] {
        let (log_a, trace_a) = traced_workload(seed);
        let (log_b, trace_b) = traced_workload(seed);
        assert!(
            trace_a.len() > 50,
            "trace too short to mean anything: {}",
            trace_a.len()
        );
        assert_eq!(trace_a, trace_b, "seed {seed}: traces differ");
        assert_eq!(log_a, log_b, "seed {seed}: outputs differ");
    }
}

#[test]
fn different_seeds_give_different_traces() {
    let traces: BTreeSet<String> = (0..10)
        .map(|seed| {
            let (_, trace) = traced_workload(seed);
            trace
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    assert!(traces.len() > 1, "10 seeds produced a single trace");
}

/// Three tasks of three steps each, yielding between steps; returns the order of steps.
fn race_3x3(seed: u64) -> Vec<(u32, u32)> {
    let test = TestScheduler::with_seed(seed);
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let order = Arc::new(Mutex::new(Vec::new()));
    for task in 0..3 {
        let order = order.clone();
        scheduler
            .spawn(async move {
                for step in 0..3 {
                    order.lock().unwrap().push((task, step));
                    yield_now().await;
                }
            })
            .detach();
    }
    test.run_until_parked();
    order.lock().unwrap().clone()
}

#[test]
fn hundred_seeds_of_a_3x3_race_find_several_interleavings() {
    let interleavings: BTreeSet<Vec<(u32, u32)>> = (0..100).map(race_3x3).collect();
    for order in &interleavings {
        assert_eq!(order.len(), 9, "every step runs exactly once: {order:?}");
        for task in 0..3 {
            let steps: Vec<u32> = order
                .iter()
                .filter(|(t, _)| *t == task)
                .map(|(_, s)| *s)
                .collect();
            assert_eq!(steps, [0, 1, 2], "a task's own steps stay in order");
        }
    }
    assert!(
        interleavings.len() > 1,
        "100 seeds explored only one interleaving"
    );
    // 9!/(3!^3) = 1680 possible orders; a random scheduler finds many of them.
    assert!(
        interleavings.len() > 20,
        "only {} interleavings",
        interleavings.len()
    );
}

#[test]
fn foreground_tasks_keep_fifo_order_within_a_session_while_sessions_interleave() {
    let mut interleavings = BTreeSet::new();
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let scheduler: Arc<dyn Scheduler> = test.clone();
        let log = new_log();
        for session in 1..=3 {
            let executor =
                ForegroundExecutor::for_session(scheduler.clone(), SessionId::from_raw(session));
            for i in 0..10 {
                let log = log.clone();
                executor
                    .spawn(async move { log.lock().unwrap().push(format!("{session}:{i}")) })
                    .detach();
            }
        }
        test.run_until_parked();
        let log = entries(&log);
        assert_eq!(log.len(), 30);
        for session in 1..=3 {
            let mine: Vec<String> = log
                .iter()
                .filter(|entry| entry.starts_with(&format!("{session}:")))
                .cloned()
                .collect();
            let expected: Vec<String> = (0..10).map(|i| format!("{session}:{i}")).collect();
            assert_eq!(
                mine, expected,
                "seed {seed}: session {session} ran out of order"
            );
        }
        interleavings.insert(log);
    });
    assert!(
        interleavings.len() > 1,
        "sessions never interleaved differently"
    );
}

#[test]
fn timers_fire_in_deadline_order_ties_in_creation_order_never_early() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let scheduler: Arc<dyn Scheduler> = test.clone();
        let log = new_log();
        // (name, delay): b1 and b2 tie and must keep creation order.
        let plan = [
            ("a", 30),
            ("b1", 10),
            ("c", 20),
            ("b2", 10),
            ("d", 5),
            ("e", 0),
        ];
        // Create every timer up front so ties are decided by creation order.
        let timers: Vec<_> = plan
            .iter()
            .map(|(name, ms)| (*name, *ms, scheduler.timer(Duration::from_millis(*ms))))
            .collect();
        let mut tasks = Vec::new();
        for (name, ms, timer) in timers {
            let log = log.clone();
            let test = test.clone();
            tasks.push(scheduler.spawn(async move {
                timer.await;
                let elapsed = test.elapsed();
                assert!(
                    elapsed >= Duration::from_millis(ms),
                    "{name} fired early at {elapsed:?}"
                );
                log.lock()
                    .unwrap()
                    .push(format!("{name}@{}", elapsed.as_millis()));
            }));
        }
        scheduler.block(join_all(tasks));
        assert_eq!(
            entries(&log),
            ["e@0", "d@5", "b1@10", "b2@10", "c@20", "a@30"],
            "seed {seed}"
        );
    });
}

#[test]
fn advance_clock_fires_due_timers_at_their_deadlines_and_no_others() {
    let test = TestScheduler::with_seed(3);
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let log = new_log();
    for ms in [5u64, 15, 25] {
        let log = log.clone();
        let test2 = test.clone();
        let timer = scheduler.timer(Duration::from_millis(ms));
        scheduler
            .spawn(async move {
                timer.await;
                log.lock()
                    .unwrap()
                    .push(format!("{ms}@{}", test2.elapsed().as_millis()));
            })
            .detach();
    }
    test.advance_clock(Duration::from_millis(20));
    assert_eq!(entries(&log), ["5@5", "15@15"]);
    assert_eq!(test.elapsed(), Duration::from_millis(20));
    assert_eq!(test.pending_timer_count(), 1);
    test.advance_clock(Duration::from_millis(5));
    assert_eq!(entries(&log), ["5@5", "15@15", "25@25"]);
}

#[test]
fn the_clock_never_moves_while_tasks_run() {
    let test = TestScheduler::with_seed(9);
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let probe = scheduler.clone();
    let task = scheduler.spawn(async move {
        let before = probe.now();
        let mut x = 0u64;
        for i in 0..200_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        (before, probe.now())
    });
    let (before, after) = scheduler.block(task);
    assert_eq!(before, after);
    assert_eq!(test.elapsed(), Duration::ZERO);
}

#[test]
fn deprioritized_label_runs_only_when_nothing_else_can() {
    run_seeds(|seed| {
        let test = TestScheduler::with_seed(seed);
        let scheduler: Arc<dyn Scheduler> = test.clone();
        let slow = TaskLabel::named("slow");
        test.deprioritize(slow);
        let log = new_log();
        for i in 0..10 {
            let log_a = log.clone();
            scheduler
                .spawn_labeled(slow, async move {
                    log_a.lock().unwrap().push(format!("slow{i}"))
                })
                .detach();
            let log_b = log.clone();
            scheduler
                .spawn(async move { log_b.lock().unwrap().push(format!("fast{i}")) })
                .detach();
        }
        test.run_until_parked();
        let log = entries(&log);
        assert_eq!(log.len(), 20);
        let first_slow = log.iter().position(|e| e.starts_with("slow")).unwrap();
        assert!(
            log[..first_slow].len() == 10
                && log[first_slow..].iter().all(|e| e.starts_with("slow")),
            "seed {seed}: a deprioritized task ran before the others: {log:?}"
        );
    });
}

#[test]
fn task_ids_are_numbered_per_scheduler() {
    let ids = |seed| {
        let scheduler: Arc<dyn Scheduler> = TestScheduler::with_seed(seed);
        (0..5)
            .map(|_| scheduler.spawn(async {}).id().unwrap().as_u64())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(1), [1, 2, 3, 4, 5]);
    assert_eq!(
        ids(2),
        [1, 2, 3, 4, 5],
        "a second scheduler starts again from 1"
    );
}
