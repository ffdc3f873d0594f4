//! What the desktop backends (Linux, Windows, macOS) share: the main-thread queue
//! (`main_thread.rs`), the per-thread parker (`parker.rs`), raising a thread to realtime priority
//! (`thread_priority.rs`, also used by dedicated threads on any native target), and the methods
//! of their `Scheduler` impls built on those: the main
//! thread (posting foreground work, knowing the main thread), parking (a main thread runs its
//! foreground work while it waits) and the task handle. Each backend expands
//! [`desktop_scheduler_methods!`] inside its `impl Scheduler`, naming where its main-thread queue
//! and its [`Role`](crate::scheduler::Role) are; it writes only what really differs: background
//! work and timers.

#[cfg(desktop)]
pub(crate) mod main_thread;
#[cfg(desktop)]
pub(crate) mod parker;

/// Expands to `schedule_foreground`, `park`, `unparker`, `is_main_thread` and `task_handle`
/// inside a desktop backend's `impl Scheduler`. `main` is the path (from `self`) of its
/// `Arc<MainThreadQueue<_>>`, `role` the path of its `Role`.
#[cfg(desktop)]
macro_rules! desktop_scheduler_methods {
    (main: $($main:ident).+, role: $($role:ident).+) => {
        fn schedule_foreground(&self, runnable: $crate::Runnable) {
            self.$($main).+.post(runnable);
        }

        /// On the main thread, runs a batch of queued foreground tasks before it sleeps.
        fn park(&self, timeout: Option<std::time::Duration>) -> bool {
            self.$($main).+.park(timeout)
        }

        fn unparker(&self) -> $crate::Unparker {
            $crate::platform::desktop::parker::unparker()
        }

        fn is_main_thread(&self) -> bool {
            self.$($main).+.is_main_thread()
        }

        /// The app holds the owning handle; tasks hold one that only reaches the queues, so
        /// they never keep the backend's threads or OS objects alive.
        fn task_handle(
            &self,
            spawned_on: &std::sync::Arc<dyn $crate::Scheduler>,
        ) -> std::sync::Arc<dyn $crate::Scheduler> {
            self.$($role).+.task_handle(spawned_on)
        }
    };
}

#[cfg(desktop)]
pub(crate) use desktop_scheduler_methods;
