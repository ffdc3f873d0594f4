//! Identity of a task: [`TaskId`], [`TaskLabel`], [`SessionId`] and the [`TaskMetadata`] every
//! [`Runnable`](crate::Runnable) carries.

use crate::Priority;
use std::fmt;
use std::num::NonZeroU64;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

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
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TaskLabel {
    id: NonZeroU64,
    name: Option<&'static str>,
}

static NEXT_LABEL: AtomicU64 = AtomicU64::new(1);

impl TaskLabel {
    /// A new label, different from every other label in the process.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self::make(None)
    }

    /// A new unique label with a name that reports and traces print.
    pub fn named(name: &'static str) -> Self {
        Self::make(Some(name))
    }

    fn make(name: Option<&'static str>) -> Self {
        let raw = NEXT_LABEL.fetch_add(1, Ordering::Relaxed);
        Self {
            id: NonZeroU64::new(raw).expect("label counter overflowed"),
            name,
        }
    }

    /// The name given to [`TaskLabel::named`], if any.
    pub fn name(&self) -> Option<&'static str> {
        self.name
    }
}

impl fmt::Display for TaskLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(name) => f.write_str(name),
            None => write!(f, "label#{}", self.id),
        }
    }
}

/// Identifies a session: one simulated or real request in the cloud, or one foreground "app" in
/// a test. Tasks spawned while a session is current belong to it (see [`crate::session`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct SessionId(u64);

impl SessionId {
    /// Wraps a raw id. Whoever creates sessions numbers them.
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw number behind this id.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session#{}", self.0)
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
