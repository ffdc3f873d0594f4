//! The session that is current on this thread.
//!
//! A task spawned while a session is current belongs to it, and while a task of a session is
//! polled that session is current again, so the tasks it spawns belong to it too. This is what
//! lets the cloud layer attribute every task of a request to that request, whichever executor
//! spawned it.
//!
//! The same thread-local cell holds the polled task's [`Priority`] too (one cell, so entering a
//! task for a poll is one thread-local access): what [`Priority::current`] reads and what a task
//! spawned there inherits.
//!
//! ```
//! use scheduler::{SessionId, session};
//! let id = SessionId::from_raw(7);
//! assert_eq!(session::current(), None);
//! session::with(Some(id), || assert_eq!(session::current(), Some(id)));
//! assert_eq!(session::current(), None);
//! ```

use crate::{Priority, SessionId, TaskMetadata};
use std::cell::Cell;

/// The context of the task being polled on a thread (outside tasks: no session, medium).
#[derive(Clone, Copy)]
pub(crate) struct Context {
    pub(crate) session: Option<SessionId>,
    pub(crate) priority: Priority,
}

const OUTSIDE: Context = Context {
    session: None,
    priority: Priority::Medium,
};

#[cfg(not(all(wasm, not(target_feature = "atomics"))))]
thread_local! {
    static CURRENT: Cell<Context> = const { Cell::new(OUTSIDE) };
}

/// Runs `f` on this thread's current-context cell.
#[cfg(not(all(wasm, not(target_feature = "atomics"))))]
#[inline]
fn with_current<R>(f: impl FnOnce(&Cell<Context>) -> R) -> R {
    CURRENT.with(f)
}

/// On wasm32 without atomics the only thread's cell is a plain static: every task poll enters
/// its session, and std's thread-local access costs about 5 ns per poll there (measured with
/// `scripts/bench-wasm.sh diagnose`).
#[cfg(all(wasm, not(target_feature = "atomics")))]
struct SingleThreadCell(Cell<Context>);

// SAFETY: without the `atomics` target feature, wasm32 code runs on exactly one thread, so the
// cell is never reached from two threads.
#[cfg(all(wasm, not(target_feature = "atomics")))]
unsafe impl Sync for SingleThreadCell {}

#[cfg(all(wasm, not(target_feature = "atomics")))]
static CURRENT: SingleThreadCell = SingleThreadCell(Cell::new(OUTSIDE));

/// Runs `f` on the current-context cell of the only thread.
#[cfg(all(wasm, not(target_feature = "atomics")))]
#[inline]
fn with_current<R>(f: impl FnOnce(&Cell<Context>) -> R) -> R {
    f(&CURRENT.0)
}

/// The session current on this thread, if any.
pub fn current() -> Option<SessionId> {
    with_current(|current| current.get().session)
}

/// Makes `session` current on this thread and returns the previous one.
///
/// Prefer [`with`], which restores the previous session even if the closure panics.
pub fn set_current(session: Option<SessionId>) -> Option<SessionId> {
    with_current(|current| {
        let previous = current.get();
        current.set(Context {
            session,
            ..previous
        });
        previous.session
    })
}

/// The session and priority current on this thread (one access), for a spawn.
#[inline]
pub(crate) fn current_context() -> Context {
    with_current(Cell::get)
}

impl Priority {
    /// The priority of the task being polled on this thread; [`Medium`](Priority::Medium)
    /// outside any task. This is what a task spawned here inherits (a realtime task's
    /// children inherit [`High`](Priority::High)).
    ///
    /// (Defined here, beside the thread's current-context cell it reads.)
    pub fn current() -> Priority {
        with_current(|current| current.get().priority)
    }
}

/// Runs `f` with `session` current, then restores the previous session (also on panic).
pub fn with<R>(session: Option<SessionId>, f: impl FnOnce() -> R) -> R {
    let _guard = enter(session);
    f()
}

/// Restores the previous session when dropped.
pub(crate) struct SessionGuard(Option<SessionId>);

/// Makes `session` current until the returned guard is dropped.
pub(crate) fn enter(session: Option<SessionId>) -> SessionGuard {
    SessionGuard(set_current(session))
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        set_current(self.0);
    }
}

/// Restores the previous context when dropped.
pub(crate) struct TaskGuard(Context);

/// Makes the task of `metadata` current (its session and priority) until the returned guard is
/// dropped: for each poll of a task, and for its drop.
#[inline]
pub(crate) fn enter_task(metadata: &TaskMetadata) -> TaskGuard {
    let context = Context {
        session: metadata.session(),
        priority: metadata.priority(),
    };
    TaskGuard(with_current(|current| current.replace(context)))
}

impl Drop for TaskGuard {
    #[inline]
    fn drop(&mut self) {
        let previous = self.0;
        with_current(|current| current.set(previous));
    }
}
