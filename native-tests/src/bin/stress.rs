//! The stress binary: millions of tasks (of every priority band) with wakes from other OS
//! threads, timers, child tasks, foreground work and cancellation mid-flight, on every native
//! backend that runs here. It counts drops, not just completions: every future must be dropped
//! exactly once, and no task may wait for ever (a lost wake-up stalls a wave, which the watchdog
//! reports with the counts).
//!
//! ```text
//! cargo run --release -p native-tests --bin stress -- [--tasks N] [--wave N] [--backend NAME]...
//! ```
//! Backends: `linux` (Linux, FreeBSD), `windows` (Windows, or Wine), `test` (the TestScheduler,
//! with real threads allowed). Default: every backend of this target, 1,000,000 tasks each.
//! The test command runs a slice (`scripts/test.d/50-stress.sh`); the full run is 10,000,000.

use futures::channel::oneshot;
use native_tests::support::yield_now;
use scheduler::{Priority, Scheduler, Task, TestScheduler, TestSchedulerConfig};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a wave may make no progress before it counts as a lost wake-up.
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// What every task reports.
#[derive(Default)]
struct Counters {
    spawned: AtomicU64,
    completed: AtomicU64,
    dropped: AtomicU64,
    foreign_wakes: AtomicU64,
    timers: AtomicU64,
    yields: AtomicU64,
    children: AtomicU64,
    /// Children whose future was dropped before it completed: cancelled with their parent (a
    /// parent cancelled mid-flight drops the child's `Task` it awaits).
    children_cancelled: AtomicU64,
    foreground: AtomicU64,
}

/// Counts a child as cancelled when its future is dropped before the child completed.
struct ChildUnfinished(Option<Arc<Counters>>);

impl Drop for ChildUnfinished {
    fn drop(&mut self) {
        if let Some(counters) = self.0.take() {
            counters.children_cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Counts the drop of the future that owns it: every future is dropped exactly once.
struct DropGuard(Arc<Counters>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Threads outside the scheduler that complete oneshots: wakes from other OS threads.
struct Wakers {
    sender: Option<mpsc::Sender<oneshot::Sender<()>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Wakers {
    fn new(threads: usize) -> Self {
        let (sender, receiver) = mpsc::channel::<oneshot::Sender<()>>();
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        let threads = (0..threads)
            .map(|index| {
                let receiver = receiver.clone();
                std::thread::Builder::new()
                    .name(format!("stress-waker-{index}"))
                    .spawn(move || {
                        loop {
                            let next = receiver.lock().unwrap().recv();
                            match next {
                                // The task may have been cancelled: then nobody listens.
                                Ok(wake) => drop(wake.send(())),
                                Err(_) => return,
                            }
                        }
                    })
                    .expect("start a waker thread")
            })
            .collect();
        Self {
            sender: Some(sender),
            threads,
        }
    }

    fn wake_later(&self, wake: oneshot::Sender<()>) {
        self.sender
            .as_ref()
            .expect("wakers running")
            .send(wake)
            .expect("waker threads alive");
    }
}

impl Drop for Wakers {
    fn drop(&mut self) {
        drop(self.sender.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A small deterministic mix of task `index`'s choices.
fn mix(index: u64) -> u64 {
    let mut x = index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 31;
    x.wrapping_mul(0xbf58_476d_1ce4_e5b9) >> 17
}

/// One task's future: holds a drop guard (made before the future, so a future dropped before
/// its first poll counts too), does the work its index picks, counts completion.
async fn task_body(
    index: u64,
    scheduler: Arc<dyn Scheduler>,
    counters: Arc<Counters>,
    woken: Option<oneshot::Receiver<()>>,
    guard: DropGuard,
) {
    let _guard = guard;
    let choice = mix(index);
    match choice % 6 {
        0 | 1 => {
            for _ in 0..=(choice >> 8) % 4 {
                yield_now().await;
                counters.yields.fetch_add(1, Ordering::Relaxed);
            }
        }
        2 | 3 => {
            let woken = woken.expect("a foreign wake was arranged");
            if woken.await.is_ok() {
                counters.foreign_wakes.fetch_add(1, Ordering::Relaxed);
            }
        }
        4 => {
            let micros = (choice >> 8) % 50;
            scheduler.timer(Duration::from_micros(micros)).await;
            counters.timers.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            let child_counters = counters.clone();
            let guard = DropGuard(counters.clone());
            // Made before the spawn, so a child dropped before its first poll counts too.
            let unfinished = ChildUnfinished(Some(counters.clone()));
            let child = scheduler.spawn(async move {
                let _guard = guard;
                let mut unfinished = unfinished;
                yield_now().await;
                child_counters.completed.fetch_add(1, Ordering::Relaxed);
                unfinished.0 = None;
            });
            counters.spawned.fetch_add(1, Ordering::Relaxed);
            counters.children.fetch_add(1, Ordering::Relaxed);
            child.await;
        }
    }
    counters.completed.fetch_add(1, Ordering::Relaxed);
}

/// The outcome of one backend's run.
struct Outcome {
    elapsed: Duration,
    cancelled: u64,
}

/// Runs `tasks` tasks in waves of `wave` on `scheduler`, from the main thread (which blocks on
/// each wave, running foreground work meanwhile). Every 16th task is cancelled mid-flight.
fn run(scheduler: Arc<dyn Scheduler>, counters: &Arc<Counters>, tasks: u64, wave: u64) -> Outcome {
    let wakers = Wakers::new(2);
    let start = Instant::now();
    let mut cancelled = 0;
    let mut next = 0;
    while next < tasks {
        let end = (next + wave).min(tasks);
        let mut kept: Vec<Task<()>> = Vec::with_capacity((end - next) as usize);
        for index in next..end {
            let woken = if (2..=3).contains(&(mix(index) % 6)) {
                let (wake, woken) = oneshot::channel();
                wakers.wake_later(wake);
                Some(woken)
            } else {
                None
            };
            let task = if index % 97 == 0 {
                // Foreground work, spawned on (and run by) the main thread.
                counters.foreground.fetch_add(1, Ordering::Relaxed);
                let counters = counters.clone();
                let guard = DropGuard(counters.clone());
                scheduler.spawn_foreground(async move {
                    let _guard = guard;
                    yield_now().await;
                    counters.completed.fetch_add(1, Ordering::Relaxed);
                })
            } else {
                let guard = DropGuard(counters.clone());
                // All three priority bands (children inherit theirs).
                let priority =
                    [Priority::Low, Priority::Medium, Priority::High][(index % 3) as usize];
                scheduler.spawn_with_priority(
                    priority,
                    task_body(index, scheduler.clone(), counters.clone(), woken, guard),
                )
            };
            counters.spawned.fetch_add(1, Ordering::Relaxed);
            if index % 16 == 5 {
                // Cancelled mid-flight: dropped while queued, running or waiting for its wake.
                drop(task);
                cancelled += 1;
            } else {
                kept.push(task);
            }
        }
        // A lost wake-up would block here for ever: the watchdog reports it.
        scheduler.block(futures::future::join_all(kept));
        // Every future of the wave is dropped (the cancelled ones too) before the next wave.
        while counters.dropped.load(Ordering::SeqCst) < counters.spawned.load(Ordering::SeqCst) {
            scheduler.block(scheduler.timer(Duration::from_micros(100)));
        }
        next = end;
    }
    drop(wakers);
    Outcome {
        elapsed: start.elapsed(),
        cancelled,
    }
}

/// Exits the process with a report if `counters` stop moving for [`STALL_LIMIT`] (a lost
/// wake-up leaves a wave waiting for ever).
fn watchdog(name: String, counters: Arc<Counters>) {
    std::thread::spawn(move || {
        let snapshot = |c: &Counters| {
            (
                c.spawned.load(Ordering::SeqCst),
                c.completed.load(Ordering::SeqCst),
                c.dropped.load(Ordering::SeqCst),
            )
        };
        let mut last = snapshot(&counters);
        let mut since = Instant::now();
        // Ends with the process; a finished run stops moving too, but by then `main` is done
        // with this backend and the next one has its own watchdog and counters.
        while Arc::strong_count(&counters) > 1 {
            std::thread::sleep(Duration::from_millis(200));
            let now = snapshot(&counters);
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() > STALL_LIMIT {
                eprintln!(
                    "FAILED {name}: no progress for {STALL_LIMIT:?} (a lost wake-up?): spawned \
                     {}, completed {}, dropped {}",
                    now.0, now.1, now.2
                );
                std::process::exit(1);
            }
        }
    });
}

/// Checks the counts after a run; `Err` names what went wrong.
fn check(name: &str, counters: &Counters, tasks: u64, outcome: &Outcome) -> Result<(), String> {
    let spawned = counters.spawned.load(Ordering::SeqCst);
    let completed = counters.completed.load(Ordering::SeqCst);
    let dropped = counters.dropped.load(Ordering::SeqCst);
    let children = counters.children.load(Ordering::SeqCst);
    println!(
        "{name}: {tasks} tasks (+{children} children, {} foreground) in {:.2?} ({:.0} ns/task): \
         {} yields, {} wakes from other threads, {} timers, {} cancelled mid-flight; spawned \
         {spawned}, completed {completed}, dropped {dropped}",
        counters.foreground.load(Ordering::SeqCst),
        outcome.elapsed,
        outcome.elapsed.as_nanos() as f64 / tasks as f64,
        counters.yields.load(Ordering::SeqCst),
        counters.foreign_wakes.load(Ordering::SeqCst),
        counters.timers.load(Ordering::SeqCst),
        outcome.cancelled,
    );
    if spawned != tasks + children {
        return Err(format!(
            "{name}: spawned {spawned}, expected {}",
            tasks + children
        ));
    }
    if dropped != spawned {
        return Err(format!(
            "{name}: {dropped} futures dropped for {spawned} spawned: every future must be \
             dropped exactly once"
        ));
    }
    // A cancelled task may have completed before its cancellation took effect; a child of a
    // cancelled task may be cancelled with it.
    let children_cancelled = counters.children_cancelled.load(Ordering::SeqCst);
    if completed + outcome.cancelled + children_cancelled < spawned || completed > spawned {
        return Err(format!(
            "{name}: {completed} completed + {} cancelled + {children_cancelled} children \
             cancelled with their parent do not account for {spawned} tasks",
            outcome.cancelled
        ));
    }
    Ok(())
}

fn backend(name: &str) -> Option<Arc<dyn Scheduler>> {
    match name {
        "test" => {
            let test = TestScheduler::new(TestSchedulerConfig {
                allow_parking: true,
                ..TestSchedulerConfig::with_seed(7)
            });
            Some(test)
        }
        #[cfg(any(target_os = "linux", target_os = "freebsd"))]
        "linux" => Some(scheduler::platform::LinuxScheduler::new().expect("start the threads")),
        #[cfg(windows)]
        "windows" => Some(scheduler::platform::WindowsScheduler::new().expect("Win32 objects")),
        _ => None,
    }
}

fn main() -> ExitCode {
    let mut tasks = 1_000_000;
    let mut wave = 20_000;
    let mut backends: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match arg.as_str() {
            "--tasks" => tasks = value().parse().expect("--tasks N"),
            "--wave" => wave = value().parse().expect("--wave N"),
            "--backend" => backends.push(value()),
            other => {
                eprintln!("unknown argument {other:?}; see the file's header");
                return ExitCode::from(2);
            }
        }
    }
    if backends.is_empty() {
        let native = if cfg!(windows) { "windows" } else { "linux" };
        backends = vec![native.to_owned(), "test".to_owned()];
    }
    let mut failed = false;
    for name in backends {
        let Some(scheduler) = backend(&name) else {
            eprintln!("{name}: not a backend of this target");
            return ExitCode::from(2);
        };
        let counters = Arc::new(Counters::default());
        watchdog(name.clone(), counters.clone());
        let outcome = run(scheduler.clone(), &counters, tasks, wave);
        let result = check(&name, &counters, tasks, &outcome);
        drop(scheduler);
        if let Err(error) = result {
            eprintln!("FAILED {error}");
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        println!("stress: all backends passed");
        ExitCode::SUCCESS
    }
}
