//! [`ForegroundExecutor`]: spawns `!Send` work on the main thread.

use crate::{Instant, Scheduler, SessionId, SystemTime, Task, Timer, session};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Spawns `!Send` futures on the main thread. Itself `!Send`: it lives on the main thread.
///
/// ```
/// use scheduler::{ForegroundExecutor, TestScheduler};
/// use std::{cell::Cell, rc::Rc};
/// let executor = ForegroundExecutor::new(TestScheduler::with_seed(0));
/// let counter = Rc::new(Cell::new(0)); // not Send: fine on the main thread
/// let task = executor.spawn({
///     let counter = counter.clone();
///     async move { counter.set(counter.get() + 1) }
/// });
/// executor.block(task);
/// assert_eq!(counter.get(), 1);
/// ```
#[derive(Clone)]
pub struct ForegroundExecutor {
    scheduler: Arc<dyn Scheduler>,
    session: Option<SessionId>,
    not_send: PhantomData<Rc<()>>,
}

impl ForegroundExecutor {
    /// An executor over `scheduler`; its tasks belong to the session current now, if any.
    pub fn new(scheduler: Arc<dyn Scheduler>) -> Self {
        Self {
            scheduler,
            session: session::current(),
            not_send: PhantomData,
        }
    }

    /// An executor whose tasks belong to `session`. A [`TestScheduler`](crate::TestScheduler)
    /// keeps each session's foreground tasks in FIFO order while sessions interleave.
    pub fn for_session(scheduler: Arc<dyn Scheduler>, session: SessionId) -> Self {
        Self {
            scheduler,
            session: Some(session),
            not_send: PhantomData,
        }
    }

    /// The scheduler behind this executor.
    pub fn scheduler(&self) -> &Arc<dyn Scheduler> {
        &self.scheduler
    }

    /// The session this executor's tasks belong to.
    pub fn session(&self) -> Option<SessionId> {
        self.session
    }

    /// Spawns `future` on the main thread.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let _session = session::enter(self.session.or(session::current()));
        self.scheduler.spawn_foreground(future)
    }

    /// A future that completes after `duration`.
    #[track_caller]
    pub fn timer(&self, duration: Duration) -> Timer {
        self.scheduler.timer(duration)
    }

    /// Blocks the main thread until `future` completes; queued foreground tasks keep running
    /// meanwhile.
    #[track_caller]
    pub fn block<F: Future>(&self, future: F) -> F::Output {
        self.scheduler.block(future)
    }

    /// Blocks until `future` completes or `timeout` passes; on time-out returns the future.
    #[allow(clippy::type_complexity)]
    #[track_caller]
    pub fn block_with_timeout<F: Future>(
        &self,
        timeout: Duration,
        future: F,
    ) -> Result<F::Output, Pin<Box<F>>> {
        self.scheduler.block_with_timeout(timeout, future)
    }

    /// The scheduler's clock (monotonic).
    pub fn now(&self) -> Instant {
        self.scheduler.now()
    }

    /// The scheduler's wall clock (UTC; see [`Scheduler::utc_now`]).
    pub fn utc_now(&self) -> SystemTime {
        self.scheduler.utc_now()
    }
}

impl fmt::Debug for ForegroundExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForegroundExecutor")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}
