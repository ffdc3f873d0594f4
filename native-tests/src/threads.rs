//! Bodies for the backends with real threads (Linux, Windows): what a simulated scheduler cannot
//! show about dedicated executors and realtime tasks. Run by `linux_priorities.rs` and
//! `windows_priorities.rs` on their harnesses.

use crate::behaviour::Harness;
use crate::support::panic_text;
use futures::FutureExt as _;
use futures::channel::oneshot;
use futures::future::{Either, select};
use scheduler::{BackgroundExecutor, Priority};
use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::thread::ThreadId;
use std::time::Duration;

/// A dedicated executor's thread may block (here on a std channel) while the pool and the main
/// thread keep running: the background task that unblocks it runs meanwhile.
pub fn a_dedicated_thread_may_block_while_the_pool_runs<H: Harness>(harness: &H) {
    let background = BackgroundExecutor::new(harness.scheduler());
    let (sender, receiver) = mpsc::channel::<u64>();
    let root = background.spawn_dedicated(move |_| async move {
        // A blocking call: only this thread waits.
        receiver.recv().expect("the pool sends") * 2
    });
    let value = harness.run(async move {
        let sum = background.spawn(async { (1..=10u64).sum::<u64>() }).await;
        background.timer(Duration::from_millis(5)).await;
        sender.send(sum).expect("the dedicated task waits");
        root.await
    });
    assert_eq!(value, 110);
}

/// A dedicated executor's root that blocks its thread on one of its own executor's tasks can
/// never go on (that task runs only on this thread, which the block holds): it panics at the
/// `block` call, naming it and the task, instead of hanging (issue 20, defect 5). Bounded by a
/// 10 s timer, so a regression fails instead of hanging the suite.
pub fn blocking_a_dedicated_thread_on_its_own_task_panics_at_the_call<H: Harness>(harness: &H) {
    let background = BackgroundExecutor::new(harness.scheduler());
    let root = background.spawn_dedicated(|executor| async move {
        let child = executor.spawn(async { 42 });
        executor.scheduler().block(child)
    });
    let line = line!() - 2;
    let timer = background.timer(Duration::from_secs(10));
    let outcome = harness.run(async move {
        match select(AssertUnwindSafe(root).catch_unwind(), timer).await {
            Either::Left((outcome, _)) => Some(outcome.map_err(|payload| panic_text(&*payload))),
            Either::Right(_) => None,
        }
    });
    let message = outcome
        .expect("the block hung (10 s)")
        .expect_err("the block panics");
    assert!(
        message.contains(&format!("block at {}:{line}:", file!())),
        "{message}"
    );
    assert!(
        message.contains("a task of the dedicated executor whose thread it blocks"),
        "{message}"
    );
}

/// Sends its thread's id when the thread's locals are destroyed (the thread ends).
struct OnExit(mpsc::Sender<ThreadId>, ThreadId);

impl Drop for OnExit {
    fn drop(&mut self) {
        let _ = self.0.send(self.1);
    }
}

thread_local! {
    static ON_EXIT: RefCell<Option<OnExit>> = const { RefCell::new(None) };
}

/// Dropping a dedicated executor's root task ends its thread.
pub fn dropping_the_root_task_ends_its_thread<H: Harness>(harness: &H) {
    let background = BackgroundExecutor::new(harness.scheduler());
    let (exit_sender, exited) = mpsc::channel();
    let (started_sender, started) = oneshot::channel();
    let root = background.spawn_dedicated(move |executor| async move {
        let thread = std::thread::current().id();
        ON_EXIT.with(|cell| *cell.borrow_mut() = Some(OnExit(exit_sender, thread)));
        let helper = executor.spawn(futures::future::pending::<()>());
        let _ = started_sender.send(thread);
        futures::future::pending::<()>().await;
        drop(helper);
    });
    let thread = harness.run(async move { started.await.expect("the root started") });
    assert_ne!(thread, std::thread::current().id());
    drop(root);
    let ended = exited
        .recv_timeout(Duration::from_secs(10))
        .expect("the dedicated thread ended after its root task was dropped");
    assert_eq!(ended, thread);
}

/// A realtime task runs on a thread of its own (`scheduler-realtime-N`), a new one per task;
/// `probe` runs there and its answer comes back with the thread's name.
pub fn a_realtime_task_runs_on_a_thread_of_its_own<H, T>(harness: &H, probe: fn() -> T) -> T
where
    H: Harness,
    T: Send + 'static,
{
    let background = BackgroundExecutor::new(harness.scheduler());
    let (first, second) = harness.run(async move {
        let run = |background: &BackgroundExecutor| {
            background.spawn_with_priority(Priority::Realtime, async move {
                let thread = std::thread::current();
                (
                    thread.id(),
                    thread.name().unwrap_or_default().to_owned(),
                    probe(),
                )
            })
        };
        let first = run(&background).await;
        let second = run(&background).await;
        (first, second)
    });
    for (_, name, _) in [&first, &second] {
        assert!(name.starts_with("scheduler-realtime-"), "ran on {name:?}");
    }
    assert_ne!(first.0, second.0, "one thread per realtime task");
    first.2
}
