//! Identity of a task: [`TaskId`], [`TaskLabel`], [`SessionId`] and the [`TaskMetadata`] every
//! [`Runnable`](crate::Runnable) carries.

use crate::Priority;
use std::fmt;
use std::num::NonZeroU64;
use std::panic::Location;
use std::sync::Mutex;

/// Identifies one task for the life of its scheduler.
///
/// Ids come from the scheduler ([`Scheduler::next_task_id`](crate::Scheduler::next_task_id)), so a
/// [`TestScheduler`](crate::TestScheduler) hands out the same ids for the same seed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TaskId(u64);

impl TaskId {
    /// Wraps a raw id. Schedulers use this to number their tasks.
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw number behind this id.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task#{}", self.0)
    }
}

/// A label attached to tasks spawned with `spawn_labeled`.
///
/// Every label is unique. Production schedulers ignore labels; the
/// [`TestScheduler`](crate::TestScheduler) can [`deprioritize`](crate::TestScheduler::deprioritize)
/// them, and leak reports print them.
///
/// ```
/// use scheduler::TaskLabel;
/// let a = TaskLabel::new();
/// let b = TaskLabel::named("indexer");
/// assert_ne!(a, b);
/// assert_eq!(b.to_string(), "indexer");
/// ```
#[derive(Clone, Copy)]
pub struct TaskLabel(&'static LabelInfo);

/// What a label is: made once per label and kept for the process's life, so a label is one
/// pointer (8 bytes in every task's metadata, also as `Option<TaskLabel>`).
#[derive(Debug)]
struct LabelInfo {
    id: u64,
    name: Option<&'static str>,
}

/// Every label ever made, in creation order. A label's id is one more than its index. Keeping
/// them here also keeps them reachable from a static, so leak checkers (Miri, Valgrind) see
/// labels as the process-lifetime values they are rather than as leaks.
static ALL_LABELS: Mutex<Vec<&'static LabelInfo>> = Mutex::new(Vec::new());

impl TaskLabel {
    /// A new label, different from every other label in the process. Labels are meant to be
    /// made once per kind of work (each keeps 24 bytes for the life of the process).
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self::make(None)
    }

    /// A new unique label with a name that reports and traces print.
    pub fn named(name: &'static str) -> Self {
        Self::make(Some(name))
    }

    fn make(name: Option<&'static str>) -> Self {
        let mut all = ALL_LABELS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let id = all.len() as u64 + 1;
        let info: &'static LabelInfo = Box::leak(Box::new(LabelInfo { id, name }));
        all.push(info);
        Self(info)
    }

    /// The name given to [`TaskLabel::named`], if any.
    pub fn name(&self) -> Option<&'static str> {
        self.0.name
    }
}

impl PartialEq for TaskLabel {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for TaskLabel {}

impl std::hash::Hash for TaskLabel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

impl fmt::Debug for TaskLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.name {
            Some(name) => write!(f, "TaskLabel({name:?})"),
            None => write!(f, "TaskLabel(#{})", self.0.id),
        }
    }
}

impl fmt::Display for TaskLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.name {
            Some(name) => f.write_str(name),
            None => write!(f, "label#{}", self.0.id),
        }
    }
}

/// Identifies a session: one simulated or real request in the cloud, or one foreground "app" in
/// a test. Tasks spawned while a session is current belong to it (see [`crate::session`]).
///
/// Session ids start at 1 (`Option<SessionId>` then takes no more room than the id).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct SessionId(NonZeroU64);

impl SessionId {
    /// Wraps a raw id. Whoever creates sessions numbers them, from 1; panics on 0.
    pub const fn from_raw(raw: u64) -> Self {
        match NonZeroU64::new(raw) {
            Some(raw) => Self(raw),
            None => panic!("session ids start at 1"),
        }
    }

    /// The raw number behind this id.
    pub const fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session#{}", self.0.get())
    }
}

/// What kind of work a runnable is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TaskKind {
    /// Spawned with `spawn` / `spawn_labeled`: may run on any background thread.
    Background,
    /// Spawned with `spawn_foreground`: runs on the main thread only.
    Foreground,
    /// The internal runnable behind a [`Timer`](crate::Timer); it only wakes the timer.
    Timer,
    /// Spawned on a dedicated executor (`spawn_dedicated`, [`DedicatedExecutor`](crate::DedicatedExecutor)):
    /// runs on that executor's own thread only (the test thread under the `TestScheduler`).
    Dedicated,
}

/// What every [`Runnable`](crate::Runnable) carries: who it is and where it was spawned.
#[derive(Clone, Copy, Debug)]
pub struct TaskMetadata {
    id: TaskId,
    label: Option<TaskLabel>,
    session: Option<SessionId>,
    location: &'static Location<'static>,
    kind: TaskKind,
    priority: Priority,
}

impl TaskMetadata {
    /// Metadata for a new task, of [`Priority::Medium`] (see [`with_priority`](Self::with_priority)).
    /// The spawn helpers build this; backends only read it.
    pub fn new(
        id: TaskId,
        label: Option<TaskLabel>,
        session: Option<SessionId>,
        location: &'static Location<'static>,
        kind: TaskKind,
    ) -> Self {
        Self {
            id,
            label,
            session,
            location,
            kind,
            priority: Priority::Medium,
        }
    }

    /// The same metadata with `priority`.
    pub const fn with_priority(self, priority: Priority) -> Self {
        Self { priority, ..self }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The label given to `spawn_labeled`, if any.
    pub fn label(&self) -> Option<TaskLabel> {
        self.label
    }

    /// The session that was current when the task was spawned, if any.
    pub fn session(&self) -> Option<SessionId> {
        self.session
    }

    /// Where the task was spawned (the caller of `spawn`, through `#[track_caller]`).
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// Background, foreground, timer or dedicated.
    pub fn kind(&self) -> TaskKind {
        self.kind
    }

    /// The task's priority: given to `spawn_with_priority`, else inherited from the task that
    /// spawned it, else [`Priority::Medium`].
    pub fn priority(&self) -> Priority {
        self.priority
    }
}

impl fmt::Display for TaskMetadata {
    /// `task#7 [label indexer] (session#2) spawned at src/app.rs:10:5`; a priority other than
    /// medium shows too: `task#9 low-priority spawned at src/app.rs:12:5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)?;
        if let Some(label) = self.label {
            write!(f, " [label {label}]")?;
        }
        if let Some(session) = self.session {
            write!(f, " ({session})")?;
        }
        match self.kind {
            TaskKind::Foreground => f.write_str(" foreground")?,
            TaskKind::Dedicated => f.write_str(" dedicated")?,
            TaskKind::Background | TaskKind::Timer => {}
        }
        if self.priority != Priority::Medium {
            write!(f, " {}-priority", self.priority)?;
        }
        write!(f, " spawned at {}", self.location)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every task carries its metadata once, in its header: it stays small.
    #[test]
    fn metadata_is_small() {
        assert_eq!(std::mem::size_of::<Option<TaskLabel>>(), 8);
        assert_eq!(std::mem::size_of::<Option<SessionId>>(), 8);
        assert!(
            std::mem::size_of::<TaskMetadata>() <= 40,
            "{}",
            std::mem::size_of::<TaskMetadata>()
        );
    }

    #[test]
    fn labels_are_unique_and_keep_their_names() {
        let (a, b) = (TaskLabel::named("a"), TaskLabel::named("a"));
        assert_ne!(a, b, "two labels with one name are still two labels");
        assert_eq!(a, a);
        assert_eq!((a.name(), a.to_string()), (Some("a"), "a".to_string()));
        assert!(TaskLabel::new().to_string().starts_with("label#"));
    }
}
