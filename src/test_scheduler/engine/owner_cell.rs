//! [`OwnerCell`]: state that only one thread (the test thread) may touch, without atomics.
//!
//! A `TestScheduler` must be `Sync` (wakers may be called anywhere), yet all of its scheduling
//! state is used by the test thread alone. A mutex would cost two atomic operations per access,
//! several times per task poll. This cell instead checks the calling thread (a thread-local read)
//! and a non-atomic borrow flag: wrong-thread use is a clear panic, re-entrant use a panic, and
//! neither can race.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::thread::ThreadId;

pub(crate) struct OwnerCell<T> {
    owner: ThreadId,
    borrowed: UnsafeCell<bool>,
    value: UnsafeCell<T>,
}

// SAFETY: `value` and `borrowed` are only read or written through `borrow_mut`, which first
// checks that the caller is the owner thread; so at most one thread ever accesses them, and
// sharing `&OwnerCell` across threads cannot cause a data race. `T: Send` because the cell (and
// so `T`) may be dropped on another thread.
unsafe impl<T: Send> Sync for OwnerCell<T> {}

impl<T> OwnerCell<T> {
    /// A cell owned by `owner`.
    pub(crate) fn new(owner: ThreadId, value: T) -> Self {
        Self {
            owner,
            borrowed: UnsafeCell::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Whether `thread` is the owner.
    #[inline]
    pub(crate) fn is_owner(&self, thread: ThreadId) -> bool {
        thread == self.owner
    }

    /// Exclusive access, for the owner thread only (`current` is the caller's thread id).
    ///
    /// Panics on another thread, or if a borrow is already alive (re-entrancy).
    #[inline]
    pub(crate) fn borrow_mut(&self, current: ThreadId, what: &str) -> OwnerGuard<'_, T> {
        if current != self.owner {
            wrong_thread(what);
        }
        // SAFETY: we are on the owner thread (checked above), the only thread that touches
        // `borrowed`; no reference to it outlives this function or `OwnerGuard::drop`.
        let borrowed = unsafe { &mut *self.borrowed.get() };
        if *borrowed {
            already_borrowed(what);
        }
        *borrowed = true;
        OwnerGuard {
            cell: self,
            not_send: PhantomData,
        }
    }
}

impl<T> OwnerCell<T> {
    /// Exclusive access if `current` is the owner thread (`None` on any other thread).
    ///
    /// Panics if a borrow is already alive (re-entrancy).
    #[inline]
    pub(crate) fn borrow_if_owner(
        &self,
        current: ThreadId,
        what: &str,
    ) -> Option<OwnerGuard<'_, T>> {
        (current == self.owner).then(|| self.borrow_mut(current, what))
    }
}

#[cold]
#[inline(never)]
fn wrong_thread(what: &str) -> ! {
    panic!(
        "{what}: a TestScheduler is driven from the thread that created it (the test thread); \
         it was called from {:?}",
        std::thread::current().name().unwrap_or("an unnamed thread")
    )
}

#[cold]
#[inline(never)]
fn already_borrowed(what: &str) -> ! {
    panic!("{what}: the TestScheduler's state is already borrowed (re-entrant call)")
}

/// Proof of exclusive access; releases the borrow when dropped. Neither `Send` nor `Sync`, so it
/// never leaves the owner thread.
pub(crate) struct OwnerGuard<'a, T> {
    cell: &'a OwnerCell<T>,
    not_send: PhantomData<*const ()>,
}

impl<T> Deref for OwnerGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a guard is created only by `borrow_mut` on the owner thread, which set
        // `borrowed`; it cannot leave that thread (`!Send`), and no second guard can be created
        // until this one is dropped. So this is the only access to `value` while it lives.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> DerefMut for OwnerGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only live reference from this guard.
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T> Drop for OwnerGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard never leaves the owner thread (`!Send`), the only thread touching
        // `borrowed`.
        unsafe { *self.cell.borrowed.get() = false };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Arc;

    fn me() -> ThreadId {
        std::thread::current().id()
    }

    #[test]
    fn the_owner_borrows_repeatedly_but_not_reentrantly() {
        let cell = OwnerCell::new(me(), vec![1]);
        cell.borrow_mut(me(), "push").push(2);
        assert_eq!(*cell.borrow_mut(me(), "read"), [1, 2]);
        let guard = cell.borrow_mut(me(), "outer");
        let nested = catch_unwind(AssertUnwindSafe(|| drop(cell.borrow_mut(me(), "inner"))));
        assert!(nested.is_err(), "a second borrow while one is alive panics");
        drop(guard);
        assert_eq!(
            cell.borrow_mut(me(), "after").len(),
            2,
            "usable again afterwards"
        );
    }

    #[test]
    fn another_thread_is_refused_with_a_clear_message() {
        let cell = Arc::new(OwnerCell::new(me(), 5u32));
        let other = cell.clone();
        let outcome = std::thread::spawn(move || {
            let id = std::thread::current().id();
            catch_unwind(AssertUnwindSafe(|| *other.borrow_mut(id, "tick")))
        })
        .join()
        .unwrap();
        let payload = outcome.unwrap_err();
        let message = payload.downcast_ref::<String>().unwrap();
        assert!(
            message.contains("tick: a TestScheduler is driven from the thread"),
            "{message}"
        );
        assert_eq!(*cell.borrow_mut(me(), "owner"), 5);
    }
}
