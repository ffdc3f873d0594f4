//! Blocking the calling thread on a future: `block` and `block_with_timeout` on `dyn Scheduler`,
//! and the one loop behind both.
//!
//! The loop polls the future; while it is pending and not woken, it calls
//! [`Scheduler::park`], which does whatever the thread owes while it waits: a main thread runs
//! its queued foreground tasks (so blocking there on a foreground task cannot deadlock), the
//! [`TestScheduler`](crate::TestScheduler) runs one step of its simulation, other threads sleep.
//! The deadline of `block_with_timeout` is checked on every turn, on the scheduler's clock.

use crate::Scheduler;
use crate::scheduler::Unparker;
use crate::scheduler::deadline_after;
use std::cell::RefCell;
use std::future::Future;
use std::panic::Location;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

impl dyn Scheduler {
    /// Blocks the calling thread until `future` completes, and returns its output.
    ///
    /// On the main thread, queued foreground tasks keep running while it blocks. Not available
    /// on wasm32 schedulers (they cannot block; `.await` instead). On a
    /// [`TestScheduler`](crate::TestScheduler) other tasks run while blocked, and a future that
    /// can never complete panics with a deadlock report.
    ///
    /// Blocking a dedicated executor's thread on one of that executor's own tasks can never
    /// complete (its tasks run only on that thread): it panics there, naming the call, instead
    /// of hanging (a deadlock report on the `TestScheduler`). Await such a task instead.
    #[track_caller]
    pub fn block<F: Future>(&self, future: F) -> F::Output {
        let mut future = pin!(future);
        let mut output = None;
        let completed = block_on(self, pin!(capture(future.as_mut(), &mut output)), None);
        debug_assert!(completed);
        output.expect("the blocking loop returned before the future completed")
    }

    /// Blocks until `future` completes or `timeout` passes on the scheduler's clock (which is
    /// virtual on a [`TestScheduler`](crate::TestScheduler); there the wait also gives up after
    /// a random number of ticks, see
    /// [`set_block_tick_range`](crate::TestScheduler::set_block_tick_range)).
    ///
    /// On time-out the future is returned un-cancelled, so the caller can keep polling it
    /// (for example by awaiting it later). `Duration::MAX` means no time-out.
    ///
    /// ```
    /// use scheduler::{Scheduler, TestScheduler};
    /// use std::{sync::Arc, time::Duration};
    /// let scheduler: Arc<dyn Scheduler> = TestScheduler::with_seed(0);
    /// let timer = scheduler.timer(Duration::from_secs(10));
    /// let pending = scheduler.block_with_timeout(Duration::from_secs(1), timer).unwrap_err();
    /// scheduler.block(pending); // the timer fires later, in virtual time
    /// ```
    #[allow(clippy::type_complexity)]
    #[track_caller]
    pub fn block_with_timeout<F: Future>(
        &self,
        timeout: Duration,
        future: F,
    ) -> Result<F::Output, Pin<Box<F>>> {
        let mut future = Box::pin(future);
        let mut output = None;
        block_on(
            self,
            pin!(capture(future.as_mut(), &mut output)),
            Some(timeout),
        );
        output.ok_or(future)
    }
}

/// Polls `future` to completion on the calling thread, parking on `scheduler` while it waits.
/// Returns whether it completed before `timeout` (on the scheduler's clock) passed, or before
/// `park` reported a time-out.
#[track_caller]
fn block_on(
    scheduler: &dyn Scheduler,
    mut future: Pin<&mut dyn Future<Output = ()>>,
    timeout: Option<Duration>,
) -> bool {
    let deadline = timeout.map(|timeout| deadline_after(scheduler.now(), timeout));
    let block_waker = BlockWaker::new(scheduler.unparker());
    let waker = Waker::from(block_waker.clone());
    let mut cx = Context::from_waker(&waker);
    let _frame = Frame::enter(Location::caller());
    loop {
        if future.as_mut().poll(&mut cx).is_ready() {
            return true;
        }
        while !block_waker.take_wake() {
            let remaining = match deadline {
                None => None,
                Some(deadline) => {
                    let now = scheduler.now();
                    if now >= deadline {
                        return false;
                    }
                    Some(deadline - now)
                }
            };
            if !scheduler.park(remaining) && remaining.is_some() {
                return false;
            }
        }
    }
}

/// A waker that records the wake and unparks the blocked thread.
struct BlockWaker {
    woken: AtomicBool,
    unparker: Unparker,
}

impl BlockWaker {
    fn new(unparker: Unparker) -> Arc<Self> {
        Arc::new(Self {
            woken: AtomicBool::new(false),
            unparker,
        })
    }

    /// Whether the future was woken since the last call.
    fn take_wake(&self) -> bool {
        self.woken.swap(false, Ordering::AcqRel)
    }
}

impl Wake for BlockWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.unparker.unpark();
    }
}

/// A future that polls `future` and stores its output in `slot`.
fn capture<'a, F: Future>(
    mut future: Pin<&'a mut F>,
    slot: &'a mut Option<F::Output>,
) -> impl Future<Output = ()> + 'a {
    std::future::poll_fn(move |cx| match future.as_mut().poll(cx) {
        Poll::Ready(output) => {
            *slot = Some(output);
            Poll::Ready(())
        }
        Poll::Pending => Poll::Pending,
    })
}

thread_local! {
    /// One slot per `block` call active on this thread, innermost last, with where it was
    /// called.
    static FRAMES: RefCell<Vec<(Option<usize>, &'static Location<'static>)>> =
        const { RefCell::new(Vec::new()) };
}

/// The calling thread's innermost active `block` call, while it lasts.
struct Frame;

impl Frame {
    fn enter(location: &'static Location<'static>) -> Self {
        FRAMES.with(|frames| frames.borrow_mut().push((None, location)));
        Self
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        let _ = FRAMES.try_with(|frames| frames.borrow_mut().pop());
    }
}

/// Runs `f` on a number kept for the innermost `block` call active on this thread, for as long
/// as that call lasts (`None` until first set); `None` if the thread is not blocking. This is how
/// a scheduler keeps state per blocking call across its `park`s (the
/// [`TestScheduler`](crate::TestScheduler)'s tick budget of `block_with_timeout`).
pub(crate) fn with_innermost_block<R>(f: impl FnOnce(&mut Option<usize>) -> R) -> Option<R> {
    FRAMES.with(|frames| frames.borrow_mut().last_mut().map(|(slot, _)| f(slot)))
}

/// Where the innermost `block` call active on this thread was made; `None` if it is not
/// blocking.
pub(crate) fn innermost_block() -> Option<&'static Location<'static>> {
    FRAMES
        .try_with(|frames| frames.borrow().last().map(|(_, location)| *location))
        .ok()
        .flatten()
}
