//! Blocking the calling thread on a future: `block`, `block_with_timeout`, and the default
//! park-based loop behind [`Scheduler::block_on_future`].

use crate::Scheduler;
use crate::scheduler::Unparker;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// A waker that records the wake and unparks the blocked thread.
pub(crate) struct BlockWaker {
    woken: AtomicBool,
    unparker: Unparker,
}

impl BlockWaker {
    pub(crate) fn new(unparker: Unparker) -> Arc<Self> {
        Arc::new(Self {
            woken: AtomicBool::new(false),
            unparker,
        })
    }

    /// Whether the future was woken since the last call.
    pub(crate) fn take_wake(&self) -> bool {
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

/// Polls `future` to completion on the calling thread. Each time it is pending and has not been
/// woken since, calls `wait`, which waits (or does other work) until a wake may have come, and
/// returns `false` to give up. Returns whether the future completed.
pub(crate) fn poll_until_complete(
    mut future: Pin<&mut dyn Future<Output = ()>>,
    unparker: Unparker,
    mut wait: impl FnMut() -> bool,
) -> bool {
    let block_waker = BlockWaker::new(unparker);
    let waker = Waker::from(block_waker.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if future.as_mut().poll(&mut cx).is_ready() {
            return true;
        }
        while !block_waker.take_wake() {
            if !wait() {
                return false;
            }
        }
    }
}

/// The default [`Scheduler::block_on_future`]: poll, then park until woken or out of time.
pub(crate) fn park_until_complete<S: Scheduler + ?Sized>(
    scheduler: &S,
    future: Pin<&mut dyn Future<Output = ()>>,
    timeout: Option<Duration>,
) -> bool {
    let deadline = timeout.map(|timeout| scheduler.now() + timeout);
    poll_until_complete(future, scheduler.unparker(), || {
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
        scheduler.park(remaining);
        true
    })
}

impl dyn Scheduler {
    /// Blocks the calling thread until `future` completes, and returns its output.
    ///
    /// Not available on wasm32 schedulers (they cannot block; `.await` instead). On a
    /// [`TestScheduler`](crate::TestScheduler) other tasks run while blocked, and a future that
    /// can never complete panics with a deadlock report.
    pub fn block<F: Future>(&self, future: F) -> F::Output {
        let mut future = pin!(future);
        let mut output = None;
        let completed = self.block_on_future(pin!(capture(future.as_mut(), &mut output)), None);
        debug_assert!(completed);
        output.expect("block_on_future returned before the future completed")
    }

    /// Blocks until `future` completes or `timeout` passes.
    ///
    /// On time-out the future is returned un-cancelled, so the caller can keep polling it
    /// (for example by awaiting it later).
    ///
    /// ```
    /// use scheduler::{Scheduler, TestScheduler};
    /// use std::{sync::Arc, time::Duration};
    /// let scheduler: Arc<dyn Scheduler> = Arc::new(TestScheduler::with_seed(0));
    /// let timer = scheduler.timer(Duration::from_secs(10));
    /// let pending = scheduler.block_with_timeout(Duration::from_secs(1), timer).unwrap_err();
    /// scheduler.block(pending); // the timer fires later, in virtual time
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn block_with_timeout<F: Future>(
        &self,
        timeout: Duration,
        future: F,
    ) -> Result<F::Output, Pin<Box<F>>> {
        let mut future = Box::pin(future);
        let mut output = None;
        self.block_on_future(pin!(capture(future.as_mut(), &mut output)), Some(timeout));
        output.ok_or(future)
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
