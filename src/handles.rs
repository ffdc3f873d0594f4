//! A backend's two handles: the owning one the app holds, whose drop shuts the backend down, and
//! the one its tasks hold (see [`Scheduler::task_handle`]). Both are the same type over the same
//! shared queues; only their [`Role`] differs.

use crate::Scheduler;
use std::sync::Arc;

/// Which of a backend's two handles a value is.
pub(crate) enum Role<S> {
    /// The handle the app holds; it keeps the handle its tasks get.
    Owner(Arc<S>),
    /// The handle tasks hold: dropping it shuts nothing down.
    Tasks,
}

impl<S: Scheduler> Role<S> {
    /// What `Scheduler::task_handle` returns for a handle of this role.
    pub(crate) fn task_handle(&self, spawned_on: &Arc<dyn Scheduler>) -> Arc<dyn Scheduler> {
        match self {
            Role::Owner(tasks) => tasks.clone(),
            Role::Tasks => spawned_on.clone(),
        }
    }

    /// Whether this is the owning handle.
    pub(crate) fn is_owner(&self) -> bool {
        matches!(self, Role::Owner(_))
    }

    /// For a backend's `Drop`: whether this was the owning handle (it must shut the backend
    /// down). Releases the task handle it kept.
    pub(crate) fn release(&mut self) -> bool {
        matches!(std::mem::replace(self, Role::Tasks), Role::Owner(_))
    }
}

/// Builds a backend's two handles over shared parts: `make` is called once for the tasks'
/// handle, then once for the owning handle, which is returned.
pub(crate) fn pair<S: Scheduler>(mut make: impl FnMut(Role<S>) -> S) -> Arc<S> {
    let tasks = Arc::new(make(Role::Tasks));
    Arc::new(make(Role::Owner(tasks)))
}
