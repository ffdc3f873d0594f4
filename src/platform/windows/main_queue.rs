//! The Windows main loop: the shared main-thread queue (`platform/main_thread.rs`) is notified
//! through a message-only window (`HWND_MESSAGE`) owned by the main thread, which gets one
//! posted message per batch, so any Win32 message loop on that thread (the app's own, or
//! [`super::message_loop`]) drains it through `DispatchMessageW`.

use super::error::win32_error;
use crate::platform::desktop::main_thread::{BATCH, MainLoop, MainThreadQueue};
use std::io;
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
/// Posted by a scheduler dropped off the main thread: destroy the window (its queue is closed;
/// the batch run first drops what it holds).
const WM_SHUT_DOWN: u32 = WM_APP + 0x5C2;

/// The main thread and its message-only window.
pub(super) struct MessageWindow {
    main_thread: ThreadId,
    /// The message-only window, as an address (owned by the main thread).
    window: usize,
}

/// The main-thread queue of a [`WindowsScheduler`](super::WindowsScheduler).
pub(super) type MainQueue = MainThreadQueue<MessageWindow>;

impl MainLoop for MessageWindow {
    fn is_main_thread(&self) -> bool {
        thread::current().id() == self.main_thread
    }

    fn notify(&self, queue: &Arc<MainQueue>) {
        // SAFETY: posting to the window is allowed from any thread; if it is already gone the
        // call just fails.
        let posted = unsafe { PostMessageW(self.window as HWND, WM_RUN_FOREGROUND, 0, 0) };
        if posted == 0 {
            // The message queue is full or gone: the next post (or a `park` on the main
            // thread) tries again; the runnables stay queued meanwhile.
            queue.notification_lost();
        }
    }
}

/// Creates the queue and its message-only window; the calling thread becomes the main thread.
pub(super) fn new_main_queue() -> io::Result<Arc<MainQueue>> {
    let window = create_window()?;
    let queue = MainQueue::new(MessageWindow {
        main_thread: thread::current().id(),
        window: window as usize,
    });
    // The window keeps one strong count, released when it is destroyed (WM_NCDESTROY).
    let raw = Arc::into_raw(queue.clone());
    // SAFETY: `window` is the live window just created on this thread.
    unsafe { set_user_data(window, raw as isize) };
    Ok(queue)
}

/// Closes the queue (see `MainThreadQueue::close`) and destroys its window: now on the main
/// thread, through a posted message elsewhere (the main thread's message loop handles it).
pub(super) fn shut_down(queue: &Arc<MainQueue>) {
    queue.close();
    let window = queue.main_loop().window as HWND;
    if queue.is_main_thread() {
        // SAFETY: the window belongs to this thread; WM_NCDESTROY releases its strong count of
        // the queue while `queue` is still borrowed from another one (the scheduler's).
        unsafe { DestroyWindow(window) };
    } else {
        // SAFETY: posting to a window of another thread is allowed; if it is gone the call
        // just fails, and the leftovers are leaked by the queue's `Drop`.
        unsafe { PostMessageW(window, WM_SHUT_DOWN, 0, 0) };
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
            // Runs a batch (or, once the scheduler is gone, drops what is queued) and asks for
            // another message if work is left.
            queue.run_batch(BATCH);
            if message == WM_SHUT_DOWN {
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
