//! TestScheduler benchmarks (BENCHMARKS.md scenarios e, f, f10k, and the f curve). Prints;
//! never fails.
//!
//! ```text
//! cargo bench -p native-tests --bench test_scheduler
//! ROUNDS=5 F_CURVE_MAX=1000000 cargo bench -p native-tests --bench test_scheduler   # no 10M point
//! CHARTS_DIR=docs/perf cargo bench -p native-tests --bench test_scheduler           # update the README's charts
//! ```
//!
//! - e: one test body per seed (50 foreground + 50 background tasks, 10 yields each, one 10 ms
//!   timer released by advance_clock) over 5,000 seeds: seeds/s.
//! - f: spawn 1,000,000 trivial background tasks, then run_until_parked, random order: ns/task.
//! - f10k: the same with 10,000 tasks (median of 20 batches per round, see `scenario_f10k`).
//!   f / f10k shows whether cost per task grows with the queue.
//!
//! - f curve: f at 1k, 10k, 100k, 1M and 10M tasks against the floor (the 10M point once, after
//!   the rounds; `F_CURVE_MAX` caps the sizes), and the bytes each pending task holds, counted
//!   by this binary's global allocator in a separate untimed pass (spawned, not yet run).
//!   Writes `testscheduler-f` and `testscheduler-bytes` (CSV + SVG, see `curves/mod.rs`).
//!
//! Each figure: a warm-up round, then `ROUNDS` (default 7) counted rounds; median and min-max.
//! The scenarios are interleaved within each round so machine drift hits all alike. At the end
//! it prints the targets of issue 11 with "met" or "missed".

#[path = "curves/mod.rs"]
mod curves;

use curves::{Chart, Targets, ratio};
use native_tests::support::yield_now;
use native_tests::workloads;
use scheduler::{Scheduler, TestScheduler, TestSchedulerConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Instant;

const SEEDS: u64 = 5_000;
/// The sizes of the f curve; sizes above 1M run once, after the rounds.
const F_CURVE: [usize; 5] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// The global allocator: the system's, counting live bytes while [`COUNTING`] is on (a relaxed
/// load otherwise, so the timed runs, which run with it off, pay next to nothing).
struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; the counter is bookkeeping only.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let pointer = unsafe { System.alloc(layout) };
        if COUNTING.load(Ordering::Relaxed) && !pointer.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if COUNTING.load(Ordering::Relaxed) && !moved.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Live heap bytes per task after `spawn` has queued `count` tasks (counted from just before
/// the first spawn; the tasks then run with counting off).
fn bytes_per_task(count: usize, spawn: impl FnOnce(usize), run: impl FnOnce()) -> f64 {
    COUNTING.store(true, Ordering::SeqCst);
    let before = LIVE_BYTES.load(Ordering::SeqCst);
    spawn(count);
    let after = LIVE_BYTES.load(Ordering::SeqCst);
    COUNTING.store(false, Ordering::SeqCst);
    run();
    (after - before) as f64 / count as f64
}

/// Scenario f's bytes per pending task on a fresh TestScheduler.
fn ours_bytes(count: usize) -> f64 {
    let test = TestScheduler::new(TestSchedulerConfig::default());
    let scheduler: Arc<dyn Scheduler> = test.clone();
    bytes_per_task(
        count,
        |count| {
            for i in 0..count {
                scheduler
                    .spawn(async move {
                        std::hint::black_box(i);
                    })
                    .detach();
            }
        },
        || test.run_until_parked(),
    )
}

/// The floor's bytes per pending task, its queue emptied of capacity first (as a fresh
/// TestScheduler's is).
fn floor_bytes(count: usize) -> f64 {
    floor::release_queue();
    bytes_per_task(
        count,
        |count| {
            for i in 0..count {
                floor::spawn(async move {
                    std::hint::black_box(i);
                })
                .detach();
            }
        },
        floor::run_until_idle,
    )
}

/// A sample at `count` tasks: one run from 100k tasks up, else the median of enough batches to
/// spawn 100k tasks (a single small batch is too short to time).
fn curve_sample(count: usize, run: impl Fn(usize) -> f64) -> f64 {
    let batches = (100_000 / count).max(1);
    if batches == 1 {
        return run(count);
    }
    Figures((0..batches).map(|_| run(count)).collect()).median()
}

/// Scenario e's body for one seed.
fn many_seeds_body(seed: u64) {
    assert!(workloads::many_seeds_body(&TestScheduler::with_seed(seed)));
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

    /// Drops the queue's capacity (a fresh scheduler starts with none).
    pub fn release_queue() {
        QUEUE.with(|queue| *queue.borrow_mut() = Vec::new());
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
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .map(|value| value.parse().expect("ROUNDS must be a number"))
        .unwrap_or(7);
    let curve_max: usize = std::env::var("F_CURVE_MAX")
        .ok()
        .map(|value| value.parse().expect("F_CURVE_MAX must be a number"))
        .unwrap_or(10_000_000);
    let curve: Vec<usize> = F_CURVE.into_iter().filter(|&n| n <= curve_max).collect();
    println!("TestScheduler benchmarks: warm-up + {rounds} rounds, median [min-max]");
    scenario_e();
    scenario_f(1_000_000, true);
    scenario_f(10_000, true);
    floor_e();
    floor_f(1_000_000);
    let (mut e, mut f, mut f10k, mut f_fifo) = (vec![], vec![], vec![], vec![]);
    let (mut e_floor, mut f_floor) = (vec![], vec![]);
    // The f curve's samples by size: (ours, floor). 1M and 10k are f and f10k's own samples.
    let mut by_size: Vec<(usize, Vec<f64>, Vec<f64>)> =
        curve.iter().map(|&n| (n, vec![], vec![])).collect();
    for _ in 0..rounds {
        e.push(scenario_e());
        e_floor.push(floor_e());
        f.push(scenario_f(1_000_000, true));
        f_floor.push(floor_f(1_000_000));
        f10k.push(scenario_f10k());
        f_fifo.push(scenario_f(1_000_000, false));
        for (n, ours, floor) in &mut by_size {
            match *n {
                1_000_000 => {
                    ours.push(*f.last().expect("pushed"));
                    floor.push(*f_floor.last().expect("pushed"));
                }
                10_000 => {
                    ours.push(*f10k.last().expect("pushed"));
                    let batches = Figures((0..20).map(|_| floor_f(10_000)).collect());
                    floor.push(batches.median());
                }
                n if n < 1_000_000 => {
                    ours.push(curve_sample(n, |n| scenario_f(n, true)));
                    floor.push(curve_sample(n, floor_f));
                }
                _ => {}
            }
        }
    }
    // Above 1M: once, ours then the floor.
    for (n, ours, floor) in &mut by_size {
        if *n > 1_000_000 {
            eprintln!("f at {n} tasks (once)");
            ours.push(scenario_f(*n, true));
            floor.push(floor_f(*n));
        }
    }
    // Bytes per pending task: untimed, counted by the allocator, once per size (up to 1M).
    let bytes: Vec<(usize, f64, f64)> = curve
        .iter()
        .filter(|&&n| n <= 1_000_000)
        .map(|&n| (n, ours_bytes(n), floor_bytes(n)))
        .collect();

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

    println!("\nf curve: ns/task, median [min-max] (sizes above 1M once); bytes per pending task");
    println!(
        "  {:>10} {:>26} {:>26} {:>8} {:>10} {:>10}",
        "tasks", "TestScheduler", "floor", "ratio", "B/task", "floor B"
    );
    let mut chart = Chart::new(
        "testscheduler-f",
        "TestScheduler: spawn N trivial tasks, run_until_parked (random order)",
        "tasks",
        "ns/task",
    );
    let mut memory = Chart::new(
        "testscheduler-bytes",
        "TestScheduler: heap bytes per pending task (spawned, not yet run)",
        "tasks",
        "bytes/task",
    )
    .linear_y();
    for (n, ours, floor) in &by_size {
        let (ours, floor) = (Figures(ours.clone()), Figures(floor.clone()));
        let task_bytes = bytes.iter().find(|(size, ..)| size == n);
        println!(
            "  {:>10} {:>26} {:>26} {:>8} {:>10} {:>10}",
            curves::short(*n as f64),
            format!("{:.1} [{:.1}-{:.1}]", ours.median(), ours.min(), ours.max()),
            format!(
                "{:.1} [{:.1}-{:.1}]",
                floor.median(),
                floor.min(),
                floor.max()
            ),
            ratio(ours.median() / floor.median()),
            task_bytes.map_or("-".to_owned(), |b| format!("{:.1}", b.1)),
            task_bytes.map_or("-".to_owned(), |b| format!("{:.1}", b.2)),
        );
        chart.add("TestScheduler", *n as f64, &ours.0);
        chart.add("bare async-task (floor)", *n as f64, &floor.0);
    }
    for (n, ours, floor) in &bytes {
        memory.add("TestScheduler", *n as f64, &[*ours]);
        memory.add("bare async-task (floor)", *n as f64, &[*floor]);
    }
    chart.save();
    memory.save();

    let mut targets = Targets::new("testscheduler");
    let e_ratio = e.median() / e_floor.median();
    targets.check(
        "e seeds/s >= 0.9x floor",
        format!(
            "{} ({:.0} vs {:.0}/s)",
            ratio(e_ratio),
            e.median(),
            e_floor.median()
        ),
        e_ratio >= 0.9,
    );
    targets.check(
        "e >= 25,000 seeds/s",
        format!("{:.0} seeds/s", e.median()),
        e.median() >= 25_000.0,
    );
    for (n, ours, floor) in &by_size {
        let r = curves::median(ours) / curves::median(floor);
        targets.check(
            &format!("f({}) ns/task <= 1.25x floor", curves::short(*n as f64)),
            format!(
                "{} ({:.0} vs {:.0} ns)",
                ratio(r),
                curves::median(ours),
                curves::median(floor)
            ),
            r <= 1.25,
        );
    }
    targets.check(
        "f(1M) <= 200 ns/task",
        format!("{:.0} ns/task", f.median()),
        f.median() <= 200.0,
    );
    // BENCHMARKS.md: flat means f(10M) / f(10k) <= 1.5 (the largest size measured).
    let base = by_size.iter().find(|(n, ..)| *n == 10_000);
    if let (Some((_, small, _)), Some((n_large, large, _))) = (base, by_size.last())
        && *n_large > 10_000
    {
        let flat = curves::median(large) / curves::median(small);
        targets.check(
            &format!(
                "flat: f({}) / f(10k) <= 1.5",
                curves::short(*n_large as f64)
            ),
            format!("{flat:.2}"),
            flat <= 1.5,
        );
    }
    for (n, ours, floor) in &bytes {
        targets.check(
            &format!("bytes/task at {} <= floor + 32 B", curves::short(*n as f64)),
            format!("{ours:.1} vs {floor:.1} B (+{:.1})", ours - floor),
            *ours <= floor + 32.0,
        );
    }
    targets.finish();
}
