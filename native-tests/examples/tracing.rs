//! The README's `tracing` example: an app whose `tracing-subscriber` sees the scheduler's tasks
//! (a span per task, entered on each poll; wake and end events), as tokio's users see theirs.
//!
//! `cargo run -p native-tests --features tracing --example tracing`

use scheduler::Scheduler;
use std::sync::Arc;

fn main() {
    // Any subscriber: here tracing-subscriber's fmt layer, everything down to TRACE.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .without_time()
        .init();

    let scheduler: Arc<dyn Scheduler> = scheduler::platform::current();
    let task = scheduler.spawn(async {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                std::task::Poll::Ready(())
            } else {
                cx.waker().wake_by_ref(); // a wake event, then a second poll
                std::task::Poll::Pending
            }
        })
        .await;
        tracing::info!("inside the task's span");
        6 * 7
    });
    assert_eq!(scheduler.block(task), 42);
}
