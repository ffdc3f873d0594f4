//! `schedule_after` on Win32 thread-pool timers: one one-shot timer object per delayed runnable.
//!
//! A pending timer is a [`Slot`] in [`Armed`], keyed by the runnable's task id and ordered by
//! deadline. Whoever removes a slot owns it:
//! - a timer callback whose own deadline has passed takes every due slot and runs them in
//!   deadline order (so a callback the pool dispatches late cannot make an earlier timer fire
//!   after a later one); it closes its own timer and releases the others;
//! - a canceller ([`TimerPool::cancel`], the pool's drop) drops the runnable unrun.
//!
//! Releasing a timer that is not the caller's own stops it, waits for a callback that may be
//! running (it finds no slot and returns at once: callbacks only ever wait for the map lock,
//! which is never held while waiting or running runnables), closes it and frees its context.
//! Each context holds a strong count of the shared state, so a late callback never sees freed
//! memory.

use super::error::win32_error;
use crate::scheduler::deadline_after;
use crate::task::runnable::run_contained;
use crate::{Runnable, TaskId};
use std::collections::{BTreeSet, HashMap};
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
    /// Stops the timer, waits out a running callback, closes the timer and frees the context;
    /// hands back the runnable. Not for the caller's own timer (it would wait for itself).
    fn release(self) -> Runnable {
        // SAFETY: the owner of this slot owns the live timer. A null due time stops new
        // callbacks; waiting (cancelling pending ones) guarantees that no callback still reads
        // `context` when it is freed. Callbacks never block on anything but the map lock, which
        // is not held here, so the wait is short.
        unsafe {
            SetThreadpoolTimer(self.timer, std::ptr::null(), 0, 0);
            WaitForThreadpoolTimerCallbacks(self.timer, TRUE);
            CloseThreadpoolTimer(self.timer);
            drop(Box::from_raw(self.context));
        }
        self.runnable
    }
}

/// The armed timers: by task id, and in deadline order.
#[derive(Default)]
struct Armed {
    by_id: HashMap<TaskId, Slot>,
    by_deadline: BTreeSet<(Instant, TaskId)>,
}

impl Armed {
    fn insert(&mut self, id: TaskId, slot: Slot) {
        self.by_deadline.insert((slot.deadline, id));
        // Only one runnable of a task exists at a time, so its id has no other pending timer.
        let replaced = self.by_id.insert(id, slot);
        debug_assert!(replaced.is_none(), "two pending timers for {id}");
    }

    fn remove(&mut self, id: TaskId) -> Option<Slot> {
        let slot = self.by_id.remove(&id)?;
        self.by_deadline.remove(&(slot.deadline, id));
        Some(slot)
    }

    /// Removes every slot due at `now`, earliest deadline first.
    fn take_due(&mut self, now: Instant) -> Vec<(TaskId, Slot)> {
        let mut due = Vec::new();
        while let Some(&(deadline, id)) = self.by_deadline.first() {
            if deadline > now {
                break;
            }
            self.by_deadline.pop_first();
            let slot = self
                .by_id
                .remove(&id)
                .expect("both indexes hold the same timers");
            due.push((id, slot));
        }
        due
    }

    fn drain(&mut self) -> Vec<Slot> {
        self.by_deadline.clear();
        self.by_id.drain().map(|(_, slot)| slot).collect()
    }
}

/// The pending timers, shared with the callbacks.
#[derive(Default)]
struct TimerShared {
    armed: Mutex<Armed>,
}

/// What `schedule_after` does once the pool is shut down: nothing is armed any more.
#[derive(Default)]
struct Closed(std::sync::atomic::AtomicBool);

impl TimerShared {
    fn armed(&self) -> MutexGuard<'_, Armed> {
        // A panic while holding the lock cannot leave the map half-updated: keep going.
        self.armed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a timer callback receives.
struct TimerContext {
    shared: Arc<TimerShared>,
    id: TaskId,
}

/// The timer half of the Windows scheduler, shared by its handles.
#[derive(Default)]
pub(super) struct TimerPool {
    shared: Arc<TimerShared>,
    /// Set by `shut_down`: timers scheduled afterwards are dropped at once (their `Timer` then
    /// reports that its scheduler is gone) instead of being armed.
    closed: Closed,
}

impl TimerPool {
    /// Runs `runnable` on a pool thread once `delay` has passed (never earlier).
    pub(super) fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        if self.is_closed() {
            drop(runnable);
            return;
        }
        let deadline = deadline_after(Instant::now(), delay);
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
        let mut armed = self.shared.armed();
        let slot = Slot {
            timer,
            runnable,
            deadline,
            context,
        };
        if self.is_closed() {
            // Shut down meanwhile: `shut_down` drained the map before this slot could join it.
            drop(armed);
            drop(slot.release());
            return;
        }
        armed.insert(id, slot);
        // Armed under the lock: the callback looks the slot up under the same lock.
        arm(timer, delay);
    }

    /// Releases the timer of task `id` if it has not fired: its runnable is dropped unrun.
    pub(super) fn cancel(&self, id: TaskId) {
        let slot = self.shared.armed().remove(id);
        if let Some(slot) = slot {
            drop(slot.release());
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.0.load(std::sync::atomic::Ordering::Acquire)
    }

    /// How many timers are armed.
    pub(super) fn pending(&self) -> usize {
        self.shared.armed().by_id.len()
    }
}

impl TimerPool {
    /// Closes every armed timer, dropping its runnable unrun, and refuses later ones.
    pub(super) fn shut_down(&self) {
        let slots = {
            // Under the map's lock, so a concurrent `schedule_after` either sees the flag or
            // has its slot drained here.
            let mut armed = self.shared.armed();
            self.closed
                .0
                .store(true, std::sync::atomic::Ordering::Release);
            armed.drain()
        };
        for slot in slots {
            // Timer runnables are `Send`: any thread may drop them.
            drop(slot.release());
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

/// The timer callback: once its own deadline has passed, runs every due timer in deadline
/// order.
unsafe extern "system" fn timer_callback(
    _instance: PTP_CALLBACK_INSTANCE,
    context: *mut c_void,
    timer: PTP_TIMER,
) {
    let context = context as *mut TimerContext;
    // SAFETY: the context is freed only by the slot's owner: by another thread after this
    // callback returned (it waits for callbacks), or by this callback itself, below.
    let (shared, own_id) = unsafe { ((*context).shared.clone(), (*context).id) };
    let mut armed = shared.armed();
    let Some(own) = armed.by_id.get(&own_id) else {
        // Cancelled, or already run by an earlier callback: its owner releases this timer.
        return;
    };
    let now = Instant::now();
    if now < own.deadline {
        // Fired early (the system clock ticks coarsely): wait out the rest.
        arm(timer, own.deadline - now);
        return;
    }
    let due = armed.take_due(now);
    drop(armed);
    for (id, slot) in due {
        if id == own_id {
            run_contained(slot.runnable);
            // SAFETY: this callback owns its own slot: closing its own timer from inside the
            // callback is allowed (the pool frees it once the callback returns), and no other
            // callback of this one-shot timer can run, so the context is freed exactly once and
            // not used afterwards.
            unsafe {
                CloseThreadpoolTimer(slot.timer);
                drop(Box::from_raw(slot.context));
            }
        } else {
            // Another due timer whose callback has not taken it yet: run it now, in order.
            run_contained(slot.release());
        }
    }
}
