//! Production schedulers, one per target, chosen by one `cfg` switch, and [`current`], the
//! target's default.
//!
//! | target | scheduler | main thread |
//! | --- | --- | --- |
//! | Linux, FreeBSD | `LinuxScheduler` (`linux/`) | a calloop event source |
//! | Windows | `WindowsScheduler` (`windows/`) | a message-only window |
//! | macOS | `GcdScheduler` (`mac.rs`) | GCD's main queue |
//! | wasm32 | `wasm::WasmScheduler` (`wasm/`) | the only thread |
//! | wasm32 in workerd | `wasm::WorkerdScheduler` (`wasm/workerd.rs`, feature `cloudflare`) | the only thread |
//!
//! Only the scheduler of the target being built exists (and is documented) in a build.
//!
//! The desktop backends share `desktop/`: the main-thread queue (`main_thread.rs`), the
//! per-thread parker (`parker.rs`), the `Scheduler` methods built on them (`mod.rs`) and
//! realtime thread priorities (`thread_priority.rs`). Each backend module provides
//! `default_scheduler()`, which [`current`] calls once. The wasm backend also holds
//! `WorkerdScheduler`, the `WasmScheduler` as workerd needs it (feature `cloudflare`).

// One `cfg` switch: the module of this target's backend, aliased `native` (the aliases
// `desktop`, `linux_like` and `wasm` are defined in build.rs).
#[cfg(not(wasm))]
pub(crate) mod desktop;

#[cfg(linux_like)]
mod linux;
#[cfg(linux_like)]
use linux as native;
#[cfg(linux_like)]
pub use linux::{LinuxScheduler, MainThreadSource};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as native;
#[cfg(windows)]
pub use windows::WindowsScheduler;

#[cfg(target_os = "macos")]
mod mac;
#[cfg(target_os = "macos")]
use mac as native;
#[cfg(target_os = "macos")]
pub use mac::GcdScheduler;

#[cfg(wasm)]
pub mod wasm;
#[cfg(wasm)]
use wasm as native;

/// The production scheduler of this target, shared by the whole process (the wasm instance),
/// created by the first call: a `LinuxScheduler` on Linux and FreeBSD, a `WindowsScheduler` on
/// Windows, a `GcdScheduler` on macOS, a `wasm::WasmScheduler` on wasm32.
///
/// On Linux and Windows the thread that makes the first call becomes the main thread (call it
/// first from `main`, on the thread that runs the event loop); on macOS the main thread is the
/// process's. To drive the foreground queue with a backend's own tools, reach the concrete type
/// with `current().downcast_ref::<LinuxScheduler>()` (and so on).
///
/// Panics if the backend cannot start (its threads, its thread-pool objects, its window).
#[cfg(any(desktop, wasm))]
pub fn current() -> std::sync::Arc<dyn crate::Scheduler> {
    static CURRENT: std::sync::OnceLock<std::sync::Arc<dyn crate::Scheduler>> =
        std::sync::OnceLock::new();
    CURRENT.get_or_init(native::default_scheduler).clone()
}
