//! Production schedulers, one per target, behind `cfg`, and [`current`], the target's default.

#[cfg(target_arch = "wasm32")]
pub mod wasm;

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod linux;
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub use linux::{LinuxScheduler, MainThreadSource};

/// The production scheduler of this target, shared by the whole process.
///
/// On Linux and FreeBSD this is one [`LinuxScheduler`], created by the first call; the thread
/// that makes that first call becomes its main thread (call it first from `main`). To drive its
/// foreground tasks, reach the concrete type with
/// `current().downcast_ref::<LinuxScheduler>()` and insert its
/// [`main_thread_source`](LinuxScheduler::main_thread_source) into your calloop loop.
///
/// Panics if the scheduler's threads cannot be started.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub fn current() -> std::sync::Arc<dyn crate::Scheduler> {
    static CURRENT: std::sync::OnceLock<std::sync::Arc<LinuxScheduler>> =
        std::sync::OnceLock::new();
    CURRENT
        .get_or_init(|| {
            LinuxScheduler::new()
                .unwrap_or_else(|error| panic!("cannot start the LinuxScheduler: {error}"))
        })
        .clone()
}
