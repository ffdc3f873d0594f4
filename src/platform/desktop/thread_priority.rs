//! Raising the calling thread to a realtime OS priority, for the thread of a
//! [`Priority::Realtime`](crate::Priority::Realtime) task: `SCHED_FIFO` on Linux and FreeBSD,
//! `THREAD_PRIORITY_TIME_CRITICAL` on Windows, QoS user-interactive on macOS. Where the process
//! may not (no `CAP_SYS_NICE` and an `RLIMIT_RTPRIO` of 0, a sandbox, …) the thread keeps its
//! normal priority and the first refusal is printed once on stderr: never an error.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// The `SCHED_FIFO` priority of realtime threads (1..=99; above every normal thread, below
/// the kernel's own realtime threads).
#[cfg(linux_like)]
const FIFO_PRIORITY: i32 = 10;

/// Raises the calling thread's priority, or warns (once per process) that it could not.
pub(crate) fn raise_to_realtime() {
    if let Err(error) = raise() {
        warn_once(&error);
    }
}

/// Prints the fallback warning the first time only.
fn warn_once(error: &io::Error) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "scheduler: warning: could not raise a realtime thread to {WHAT} ({error}); realtime \
             tasks run at normal OS priority"
        );
    }
}

#[cfg(linux_like)]
const WHAT: &str = "SCHED_FIFO";
#[cfg(windows)]
const WHAT: &str = "THREAD_PRIORITY_TIME_CRITICAL";
#[cfg(target_os = "macos")]
const WHAT: &str = "QoS user-interactive";
#[cfg(not(desktop))]
const WHAT: &str = "a realtime priority";

#[cfg(linux_like)]
fn raise() -> io::Result<()> {
    // SAFETY: `sched_param` is a plain C struct of integers, for which all zeroes is valid.
    let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
    param.sched_priority = FIFO_PRIORITY;
    // SAFETY: `pthread_self()` is the calling thread, alive for the call; `param` is a valid,
    // initialized `sched_param` that outlives the call.
    let result =
        unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(result))
    }
}

#[cfg(windows)]
fn raise() -> io::Result<()> {
    use windows_sys::Win32::System::Threading::{
        GetCurrentThread, SetThreadPriority, THREAD_PRIORITY_TIME_CRITICAL,
    };
    // SAFETY: `GetCurrentThread` returns the calling thread's pseudo-handle, valid for the call;
    // `SetThreadPriority` has no other preconditions.
    let ok = unsafe { SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_TIME_CRITICAL) };
    if ok != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(target_os = "macos")]
fn raise() -> io::Result<()> {
    /// `QOS_CLASS_USER_INTERACTIVE` from `<sys/qos.h>`.
    const QOS_CLASS_USER_INTERACTIVE: u32 = 0x21;
    // SAFETY: libSystem's `pthread_set_qos_class_self_np` takes a QoS class and a relative
    // priority by value, acts on the calling thread only and has no other preconditions.
    unsafe extern "C" {
        safe fn pthread_set_qos_class_self_np(qos_class: u32, relative_priority: i32) -> i32;
    }
    match pthread_set_qos_class_self_np(QOS_CLASS_USER_INTERACTIVE, 0) {
        0 => Ok(()),
        error => Err(io::Error::from_raw_os_error(error)),
    }
}

#[cfg(not(desktop))]
fn raise() -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no realtime priority on this platform",
    ))
}
