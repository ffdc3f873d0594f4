//! The benchmark peer: the same ingest handler with its subtasks, timers and `wait_until` work
//! on plain `wasm_bindgen_futures::spawn_local` (wasm-bindgen-futures' own microtask queue)
//! instead of the WasmScheduler. Used only by the `/peer` routes.

use scheduler::cloud::{ExecutionContext, LocalFuture};
use scheduler::{Instant, Runnable, Scheduler, Unparker};
use std::cell::Cell;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;
use wasm_bindgen_futures::spawn_local;

/// A [`Scheduler`] that hands every runnable straight to `spawn_local`, and timers to
/// `setTimeout` (`worker::Delay`) then `spawn_local`. No sessions, no fairness, no counters:
/// exactly what a Worker gets without this crate.
pub struct SpawnLocalScheduler;

impl Scheduler for SpawnLocalScheduler {
    fn schedule(&self, runnable: Runnable) {
        spawn_local(async move {
            runnable.run();
        });
    }

    fn schedule_foreground(&self, runnable: Runnable) {
        self.schedule(runnable);
    }

    fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        spawn_local(async move {
            worker::Delay::from(delay).await;
            runnable.run();
        });
    }

    fn park(&self, _timeout: Option<Duration>) -> bool {
        panic!("SpawnLocalScheduler cannot block: a Worker has one JS thread; `.await` instead");
    }

    fn unparker(&self) -> Unparker {
        parking::pair().1
    }

    fn is_main_thread(&self) -> bool {
        true
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn num_cpus(&self) -> usize {
        1
    }
}

/// `worker::Context` as an [`ExecutionContext`], as workers-rs does it: `wait_until` runs the
/// future on `spawn_local` and hands `ctx.waitUntil` a promise of `future_to_promise`, settled
/// from the request's own context (see [`SpawnLocalContext::wait_until_boxed`]).
pub struct SpawnLocalContext {
    context: worker::Context,
}

impl SpawnLocalContext {
    /// Wraps the fetch event's context.
    pub fn new(context: worker::Context) -> Self {
        Self { context }
    }
}

/// How often a `wait_until` promise checks, on a timer of its own request, whether its future
/// has finished (see [`SpawnLocalContext::wait_until_boxed`]).
const SETTLE_TICK: Duration = Duration::from_millis(50);

impl ExecutionContext for SpawnLocalContext {
    /// Runs `future` on `spawn_local`; the promise handed to `ctx.waitUntil` settles in this
    /// request's own context. A `spawn_local` future runs in the context of whatever event woke
    /// it: when another request's event finishes it (the ingest counters wake waiters across
    /// requests), a promise settled right there is settled from that other request's context,
    /// and workerd then gives up on it ("Uncaught Error: Promise will never complete") unless it
    /// defers the settling to the promise's own context, which it was seen not to do under
    /// sustained load (see `WorkerdScheduler`). So the future only raises a flag; the promise's
    /// own future, woken only from this request's context, looks at it: twice through the
    /// microtask queue (a job that ends in this request's own event settles at once), then on a
    /// timer armed here every [`SETTLE_TICK`] (as the WorkerdScheduler's sessions do with their
    /// tick).
    fn wait_until_boxed(&self, future: LocalFuture) {
        let done = Rc::new(Cell::new(false));
        let finished = done.clone();
        spawn_local(async move {
            future.await;
            finished.set(true);
        });
        self.context.wait_until(async move {
            for _ in 0..2 {
                if done.get() {
                    return;
                }
                yield_once().await;
            }
            while !done.get() {
                worker::Delay::from(SETTLE_TICK).await;
            }
        });
    }

    fn pass_through_on_exception(&self) {
        self.context.pass_through_on_exception();
    }
}

/// Wakes itself once, then completes: one trip through `spawn_local`'s microtask queue, in the
/// context of the event being handled.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}
