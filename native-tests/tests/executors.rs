//! The GPUI-facing executors: the same API over a TestScheduler and over a production-style
//! scheduler (a minimal one written here against the public trait, as a third party would),
//! with the test-only calls reaching the TestScheduler by downcast.

use native_tests::support::panic_text;
use scheduler::{
    BackgroundExecutor, ForegroundExecutor, Instant, Runnable, Scheduler, SessionId, TaskLabel,
    TestScheduler, Unparker, session,
};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A production-style scheduler: one queue drained by whoever parks, real clock, no main thread,
/// timers run when due. Enough to exercise the trait's defaults.
struct QueueScheduler {
    queue: Mutex<VecDeque<Runnable>>,
    timers: Mutex<Vec<(Instant, Runnable)>>,
    parker: Mutex<parking::Parker>,
    unparker: Unparker,
}

impl QueueScheduler {
    fn new() -> Arc<Self> {
        let (parker, unparker) = parking::pair();
        Arc::new(Self {
            queue: Mutex::default(),
            timers: Mutex::default(),
            parker: Mutex::new(parker),
            unparker,
        })
    }

    fn run_due(&self) -> bool {
        let now = Instant::now();
        let due: Vec<Runnable> = {
            let mut timers = self.timers.lock().unwrap();
            let (due, later) = timers.drain(..).partition(|(at, _)| *at <= now);
            *timers = later;
            due.into_iter().map(|(_, runnable)| runnable).collect()
        };
        let ran = !due.is_empty();
        due.into_iter().for_each(|runnable| {
            runnable.run();
        });
        let next = self.queue.lock().unwrap().pop_front();
        match next {
            Some(runnable) => {
                runnable.run();
                true
            }
            None => ran,
        }
    }
}

impl Scheduler for QueueScheduler {
    fn schedule(&self, runnable: Runnable) {
        self.queue.lock().unwrap().push_back(runnable);
        self.unparker.unpark();
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        self.timers
            .lock()
            .unwrap()
            .push((Instant::now() + delay, runnable));
        self.unparker.unpark();
    }

    fn park(&self, timeout: Option<Duration>) -> bool {
        if self.run_due() {
            return true;
        }
        let parker = self.parker.lock().unwrap();
        parker.park_timeout(
            timeout
                .unwrap_or(Duration::from_millis(1))
                .min(Duration::from_millis(1)),
        )
    }

    fn unparker(&self) -> Unparker {
        self.unparker.clone()
    }

    fn is_main_thread(&self) -> bool {
        false
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// One body, run on both kinds of scheduler: spawn, nested spawn, timer, join.
fn executor_body(executor: &BackgroundExecutor) -> Vec<u64> {
    let tasks: Vec<_> = (0..8u64)
        .map(|i| {
            let executor2 = executor.clone();
            executor.spawn(async move {
                executor2.timer(Duration::from_millis(i)).await;
                executor2.spawn(async move { i * i }).await
            })
        })
        .collect();
    executor.block(futures::future::join_all(tasks))
}

#[test]
fn the_same_executor_body_gives_the_same_result_on_test_and_production_schedulers() {
    let expected: Vec<u64> = (0..8).map(|i| i * i).collect();
    let test = BackgroundExecutor::new(TestScheduler::with_seed(1));
    assert_eq!(executor_body(&test), expected);
    let production = BackgroundExecutor::new(QueueScheduler::new());
    assert_eq!(executor_body(&production), expected);
}

#[test]
fn block_with_timeout_works_on_a_production_scheduler() {
    let executor = BackgroundExecutor::new(QueueScheduler::new());
    let slow = executor.timer(Duration::from_millis(50));
    let pending = executor
        .block_with_timeout(Duration::from_millis(1), slow)
        .expect_err("a 50 ms timer cannot finish within 1 ms");
    executor.block(pending);
    let fast = executor.spawn(async { 3 });
    assert_eq!(
        executor
            .block_with_timeout(Duration::from_secs(5), fast)
            .ok(),
        Some(3)
    );
}

#[test]
fn test_only_calls_reach_the_test_scheduler() {
    let test = TestScheduler::with_seed(0);
    let executor = BackgroundExecutor::new(test.clone());
    let label = TaskLabel::named("low");
    executor.deprioritize(label);
    let order = Arc::new(Mutex::new(Vec::new()));
    for name in ["low", "high"] {
        let order = order.clone();
        let future = async move { order.lock().unwrap().push(name) };
        if name == "low" {
            executor.spawn_labeled(label, future).detach();
        } else {
            executor.spawn(future).detach();
        }
    }
    assert!(executor.tick());
    executor.run_until_parked();
    assert_eq!(*order.lock().unwrap(), ["high", "low"]);
    let start = executor.now();
    executor.advance_clock(Duration::from_secs(2));
    assert_eq!(executor.now() - start, Duration::from_secs(2));
    assert_eq!(test.elapsed(), Duration::from_secs(2));
    assert_eq!(executor.num_cpus(), 4);
    executor.block(executor.simulate_random_delay());
}

/// The test-only calls exist only with the `test-support` feature; on a production scheduler
/// each one is a clear panic naming the call.
#[test]
fn test_only_calls_on_a_production_scheduler_panic_clearly() {
    let executor = BackgroundExecutor::new(QueueScheduler::new());
    type Call = Box<dyn Fn(&BackgroundExecutor)>;
    let calls: [(&str, Call); 5] = [
        (
            "tick",
            Box::new(|e| {
                let _ = e.tick();
            }),
        ),
        ("run_until_parked", Box::new(|e| e.run_until_parked())),
        (
            "advance_clock",
            Box::new(|e| e.advance_clock(Duration::from_secs(1))),
        ),
        (
            "deprioritize",
            Box::new(|e| e.deprioritize(TaskLabel::new())),
        ),
        (
            "simulate_random_delay",
            Box::new(|e| drop(e.simulate_random_delay())),
        ),
    ];
    for (name, call) in calls {
        let outcome = catch_unwind(AssertUnwindSafe(|| call(&executor)));
        let message = panic_text(&*outcome.expect_err("test-only call panics"));
        assert!(
            message.contains(name) && message.contains("TestScheduler"),
            "{message}"
        );
    }
}

#[test]
fn spawn_foreground_on_a_scheduler_without_a_main_thread_panics_clearly() {
    let scheduler: Arc<dyn Scheduler> = QueueScheduler::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| scheduler.spawn_foreground(async {})));
    let message = panic_text(&*outcome.expect_err("no main thread"));
    assert!(message.contains("off the main thread"), "{message}");
    assert!(
        message.contains(file!()),
        "names the spawn location: {message}"
    );
}

#[test]
fn downcast_ref_reaches_the_concrete_scheduler() {
    let scheduler: Arc<dyn Scheduler> = TestScheduler::with_seed(77);
    assert_eq!(
        scheduler
            .downcast_ref::<TestScheduler>()
            .map(TestScheduler::seed),
        Some(77)
    );
    assert!(scheduler.downcast_ref::<QueueScheduler>().is_none());
}

#[test]
fn foreground_executor_runs_not_send_futures_on_the_main_thread() {
    let test = TestScheduler::with_seed(0);
    let foreground = ForegroundExecutor::new(test.clone());
    let shared = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let probe: Arc<dyn Scheduler> = test.clone();
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let shared = shared.clone();
            let probe = probe.clone();
            foreground.spawn(async move {
                assert!(probe.is_main_thread());
                shared.borrow_mut().push(i);
            })
        })
        .collect();
    foreground.block(futures::future::join_all(tasks));
    assert_eq!(
        *shared.borrow(),
        [0, 1, 2, 3, 4],
        "one session's foreground tasks run in order"
    );
    let start = foreground.now();
    foreground.block(foreground.timer(Duration::from_millis(7)));
    assert_eq!(foreground.now() - start, Duration::from_millis(7));
}

#[test]
fn tasks_inherit_the_session_of_whoever_spawned_them_through_any_executor() {
    let test = TestScheduler::with_seed(3);
    let background = BackgroundExecutor::new(test.clone());
    let session = SessionId::from_raw(9);
    let outer = session::with(Some(session), || {
        let background2 = background.clone();
        background.spawn(async move {
            let inner = background2.spawn(async { session::current() });
            (
                session::current(),
                inner.metadata().unwrap().session(),
                inner.await,
            )
        })
    });
    assert_eq!(outer.metadata().unwrap().session(), Some(session));
    let (seen_outer, inner_metadata, seen_inner) = background.block(outer);
    assert_eq!(
        seen_outer,
        Some(session),
        "the session is current while the task runs"
    );
    assert_eq!(
        inner_metadata,
        Some(session),
        "a child task belongs to its parent's session"
    );
    assert_eq!(seen_inner, Some(session));
    assert_eq!(
        session::current(),
        None,
        "the session does not leak onto the test thread"
    );
    let foreground = ForegroundExecutor::for_session(test.clone(), session);
    let task = foreground.spawn(async { session::current() });
    assert_eq!(foreground.block(task), Some(session));
}

/// Issue 20, defect 5: a dedicated executor's root blocking on its own executor's task
/// completed (42) on the TestScheduler, though on a real thread it can never finish (the task
/// runs only on the thread the block holds). The TestScheduler holds the executor's other
/// tasks back while one of its tasks blocks, as a thread would, and reports the deadlock.
#[test]
fn blocking_a_simulated_dedicated_thread_on_its_own_task_is_a_deadlock() {
    let test = TestScheduler::with_seed(4);
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let root = scheduler.spawn_dedicated(|executor| async move {
        let child = executor.spawn(async { 42 });
        executor.scheduler().block(child)
    });
    let root_id = root.id().unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| test.block(root)));
    let message = panic_text(&*outcome.expect_err("a deadlock, not 42"));
    assert!(message.contains("deadlocked"), "{message}");
    assert!(
        message.contains(&format!(
            "A task of the dedicated executor of {root_id} dedicated"
        )),
        "{message}"
    );
    assert!(
        message.contains("blocks its thread (in `block`)"),
        "{message}"
    );
    // Blocking on another executor's task, or a background task, still works.
    let other = scheduler.spawn_dedicated(|_| async { 5 });
    let root = scheduler.spawn_dedicated(|executor| async move {
        let background = executor.scheduler().spawn(async { 1 });
        executor.scheduler().block(background) + executor.scheduler().block(other)
    });
    assert_eq!(test.block(root), 6);
}
