//! The executors under comparison, behind one small trait so every scenario body is written once.

use async_executor::Executor as AsyncExecutor;
use futures::future::BoxFuture;
use scheduler::Scheduler;
use scheduler::platform::LinuxScheduler;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// What a scenario needs from an executor.
pub trait Exec: Clone + Send + Sync + 'static {
    /// The join handle of a spawned task.
    type Handle<T: Send + 'static>: Future<Output = T> + Send + 'static;

    /// Spawns `future` on the executor's threads.
    fn spawn<F>(&self, future: F) -> Self::Handle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Blocks the calling (bench main) thread on `future`.
    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// The executor's own timer.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Ours: `LinuxScheduler` through `Arc<dyn Scheduler>` (the spawn path every app uses).
#[derive(Clone)]
pub struct Ours(pub Arc<dyn Scheduler>);

impl Ours {
    /// A scheduler whose main thread is the calling thread.
    pub fn new() -> (Self, Arc<LinuxScheduler>) {
        let linux = LinuxScheduler::new().expect("start LinuxScheduler");
        (Self(linux.clone()), linux)
    }
}

impl Exec for Ours {
    type Handle<T: Send + 'static> = scheduler::Task<T>;

    fn spawn<F>(&self, future: F) -> scheduler::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(future)
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.block(future)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(self.0.timer(duration))
    }
}

/// tokio, multi-thread (2 workers) or current_thread.
#[derive(Clone)]
pub struct Tokio(pub Arc<tokio::runtime::Runtime>);

impl Tokio {
    /// A multi-thread runtime with 2 workers.
    pub fn multi_thread() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .expect("tokio runtime");
        Self(Arc::new(runtime))
    }

    /// A current_thread runtime, driven by the bench main thread inside `block_on`.
    pub fn current_thread() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("tokio runtime");
        Self(Arc::new(runtime))
    }
}

/// A tokio `JoinHandle` that yields `T` (panics are not expected in benchmarks).
pub struct TokioHandle<T>(tokio::task::JoinHandle<T>);

impl<T> Future for TokioHandle<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|result| result.expect("benchmark task failed"))
    }
}

impl Exec for Tokio {
    type Handle<T: Send + 'static> = TokioHandle<T>;

    fn spawn<F>(&self, future: F) -> TokioHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        TokioHandle(self.0.spawn(future))
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.block_on(future)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// async-executor with 2 threads running it.
#[derive(Clone)]
pub struct AsyncExec(pub Arc<AsyncExecutor<'static>>);

impl AsyncExec {
    /// An executor run by `threads` threads (they live until the process exits).
    pub fn with_threads(threads: usize) -> Self {
        let executor = Arc::new(AsyncExecutor::new());
        for index in 0..threads {
            let executor = executor.clone();
            std::thread::Builder::new()
                .name(format!("async-executor-{index}"))
                .spawn(move || {
                    futures::executor::block_on(executor.run(futures::future::pending::<()>()))
                })
                .expect("spawn async-executor thread");
        }
        Self(executor)
    }
}

impl Exec for AsyncExec {
    type Handle<T: Send + 'static> = async_executor::Task<T>;

    fn spawn<F>(&self, future: F) -> async_executor::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(future)
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        futures::executor::block_on(future)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            async_io::Timer::after(duration).await;
        })
    }
}

/// The floor: bare async-task, whose schedule function pushes into a crossbeam channel drained
/// by 2 threads. No metadata, no panic catching, no sessions: what any async-task scheduler
/// could reach.
#[derive(Clone, Copy)]
pub struct Floor(&'static crossbeam_channel::Sender<async_task::Runnable>);

impl Floor {
    /// The channel and its `threads` draining threads (they live until the process exits).
    pub fn with_threads(threads: usize) -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded::<async_task::Runnable>();
        for index in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("floor-{index}"))
                .spawn(move || {
                    for runnable in receiver {
                        runnable.run();
                    }
                })
                .expect("spawn floor thread");
        }
        Self(Box::leak(Box::new(sender)))
    }
}

impl Exec for Floor {
    type Handle<T: Send + 'static> = async_task::Task<T>;

    fn spawn<F>(&self, future: F) -> async_task::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let sender = self.0;
        let (runnable, task) = async_task::spawn(future, move |runnable| {
            sender.send(runnable).expect("floor threads alive");
        });
        runnable.schedule();
        task
    }

    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        futures::executor::block_on(future)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            async_io::Timer::after(duration).await;
        })
    }
}
