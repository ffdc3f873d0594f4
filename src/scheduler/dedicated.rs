//! Dedicated executors ([`DedicatedExecutor`], `spawn_dedicated`) and realtime tasks: work on
//! an OS thread of its own ([`DedicatedThread`](crate::DedicatedThread), in
//! `dedicated_thread.rs`), or, where the scheduler simulates threads (the
//! [`TestScheduler`](crate::TestScheduler)), on the scheduler itself.

use crate::scheduler::{LiveGuard, ThreadShared};
#[cfg(not(wasm))]
use crate::task::build::build;
use crate::task::build::build_local;
use crate::task::future::TaskFuture;
use crate::{Runnable, Scheduler, Task, TaskHeader, TaskId, TaskKind, Timer};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::ThreadId;
use std::time::Duration;

/// Where the runnables of a dedicated executor (or a realtime task) go.
#[derive(Clone)]
enum Lane {
    /// The queue of its own OS thread.
    Thread(Arc<ThreadShared>),
    /// The scheduler (its task handle), which runs them itself on its one thread (the
    /// TestScheduler: the test thread, FIFO per executor).
    Scheduler(Arc<dyn Scheduler>),
}

impl Lane {
    /// Asks `scheduler` for a thread (see [`Scheduler::dedicated_thread`]): the lane, and the
    /// guard that counts the first task on it.
    fn start(scheduler: &Arc<dyn Scheduler>, realtime: bool, task: TaskId) -> (Lane, LiveGuard) {
        match scheduler.dedicated_thread(realtime) {
            Some(thread) => {
                let (shared, guard) = thread.into_parts(task);
                (Lane::Thread(shared), guard)
            }
            None => (
                Lane::Scheduler(scheduler.task_handle(scheduler)),
                LiveGuard(None),
            ),
        }
    }

    /// A wake: queue `runnable` again.
    fn schedule(&self, runnable: Runnable) {
        #[cfg(feature = "tracing")]
        crate::tracing_events::wake(runnable.metadata());
        match self {
            Lane::Thread(thread) => thread.push(runnable),
            Lane::Scheduler(scheduler) => scheduler.schedule(runnable),
        }
    }

    /// A new task's first runnable (`spawned_on` registers it when it runs the lane itself).
    fn first(&self, spawned_on: &dyn Scheduler, runnable: Runnable) {
        match self {
            Lane::Thread(thread) => thread.push(runnable),
            Lane::Scheduler(_) => spawned_on.schedule_spawned(runnable),
        }
    }

    fn guard(&self, task: TaskId) -> LiveGuard {
        match self {
            Lane::Thread(thread) => thread.guard(task),
            Lane::Scheduler(_) => LiveGuard(None),
        }
    }
}

pin_project! {
    /// A task's future on a dedicated lane, counted as live on its thread until it is dropped.
    struct Counted<F> {
        #[pin]
        inner: F,
        // Declared after `inner`: released once the future is gone.
        guard: LiveGuard,
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

/// Spawns `future` (with `metadata`, of realtime priority) on a realtime thread of its own;
/// gives it back when `scheduler` runs such work itself (then it is queued as a normal task).
/// Not on wasm32, which has no threads: there a realtime task is queued as a high one.
#[cfg(not(wasm))]
pub(crate) fn spawn_realtime<F>(
    scheduler: &Arc<dyn Scheduler>,
    metadata: crate::TaskMetadata,
    future: F,
) -> Result<Task<F::Output>, F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let Some(thread) = scheduler.dedicated_thread(true) else {
        return Err(future);
    };
    let (shared, guard) = thread.into_parts(metadata.id());
    let lane = Lane::Thread(shared);
    let handle = scheduler.task_handle(scheduler);
    let schedule = lane.clone();
    let (runnable, task) = build(
        metadata,
        Counted {
            inner: future,
            guard,
        },
        handle,
        move |runnable| schedule.schedule(runnable),
    );
    lane.first(&**scheduler, runnable);
    Ok(Task::spawned(task))
}

impl dyn Scheduler {
    /// Runs `!Send` work on a dedicated executor: an OS thread of its own with its own local
    /// queue, where code may block (on I/O, a lock) without holding up any other thread.
    ///
    /// `make` is called on that thread with the [`DedicatedExecutor`] (which spawns more
    /// `!Send` tasks there) and returns the root future; the returned [`Task`] is the root
    /// task. Dropping it cancels the root future; the thread ends once every task on it has
    /// ended (the root future's own `Task`s of local tasks are dropped with it, which cancels
    /// them; detached local tasks run to their end first).
    ///
    /// The [`TestScheduler`](crate::TestScheduler) simulates the thread: the executor's tasks
    /// run on the test thread, first in first out, interleaved with the rest by the seed, so
    /// `run_seeds` stays deterministic (and a blocking call blocks the simulation). On wasm32
    /// (no threads) any other scheduler panics here.
    ///
    /// ```
    /// use scheduler::{Scheduler, TestScheduler};
    /// use std::{cell::RefCell, rc::Rc, sync::Arc};
    ///
    /// let scheduler: Arc<dyn Scheduler> = TestScheduler::with_seed(0);
    /// let task = scheduler.spawn_dedicated(|executor| async move {
    ///     let log = Rc::new(RefCell::new(Vec::new())); // !Send: fine here
    ///     let child = executor.spawn({
    ///         let log = log.clone();
    ///         async move { log.borrow_mut().push("child") }
    ///     });
    ///     child.await;
    ///     log.borrow_mut().push("root");
    ///     log.borrow().len()
    /// });
    /// assert_eq!(scheduler.block(task), 2);
    /// ```
    #[track_caller]
    pub fn spawn_dedicated<M, F>(self: &Arc<Self>, make: M) -> Task<F::Output>
    where
        M: FnOnce(DedicatedExecutor) -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let metadata = self.new_metadata(None, None, TaskKind::Dedicated, Location::caller());
        let (lane, guard) = Lane::start(self, false, metadata.id());
        let handle = self.task_handle(self);
        let root = Counted {
            inner: Root {
                make: Some((make, handle.clone(), lane.clone())),
                thread: None,
                future: None,
            },
            guard,
        };
        let schedule = lane.clone();
        // SAFETY: `Root` is not `Send` (it holds `F` once made), so every poll and the drop of
        // the future must happen on one thread. Until its first poll it holds only `Send` data
        // (`make`, the handle, the lane); it makes `F` at that poll and checks that every later
        // poll and its drop happen on that same thread (`Root::poll`, `Root`'s drop: a panic, or
        // an abort in the drop, instead of touching `F` elsewhere). Its runnables only go to
        // the lane, whose thread (the dedicated thread, or the one thread of a scheduler that
        // runs dedicated work itself) is the only one that runs or drops them. The schedule
        // function and the metadata are `Send + Sync + 'static`, and so is the output.
        let (runnable, task) = unsafe {
            async_task::Builder::new()
                .metadata(TaskHeader::new(metadata, handle))
                .spawn_unchecked(
                    move |header| TaskFuture::new(root, header),
                    move |runnable| schedule.schedule(runnable),
                )
        };
        lane.first(&**self, runnable);
        Task::spawned(task)
    }
}

/// Spawns `!Send` tasks on the thread of a dedicated executor (see `spawn_dedicated`). Handed
/// to the closure that makes the root future; itself `!Send`: it stays on that thread.
#[derive(Clone)]
pub struct DedicatedExecutor {
    /// The scheduler's task handle (it never keeps the scheduler's threads alive).
    scheduler: Arc<dyn Scheduler>,
    lane: Lane,
    not_send: PhantomData<Rc<()>>,
}

impl DedicatedExecutor {
    /// Spawns `future` on this executor's thread, after what is queued there. It gets the
    /// session and priority of the task it is spawned from.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let metadata =
            self.scheduler
                .new_metadata(None, None, TaskKind::Dedicated, Location::caller());
        let guard = self.lane.guard(metadata.id());
        let handle = self.scheduler.task_handle(&self.scheduler);
        let schedule = self.lane.clone();
        let (runnable, task) = build_local(
            metadata,
            Counted {
                inner: future,
                guard,
            },
            handle,
            move |runnable| schedule.schedule(runnable),
        );
        self.lane.first(&*self.scheduler, runnable);
        Task::spawned(task)
    }

    /// A future that completes after `duration` on the scheduler's clock.
    #[track_caller]
    pub fn timer(&self, duration: Duration) -> Timer {
        self.scheduler.timer(duration)
    }

    /// The scheduler (its task handle) this executor's tasks belong to.
    pub fn scheduler(&self) -> &Arc<dyn Scheduler> {
        &self.scheduler
    }
}

impl fmt::Debug for DedicatedExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lane = match self.lane {
            Lane::Thread(_) => "thread",
            Lane::Scheduler(_) => "simulated",
        };
        f.debug_struct("DedicatedExecutor")
            .field("lane", &lane)
            .finish_non_exhaustive()
    }
}

type Make<M> = (M, Arc<dyn Scheduler>, Lane);

pin_project! {
    /// A dedicated executor's root future: made by `make` at its first poll, on the thread that
    /// runs it, and held to that thread afterwards.
    struct Root<M, F> {
        make: Option<Make<M>>,
        thread: Option<ThreadId>,
        #[pin]
        future: Option<F>,
    }

    impl<M, F> PinnedDrop for Root<M, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if this.future.is_some() && *this.thread != Some(this_thread()) {
                // Never reached through the lanes (see `spawn_dedicated`); dropping `F` here
                // would touch `!Send` data from another thread.
                eprintln!("scheduler: a dedicated task was dropped off its thread; aborting");
                std::process::abort();
            }
        }
    }
}

/// The calling thread's id, cached per thread (`thread::current()` clones an `Arc`).
fn this_thread() -> ThreadId {
    thread_local! {
        static ID: ThreadId = std::thread::current().id();
    }
    ID.try_with(|id| *id)
        .unwrap_or_else(|_| std::thread::current().id())
}

impl<M, F> Future for Root<M, F>
where
    M: FnOnce(DedicatedExecutor) -> F,
    F: Future,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let here = this_thread();
        if let Some((make, scheduler, lane)) = this.make.take() {
            *this.thread = Some(here);
            let executor = DedicatedExecutor {
                scheduler,
                lane,
                not_send: PhantomData,
            };
            this.future.set(Some(make(executor)));
        }
        assert_eq!(
            *this.thread,
            Some(here),
            "a dedicated task was polled off its thread (a scheduler whose `dedicated_thread` \
             returns None must run every runnable on one thread)"
        );
        this.future
            .as_pin_mut()
            .expect("a dedicated task is not polled after it completed")
            .poll(cx)
    }
}
