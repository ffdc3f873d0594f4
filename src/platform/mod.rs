//! Production schedulers, one per target, behind `cfg`, and [`current`], the target's default.

#[cfg(target_arch = "wasm32")]
pub mod wasm;

/// The production scheduler of this target: on wasm32, one [`wasm::WasmScheduler`] for the whole
/// (single-threaded) instance. Cloudflare Workers use `cloud::WorkerdScheduler` around it instead,
/// for workerd's per-request I/O contexts.
#[cfg(target_arch = "wasm32")]
pub fn current() -> std::sync::Arc<dyn crate::Scheduler> {
    static CURRENT: std::sync::OnceLock<std::sync::Arc<wasm::WasmScheduler>> =
        std::sync::OnceLock::new();
    CURRENT
        .get_or_init(|| std::sync::Arc::new(wasm::WasmScheduler::new()))
        .clone()
}

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

/// The production scheduler of this target, shared by the whole process.
///
/// On Windows this is one [`WindowsScheduler`], created by the first call: the thread that makes
/// that first call becomes its main thread (call it first from `main`, on the thread that runs
/// the message loop). Any Win32 message loop on that thread drains its foreground queue; apps
/// without one can use `current().downcast_ref::<WindowsScheduler>()` and its
/// [`run`](WindowsScheduler::run) / [`run_until`](WindowsScheduler::run_until).
///
/// Panics if Windows refuses the thread-pool work object or the message-only window.
#[cfg(windows)]
pub fn current() -> std::sync::Arc<dyn crate::Scheduler> {
    static CURRENT: std::sync::OnceLock<std::sync::Arc<WindowsScheduler>> =
        std::sync::OnceLock::new();
    CURRENT
        .get_or_init(|| {
            std::sync::Arc::new(
                WindowsScheduler::new()
                    .unwrap_or_else(|error| panic!("cannot create the WindowsScheduler: {error}")),
            )
        })
        .clone()
}

/// The production scheduler of this target, shared by the whole process.
///
/// On macOS this is one [`GcdScheduler`] over GCD's global and main queues; its main thread is
/// the process's main thread, whose run loop (`NSApplication`, `CFRunLoop`) drains the main queue.
#[cfg(target_os = "macos")]
pub fn current() -> std::sync::Arc<dyn crate::Scheduler> {
    static CURRENT: std::sync::OnceLock<std::sync::Arc<GcdScheduler>> = std::sync::OnceLock::new();
    CURRENT
        .get_or_init(|| std::sync::Arc::new(GcdScheduler::new()))
        .clone()
}
