//! The main-thread queue: foreground runnables wait in a lock-free queue, and a message-only
//! window (`HWND_MESSAGE`) owned by the main thread gets one posted message per batch, so any
//! Win32 message loop on that thread (the app's own, or [`super::message_loop`]) drains it
//! through `DispatchMessageW`.
//!
//! Foreground runnables come from `spawn_local`: they must be run and dropped on the main
//! thread only. Nothing here drops one elsewhere; if the queue outlives the main thread's
//! window, the leftovers are leaked rather than dropped on a wrong thread.

use super::win32_error;
use crate::platform::guarded_run::run_guarded;
use crate::{Runnable, Unparker};
use crossbeam_queue::SegQueue;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, ThreadId};
use windows_sys::Win32::Foundation::{HWND, LPARAM, LRESULT, WPARAM};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DestroyWindow, GWLP_USERDATA, HWND_MESSAGE, PostMessageW,
    RegisterClassExW, WM_APP, WM_NCDESTROY, WNDCLASSEXW,
};

/// Posted (at most one at a time) when the queue has runnables.
const WM_RUN_FOREGROUND: u32 = WM_APP + 0x5C1;
/// Posted by a scheduler dropped off the main thread: drop the queue and destroy the window.
const WM_SHUT_DOWN: u32 = WM_APP + 0x5C2;
/// How many runnables one message runs before letting other messages through.
const BATCH: usize = 256;

/// The queue of runnables for the main thread.
pub(super) struct MainQueue {
    runnables: SegQueue<Runnable>,
    /// A `WM_RUN_FOREGROUND` is posted and not yet handled.
    message_posted: AtomicBool,
    /// Set when the scheduler is dropped: nothing more is run.
    closed: AtomicBool,
    /// The message-only window, as an address (owned by the main thread).
    window: usize,
    main_thread: ThreadId,
    /// Wakes the main thread when it is blocked in `park`.
    main_unparker: Unparker,
}

impl MainQueue {
    /// Creates the queue and its message-only window; the calling thread becomes the main thread.
    pub(super) fn new(main_unparker: Unparker) -> io::Result<Arc<Self>> {
        let window = create_window()?;
        let queue = Arc::new(Self {
            runnables: SegQueue::new(),
            message_posted: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            window: window as usize,
            main_thread: thread::current().id(),
            main_unparker,
        });
        // The window keeps one strong count, released when it is destroyed (WM_NCDESTROY).
        let raw = Arc::into_raw(queue.clone());
        // SAFETY: `window` is the live window just created on this thread.
        unsafe { set_user_data(window, raw as isize) };
        Ok(queue)
    }

    /// Whether the calling thread is the main thread.
    pub(super) fn is_main_thread(&self) -> bool {
        thread::current().id() == self.main_thread
    }

    /// Queues `runnable` for the main thread and makes sure its message loop (or a blocked
    /// `park`) will get to it. Once the scheduler is dropped the runnable is refused: dropped on
    /// the main thread, leaked anywhere else (a foreground runnable must not be dropped there).
    pub(super) fn push(&self, runnable: Runnable) {
        if self.closed.load(Ordering::Acquire) {
            if self.is_main_thread() {
                drop(runnable);
            } else {
                std::mem::forget(runnable);
            }
            return;
        }
        self.runnables.push(runnable);
        self.main_unparker.unpark();
        self.post_run_message();
    }

    /// Runs up to one batch of queued runnables; returns how many ran. Main thread only.
    pub(super) fn run_batch(&self) -> usize {
        debug_assert!(self.is_main_thread());
        if self.closed.load(Ordering::Acquire) {
            self.drop_all();
            return 0;
        }
        let mut ran = 0;
        while ran < BATCH {
            let Some(runnable) = self.runnables.pop() else {
                break;
            };
            run_guarded(runnable);
            ran += 1;
        }
        ran
    }

    /// Stops the queue. On the main thread its runnables are dropped and the window destroyed
    /// now; elsewhere the main thread is asked to do it (its message loop handles the message).
    pub(super) fn shut_down(&self) {
        self.closed.store(true, Ordering::Release);
        if self.is_main_thread() {
            self.drop_all();
            // SAFETY: the window belongs to this thread; WM_NCDESTROY releases its strong count
            // of the queue while `self` is still borrowed from another one (the scheduler's).
            unsafe { DestroyWindow(self.window as HWND) };
        } else {
            // SAFETY: posting to a window of another thread is allowed; if it is gone the call
            // just fails, and the leftovers are leaked by `Drop` below.
            unsafe { PostMessageW(self.window as HWND, WM_SHUT_DOWN, 0, 0) };
            self.main_unparker.unpark();
        }
    }

    fn post_run_message(&self) {
        if self.message_posted.swap(true, Ordering::AcqRel) {
            return;
        }
        // SAFETY: posting to the window is allowed from any thread; the window outlives every
        // scheduler call (it is destroyed only at shutdown).
        let posted = unsafe { PostMessageW(self.window as HWND, WM_RUN_FOREGROUND, 0, 0) };
        if posted == 0 {
            // The message queue is full or gone: a later push or `park` on the main thread
            // retries; the runnable stays queued meanwhile.
            self.message_posted.store(false, Ordering::Release);
        }
    }

    /// Handles `WM_RUN_FOREGROUND`: runs one batch and re-posts if more is left.
    fn on_run_message(&self) {
        self.message_posted.store(false, Ordering::Release);
        self.run_batch();
        if !self.runnables.is_empty() && !self.closed.load(Ordering::Acquire) {
            self.post_run_message();
        }
    }

    fn drop_all(&self) {
        debug_assert!(self.is_main_thread());
        while let Some(runnable) = self.runnables.pop() {
            drop(runnable);
        }
    }
}

impl Drop for MainQueue {
    fn drop(&mut self) {
        if self.is_main_thread() {
            self.drop_all();
        } else {
            // Foreground runnables panic when dropped off their thread: leak them instead.
            while let Some(runnable) = self.runnables.pop() {
                std::mem::forget(runnable);
            }
        }
    }
}

/// The window class, registered once per process.
fn class_name() -> io::Result<&'static [u16]> {
    static CLASS: OnceLock<Result<Vec<u16>, String>> = OnceLock::new();
    let class = CLASS.get_or_init(|| {
        let name: Vec<u16> = "scheduler::WindowsScheduler main queue\0"
            .encode_utf16()
            .collect();
        let class = WNDCLASSEXW {
            cbSize: size_of::<WNDCLASSEXW>() as u32,
            lpfnWndProc: Some(window_proc),
            // SAFETY: a null name asks for the module of the running executable.
            hInstance: unsafe { GetModuleHandleW(std::ptr::null()) },
            lpszClassName: name.as_ptr(),
            // SAFETY: all other fields of this plain C struct are valid when zero.
            ..unsafe { std::mem::zeroed() }
        };
        // SAFETY: `class` is fully initialised and `name` is kept alive for the process (it is
        // stored in the OnceLock).
        if unsafe { RegisterClassExW(&class) } == 0 {
            return Err(win32_error("RegisterClassExW").to_string());
        }
        Ok(name)
    });
    class
        .as_deref()
        .map_err(|error| io::Error::other(error.clone()))
}

fn create_window() -> io::Result<HWND> {
    let class = class_name()?;
    // SAFETY: the class is registered; HWND_MESSAGE makes a message-only window (never shown,
    // no painting); null name, menu and parameter are allowed.
    let window = unsafe {
        CreateWindowExW(
            0,
            class.as_ptr(),
            std::ptr::null(),
            0,
            0,
            0,
            0,
            0,
            HWND_MESSAGE,
            std::ptr::null_mut(),
            GetModuleHandleW(std::ptr::null()),
            std::ptr::null(),
        )
    };
    if window.is_null() {
        return Err(win32_error("CreateWindowExW(HWND_MESSAGE)"));
    }
    Ok(window)
}

/// The message-only window's procedure, run by `DispatchMessageW` on the main thread.
unsafe extern "system" fn window_proc(
    window: HWND,
    message: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    match message {
        WM_RUN_FOREGROUND | WM_SHUT_DOWN => {
            // SAFETY: the window's user data is 0 or the strong count it owns.
            let Some(queue) = (unsafe { queue_of(window) }) else {
                return 0;
            };
            if message == WM_RUN_FOREGROUND {
                queue.on_run_message();
            } else {
                queue.drop_all();
                // SAFETY: this procedure runs on the window's own thread.
                unsafe { DestroyWindow(window) };
            }
            0
        }
        WM_NCDESTROY => {
            // SAFETY: the window is being destroyed on its own thread; taking the user data
            // out makes the release below happen exactly once.
            let raw = unsafe { set_user_data(window, 0) };
            if raw != 0 {
                // SAFETY: a non-zero value is the strong count the window owned.
                drop(unsafe { Arc::from_raw(raw as *const MainQueue) });
            }
            // SAFETY: default handling of a message we only observe.
            unsafe { DefWindowProcW(window, message, wparam, lparam) }
        }
        // SAFETY: default handling for every other message.
        _ => unsafe { DefWindowProcW(window, message, wparam, lparam) },
    }
}

/// A new strong count of the queue owned by `window`, if it still has one. A clone, so a
/// runnable that destroys the window (by dropping the scheduler) cannot free it under us.
///
/// # Safety
/// Must run on the window's thread, whose user data is 0 or a strong count of a `MainQueue`.
unsafe fn queue_of(window: HWND) -> Option<Arc<MainQueue>> {
    // SAFETY: reading the user data of a live window of this thread.
    let raw = unsafe { get_user_data(window) } as *const MainQueue;
    if raw.is_null() {
        return None;
    }
    // SAFETY: `raw` is the strong count the window owns (alive until WM_NCDESTROY, which runs on
    // this thread and so not concurrently); we add one of our own.
    unsafe {
        Arc::increment_strong_count(raw);
        Some(Arc::from_raw(raw))
    }
}

/// # Safety
/// `window` must be a live window of the calling thread.
unsafe fn set_user_data(window: HWND, value: isize) -> isize {
    #[cfg(target_pointer_width = "64")]
    // SAFETY: guaranteed by the caller.
    let previous = unsafe {
        windows_sys::Win32::UI::WindowsAndMessaging::SetWindowLongPtrW(window, GWLP_USERDATA, value)
    };
    #[cfg(not(target_pointer_width = "64"))]
    // SAFETY: guaranteed by the caller.
    let previous = unsafe {
        windows_sys::Win32::UI::WindowsAndMessaging::SetWindowLongW(
            window,
            GWLP_USERDATA,
            value as i32,
        )
    } as isize;
    previous
}

/// # Safety
/// `window` must be a live window of the calling thread.
unsafe fn get_user_data(window: HWND) -> isize {
    #[cfg(target_pointer_width = "64")]
    // SAFETY: guaranteed by the caller.
    let value = unsafe {
        windows_sys::Win32::UI::WindowsAndMessaging::GetWindowLongPtrW(window, GWLP_USERDATA)
    };
    #[cfg(not(target_pointer_width = "64"))]
    // SAFETY: guaranteed by the caller.
    let value = unsafe {
        windows_sys::Win32::UI::WindowsAndMessaging::GetWindowLongW(window, GWLP_USERDATA)
    } as isize;
    value
}
