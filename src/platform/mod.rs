//! Production schedulers, one per target, behind `cfg`, and [`current`], the right one for the
//! target as an `Arc<dyn Scheduler>`.

#[cfg(any(windows, target_os = "macos"))]
mod guarded_run;
#[cfg(any(windows, target_os = "macos"))]
mod thread_parker;

#[cfg(target_os = "macos")]
mod mac;
#[cfg(target_os = "macos")]
pub use mac::GcdScheduler;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::WindowsScheduler;

/// The production scheduler for this target, as an `Arc<dyn Scheduler>`.
///
/// Call it on the main (UI) thread: schedulers with a main-thread queue make the calling thread
/// (Windows) or the process's main thread (macOS) their main thread.
///
/// Panics if the operating system refuses the resources the scheduler needs (Windows: a
/// thread-pool work object and a message-only window).
#[cfg(any(windows, target_os = "macos"))]
pub fn current() -> std::sync::Arc<dyn crate::Scheduler> {
    #[cfg(windows)]
    {
        std::sync::Arc::new(
            WindowsScheduler::new()
                .unwrap_or_else(|error| panic!("cannot create the WindowsScheduler: {error}")),
        )
    }
    #[cfg(target_os = "macos")]
    {
        std::sync::Arc::new(GcdScheduler::new())
    }
}
