//! TestScheduler benchmarks (BENCHMARKS.md scenarios e, f, f10k). Prints; never fails.
//!
//! `cargo bench -p native-tests --bench test_scheduler`
//!
//! - e: one test body per seed (50 foreground + 50 background tasks, 10 yields each, one 10 ms
//!   timer released by advance_clock) over 5,000 seeds: seeds/s.
//! - f: spawn 1,000,000 trivial background tasks, then run_until_parked, random order: ns/task.
//! - f10k: the same with 10,000 tasks (median of 20 batches per round, see `scenario_f10k`).
//!   f / f10k shows whether cost per task grows with the queue.
//!
//! Each figure: a warm-up round, then 7 counted rounds; median and min-max. The scenarios are
//! interleaved within each round so machine drift hits all alike.

use native_tests::support::yield_now;
use scheduler::{ForegroundExecutor, Scheduler, TestScheduler, TestSchedulerConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const ROUNDS: usize = 7;
const SEEDS: u64 = 5_000;

/// Scenario e's body for one seed.
fn many_seeds_body(seed: u64) {
    let test = TestScheduler::with_seed(seed);
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let foreground = ForegroundExecutor::new(scheduler.clone());
    for _ in 0..50 {
        foreground
            .spawn(async {
                for _ in 0..10 {
                    yield_now().await;
                }
            })
            .detach();
        scheduler
            .spawn(async {
                for _ in 0..10 {
                    yield_now().await;
                }
            })
            .detach();
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
    assert!(fired.load(Ordering::Relaxed));
}

/// Seeds per second over `SEEDS` seeds.
fn scenario_e() -> f64 {
    let start = Instant::now();
    for seed in 0..SEEDS {
        many_seeds_body(seed);
    }
    SEEDS as f64 / start.elapsed().as_secs_f64()
}

/// ns per task for `count` trivial background tasks.
fn scenario_f(count: usize, randomize: bool) -> f64 {
    let test = TestScheduler::new(TestSchedulerConfig {
        randomize_order: randomize,
        ..TestSchedulerConfig::default()
    });
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let start = Instant::now();
    for i in 0..count {
        scheduler
            .spawn(async move {
                std::hint::black_box(i);
            })
            .detach();
    }
    test.run_until_parked();
    let elapsed = start.elapsed();
    assert_eq!(test.ready_count(), 0);
    drop(scheduler);
    drop(test);
    elapsed.as_nanos() as f64 / count as f64
}

/// The floor: a bare single-threaded async-task executor (thread-local queue, random pick with
/// the same multiply-shift, no ids, no registry, no locks). What any scheduler built on async-task
/// could reach at best for the same workloads.
mod floor {
    use std::cell::{Cell, RefCell};
    use std::future::Future;

    thread_local! {
        static QUEUE: RefCell<Vec<async_task::Runnable>> = const { RefCell::new(Vec::new()) };
        static STATE: Cell<u64> = const { Cell::new(0x9E37_79B9_7F4A_7C15) };
    }

    fn next() -> u64 {
        STATE.with(|state| {
            // xorshift64*
            let mut x = state.get();
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            state.set(x);
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        })
    }

    pub fn spawn<F: Future + 'static>(future: F) -> async_task::Task<F::Output> {
        let (runnable, task) = async_task::spawn_local(future, |runnable| {
            QUEUE.with(|queue| queue.borrow_mut().push(runnable))
        });
        runnable.schedule();
        task
    }

    pub fn run_until_idle() {
        loop {
            let runnable = QUEUE.with(|queue| {
                let mut queue = queue.borrow_mut();
                if queue.is_empty() {
                    return None;
                }
                let index = ((u128::from(next()) * queue.len() as u128) >> 64) as usize;
                Some(queue.swap_remove(index))
            });
            match runnable {
                Some(runnable) => {
                    runnable.run();
                }
                None => return,
            }
        }
    }
}

/// Scenario e on the floor executor (no timer: the floor has no clock; the timer is one task).
fn floor_e() -> f64 {
    let start = Instant::now();
    for _ in 0..SEEDS {
        for _ in 0..100 {
            floor::spawn(async {
                for _ in 0..10 {
                    yield_now().await;
                }
            })
            .detach();
        }
        floor::spawn(async {}).detach();
        floor::run_until_idle();
    }
    SEEDS as f64 / start.elapsed().as_secs_f64()
}

/// Scenario f on the floor executor.
fn floor_f(count: usize) -> f64 {
    let start = Instant::now();
    for i in 0..count {
        floor::spawn(async move {
            std::hint::black_box(i);
        })
        .detach();
    }
    floor::run_until_idle();
    start.elapsed().as_nanos() as f64 / count as f64
}

/// f10k for one round: the median of 20 consecutive 10k-task batches. A single batch right after
/// a 1M-task round mostly measures glibc consolidating the million chunks just freed.
fn scenario_f10k() -> f64 {
    let batches = Figures((0..20).map(|_| scenario_f(10_000, true)).collect());
    batches.median()
}

struct Figures(Vec<f64>);

impl Figures {
    fn median(&self) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    }
    fn min(&self) -> f64 {
        self.0.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn max(&self) -> f64 {
        self.0.iter().copied().fold(0.0, f64::max)
    }
}

fn main() {
    // `cargo bench -- profile-f10k` runs f10k once and exits (for callgrind / perf).
    if std::env::args().any(|arg| arg == "profile-e") {
        let start = Instant::now();
        for seed in 0..200 {
            many_seeds_body(seed);
        }
        println!(
            "e x200 once: {:.0} seeds/s",
            200.0 / start.elapsed().as_secs_f64()
        );
        return;
    }
    if std::env::args().any(|arg| arg == "profile-f10k") {
        let ns = scenario_f(10_000, true);
        println!("f10k once: {ns:.1} ns/task");
        return;
    }
    println!("TestScheduler benchmarks: warm-up + {ROUNDS} rounds, median [min-max]");
    scenario_e();
    scenario_f(1_000_000, true);
    scenario_f(10_000, true);
    floor_e();
    floor_f(1_000_000);
    let (mut e, mut f, mut f10k, mut f_fifo) = (vec![], vec![], vec![], vec![]);
    let (mut e_floor, mut f_floor) = (vec![], vec![]);
    for _ in 0..ROUNDS {
        e.push(scenario_e());
        e_floor.push(floor_e());
        f.push(scenario_f(1_000_000, true));
        f_floor.push(floor_f(1_000_000));
        f10k.push(scenario_f10k());
        f_fifo.push(scenario_f(1_000_000, false));
    }
    let report = |name: &str, unit: &str, figures: &Figures| {
        println!(
            "{name:<34} {:>10.1} {unit} [{:.1}-{:.1}]",
            figures.median(),
            figures.min(),
            figures.max()
        );
    };
    let (e, f, f10k, f_fifo) = (Figures(e), Figures(f), Figures(f10k), Figures(f_fifo));
    let (e_floor, f_floor) = (Figures(e_floor), Figures(f_floor));
    report("e   many seeds (5,000 seeds)", "seeds/s", &e);
    report("e   floor: bare async-task", "seeds/s", &e_floor);
    report("f   1M tasks, random order", "ns/task", &f);
    report("f   floor: bare async-task", "ns/task", &f_floor);
    report("f10k 10k tasks, random order", "ns/task", &f10k);
    report("f   1M tasks, FIFO (reference)", "ns/task", &f_fifo);
    println!(
        "f / f10k = {:.2} (target <= 1.5); random / FIFO at 1M = {:.2}",
        f.median() / f10k.median(),
        f.median() / f_fifo.median()
    );
    println!(
        "ours / floor: e {:.2}x the floor's seeds/s, f {:.2}x the floor's ns/task",
        e.median() / e_floor.median(),
        f.median() / f_floor.median()
    );
    println!("targets: e >= 25,000 seeds/s; f <= 200 ns/task");
}
