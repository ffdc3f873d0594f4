//! Fixed, single-threaded workloads for counting instructions with callgrind (repeatable on a
//! loaded machine, unlike wall time): what the `tracing` feature and the timeline cost on the
//! paths every backend shares (the task wrapper's poll, the wake closures), here driven by a
//! TestScheduler. `e`: 200 seeds of 100 tasks x 10 yields and a timer; `f`: 100,000 spawns
//! (`f-fifo`: in FIFO order); `y`: 100 tasks x 1,000 yields; `t`: `e` recording the timeline
//! (as the seed harness does); `floor-f`, `floor-e`: the bare async-task floor of `f` and `e`.
//!
//! ```text
//! cargo build --release -p native-tests --example instructions [--features tracing]
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/instructions y
//! TRACE_LEVEL=INFO valgrind ... instructions y   # with a subscriber (feature tracing)
//! ```
use native_tests::support::yield_now;
use native_tests::workloads;
use scheduler::{Scheduler, TestScheduler, TestSchedulerConfig};
use std::sync::Arc;

fn seeds(n: u64, timeline: bool) {
    for seed in 0..n {
        let test = TestScheduler::new(TestSchedulerConfig {
            timeline,
            ..TestSchedulerConfig::with_seed(seed)
        });
        assert!(workloads::many_seeds_body(&test));
    }
}

fn spawns(n: usize, randomize_order: bool) {
    let test = TestScheduler::new(TestSchedulerConfig {
        randomize_order,
        ..TestSchedulerConfig::with_seed(0)
    });
    let scheduler: Arc<dyn Scheduler> = test.clone();
    for i in 0..n {
        scheduler
            .spawn(async move {
                std::hint::black_box(i);
            })
            .detach();
    }
    test.run_until_parked();
}

fn yields(tasks: usize, each: usize) {
    let test = TestScheduler::with_seed(0);
    let scheduler: Arc<dyn Scheduler> = test.clone();
    for _ in 0..tasks {
        scheduler
            .spawn(async move {
                for _ in 0..each {
                    yield_now().await;
                }
            })
            .detach();
    }
    test.run_until_parked();
}

/// The bare async-task floor of `f`: spawn_local into a thread-local Vec, random swap-remove.
fn floor_spawns(n: usize) {
    use std::cell::RefCell;
    thread_local! {
        static QUEUE: RefCell<Vec<async_task::Runnable>> = const { RefCell::new(Vec::new()) };
    }
    for i in 0..n {
        let (runnable, task) = async_task::spawn_local(
            async move {
                std::hint::black_box(i);
            },
            |runnable| QUEUE.with(|queue| queue.borrow_mut().push(runnable)),
        );
        runnable.schedule();
        task.detach();
    }
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while let Some(runnable) = QUEUE.with(|queue| {
        let mut queue = queue.borrow_mut();
        if queue.is_empty() {
            return None;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let index = ((u128::from(r) * queue.len() as u128) >> 64) as usize;
        Some(queue.swap_remove(index))
    }) {
        runnable.run();
    }
}

thread_local! {
    static FLOOR_QUEUE: std::cell::RefCell<Vec<async_task::Runnable>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn floor_spawn<F: std::future::Future<Output = ()> + 'static>(future: F) {
    let (runnable, task) = async_task::spawn_local(future, |runnable| {
        FLOOR_QUEUE.with(|queue| queue.borrow_mut().push(runnable))
    });
    runnable.schedule();
    task.detach();
}

/// The bare async-task floor of `e` (as the bench's `floor_e`): per seed, 100 tasks of 10
/// yields and one more task, run in random order.
fn floor_seeds(n: u64) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..n {
        for _ in 0..100 {
            floor_spawn(async {
                for _ in 0..10 {
                    yield_now().await;
                }
            });
        }
        floor_spawn(async {});
        while let Some(runnable) = FLOOR_QUEUE.with(|queue| {
            let mut queue = queue.borrow_mut();
            if queue.is_empty() {
                return None;
            }
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let index = ((u128::from(r) * queue.len() as u128) >> 64) as usize;
            Some(queue.swap_remove(index))
        }) {
            runnable.run();
        }
    }
}

fn main() {
    #[cfg(feature = "tracing")]
    if let Ok(level) = std::env::var("TRACE_LEVEL") {
        tracing_subscriber::fmt()
            .with_max_level(level.parse::<tracing::Level>().unwrap())
            .with_writer(std::io::sink)
            .init();
    }
    match std::env::args().nth(1).as_deref() {
        Some("e") => seeds(200, false),
        Some("t") => seeds(200, true),
        Some("f") => spawns(100_000, true),
        Some("f-fifo") => spawns(100_000, false),
        Some("y") => yields(100, 1_000),
        Some("floor-f") => floor_spawns(100_000),
        Some("floor-e") => floor_seeds(200),
        _ => panic!("e | t | f | f-fifo | y | floor-f | floor-e"),
    }
}
