//! A ready-made Win32 message loop for apps that have none: [`WindowsScheduler::run`],
//! [`WindowsScheduler::run_until`] and [`WindowsScheduler::quit`].

use super::WindowsScheduler;
use crate::{Scheduler, Task};
use std::future::Future;
use std::io;
use std::sync::Arc;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    DispatchMessageW, GetMessageW, MSG, PostThreadMessageW, TranslateMessage, WM_QUIT,
};

/// What one `GetMessageW` round gave.
enum Pumped {
    Dispatched,
    Quit(i32),
}

impl WindowsScheduler {
    /// Runs a standard message loop (`GetMessageW` / `TranslateMessage` / `DispatchMessageW`) on
    /// the main thread until `WM_QUIT` (see [`quit`](Self::quit)); returns its exit code.
    ///
    /// Panics off the main thread.
    pub fn run(&self) -> i32 {
        self.assert_main_thread("run");
        loop {
            if let Pumped::Quit(code) = pump_one() {
                return code;
            }
        }
    }

    /// Spawns `future` on the main thread and runs the message loop until it completes;
    /// returns its output. If `future` panics, the panic is re-raised here, naming the task. If
    /// `WM_QUIT` arrives first, the future is cancelled, the quit request is left for an outer
    /// loop, and the result is an `Interrupted` error carrying the exit code.
    ///
    /// Panics off the main thread.
    pub fn run_until<F>(self: &Arc<Self>, future: F) -> io::Result<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.assert_main_thread("run_until");
        let scheduler: Arc<dyn Scheduler> = self.clone();
        let task: Task<F::Output> = scheduler.spawn_foreground(future);
        while !task.is_finished() {
            if let Pumped::Quit(code) = pump_one() {
                drop(task);
                // Leave the quit request for an outer loop, as nested loops should.
                // SAFETY: posting WM_QUIT to the calling thread's own queue.
                unsafe { PostThreadMessageW(self.main_thread_id, WM_QUIT, code as usize, 0) };
                return Err(io::Error::new(
                    io::ErrorKind::Interrupted,
                    format!("WM_QUIT (exit code {code}) arrived before the future completed"),
                ));
            }
        }
        // Finished: this returns the output at once, or re-raises the future's panic.
        Ok(scheduler.block(task))
    }

    /// Makes the main thread's message loop return (posts `WM_QUIT` with `exit_code`). Callable
    /// from any thread.
    pub fn quit(&self, exit_code: i32) {
        // SAFETY: the main thread has a message queue (it created the scheduler's window).
        let posted =
            unsafe { PostThreadMessageW(self.main_thread_id, WM_QUIT, exit_code as usize, 0) };
        assert!(
            posted != 0,
            "{}",
            super::error::win32_error("PostThreadMessageW(WM_QUIT)")
        );
    }

    fn assert_main_thread(&self, call: &str) {
        assert!(
            self.is_main_thread(),
            "WindowsScheduler::{call} must be called on the thread that created the scheduler"
        );
    }
}

/// Waits for one message and dispatches it.
fn pump_one() -> Pumped {
    // SAFETY: MSG is a plain C struct, valid when zeroed.
    let mut message: MSG = unsafe { std::mem::zeroed() };
    // SAFETY: `message` is a valid out-pointer; a null window means any message of this thread.
    let result = unsafe { GetMessageW(&mut message, std::ptr::null_mut(), 0, 0) };
    match result {
        0 => Pumped::Quit(message.wParam as i32),
        -1 => panic!("{}", super::error::win32_error("GetMessageW")),
        _ => {
            // SAFETY: `message` was filled in by GetMessageW.
            unsafe {
                TranslateMessage(&message);
                DispatchMessageW(&message);
            }
            Pumped::Dispatched
        }
    }
}
