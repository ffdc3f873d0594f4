//! `schedule_after` on Win32 thread-pool timers: one one-shot timer object per delayed runnable.
//!
//! A pending timer is a [`Slot`] in a map keyed by the runnable's task id. Whoever removes the
//! slot owns it: the timer's callback (it runs the runnable, then closes its own timer) or a
//! canceller ([`TimerPool::cancel`], the pool's drop), which stops the timer, waits for a
//! callback that may be running (it finds no slot and returns at once), closes it, and drops the
//! runnable unrun. Each callback context holds a strong count of the shared state, so a late
//! callback never sees freed memory.

use super::win32_error;
use crate::platform::guarded_run::run_guarded;
use crate::{Runnable, TaskId};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation::{FILETIME, TRUE};
use windows_sys::Win32::System::Threading::{
    CloseThreadpoolTimer, CreateThreadpoolTimer, PTP_CALLBACK_INSTANCE, PTP_TIMER,
    SetThreadpoolTimer, WaitForThreadpoolTimerCallbacks,
};

/// One armed timer.
struct Slot {
    timer: PTP_TIMER,
    runnable: Runnable,
    deadline: Instant,
    /// The callback's context, freed by whoever owns the slot once no callback can use it.
    context: *mut TimerContext,
}

// SAFETY: `timer` is a thread-pool handle usable from any thread, and `context` is only
// dereferenced by the timer's callback or freed by the slot's single owner.
unsafe impl Send for Slot {}

impl Slot {
    /// Stops the timer, waits out a running callback, closes the timer and frees the context.
    /// The runnable is dropped unrun (timer runnables are `Send`: any thread may drop them).
    fn cancel(self) {
        // SAFETY: this slot owns the live timer. A null due time stops new callbacks; waiting
        // (cancelling pending ones) guarantees that no callback still reads `context` when it is
        // freed. The callback never blocks on anything the canceller holds (the map lock is
        // released), so the wait is short.
        unsafe {
            SetThreadpoolTimer(self.timer, std::ptr::null(), 0, 0);
            WaitForThreadpoolTimerCallbacks(self.timer, TRUE);
            CloseThreadpoolTimer(self.timer);
            drop(Box::from_raw(self.context));
        }
        drop(self.runnable);
    }
}

/// The pending timers, shared with the callbacks.
#[derive(Default)]
struct TimerShared {
    slots: Mutex<HashMap<TaskId, Slot>>,
}

impl TimerShared {
    fn slots(&self) -> MutexGuard<'_, HashMap<TaskId, Slot>> {
        // A panic while holding the lock cannot leave the map half-updated: keep going.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a timer callback receives.
struct TimerContext {
    shared: Arc<TimerShared>,
    id: TaskId,
}

/// The timer half of the Windows scheduler.
#[derive(Default)]
pub(super) struct TimerPool {
    shared: Arc<TimerShared>,
}

impl TimerPool {
    /// Runs `runnable` on a pool thread once `delay` has passed (never earlier).
    pub(super) fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        let deadline = Instant::now() + delay;
        let id = runnable.metadata().id();
        let context = Box::into_raw(Box::new(TimerContext {
            shared: self.shared.clone(),
            id,
        }));
        // SAFETY: `timer_callback` matches PTP_TIMER_CALLBACK; `context` stays valid until the
        // slot's owner frees it after the last callback; null environment = process pool.
        let timer = unsafe {
            CreateThreadpoolTimer(
                Some(timer_callback),
                context as *mut c_void,
                std::ptr::null(),
            )
        };
        if timer == 0 {
            // SAFETY: no timer exists, so nothing else holds `context`.
            drop(unsafe { Box::from_raw(context) });
            panic!(
                "{}; cannot schedule {} after {delay:?}",
                win32_error("CreateThreadpoolTimer"),
                runnable.metadata()
            );
        }
        let mut slots = self.shared.slots();
        let slot = Slot {
            timer,
            runnable,
            deadline,
            context,
        };
        // Only one runnable of a task exists at a time, so its id has no other pending timer.
        let replaced = slots.insert(id, slot);
        debug_assert!(replaced.is_none(), "two pending timers for {id}");
        // Armed under the lock: the callback looks the slot up under the same lock.
        arm(timer, delay);
    }

    /// Releases the timer of task `id` if it has not fired: its runnable is dropped unrun.
    pub(super) fn cancel(&self, id: TaskId) {
        let slot = self.shared.slots().remove(&id);
        if let Some(slot) = slot {
            slot.cancel();
        }
    }

    /// How many timers are armed.
    pub(super) fn pending(&self) -> usize {
        self.shared.slots().len()
    }
}

impl Drop for TimerPool {
    fn drop(&mut self) {
        let slots: Vec<Slot> = self.shared.slots().drain().map(|(_, slot)| slot).collect();
        for slot in slots {
            slot.cancel();
        }
    }
}

/// Sets `timer` to fire once, `delay` from now (rounded up to the 100 ns the API counts in).
fn arm(timer: PTP_TIMER, delay: Duration) {
    let ticks = delay.as_nanos().div_ceil(100).clamp(1, i64::MAX as u128) as i64;
    // A negative due time is relative to now.
    let due = (-ticks) as u64;
    let due = FILETIME {
        dwLowDateTime: due as u32,
        dwHighDateTime: (due >> 32) as u32,
    };
    // SAFETY: `timer` is a live timer owned by a slot in the map (the caller holds its lock);
    // `due` outlives the call. Period 0 = one-shot; window 0 = no coalescing.
    unsafe { SetThreadpoolTimer(timer, &due, 0, 0) };
}

/// The timer callback: runs the slot's runnable once its deadline has passed.
unsafe extern "system" fn timer_callback(
    _instance: PTP_CALLBACK_INSTANCE,
    context: *mut c_void,
    timer: PTP_TIMER,
) {
    let context = context as *mut TimerContext;
    // SAFETY: the context is freed only by the slot's owner, after this callback returned
    // (a canceller waits for callbacks) or by this callback itself, below.
    let (shared, id) = unsafe { ((*context).shared.clone(), (*context).id) };
    let mut slots = shared.slots();
    let Some(slot) = slots.get(&id) else {
        // Cancelled: the canceller closes the timer and frees the context.
        return;
    };
    let now = Instant::now();
    if now < slot.deadline {
        // Fired early (the system clock ticks coarsely): wait out the rest.
        arm(timer, slot.deadline - now);
        return;
    }
    let slot = slots
        .remove(&id)
        .expect("slot looked up under the same lock");
    drop(slots);
    run_guarded(slot.runnable);
    // SAFETY: this callback owns the slot: closing its own timer from inside the callback is
    // allowed (the pool frees it once the callback returns), and no other callback of this
    // one-shot timer can run, so the context is freed exactly once and not used afterwards.
    unsafe {
        CloseThreadpoolTimer(slot.timer);
        drop(Box::from_raw(slot.context));
    }
}
