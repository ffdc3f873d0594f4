//! Identity of a task: [`TaskId`], [`TaskLabel`], [`SessionId`] and the [`TaskMetadata`] every
//! [`Runnable`](crate::Runnable) carries.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU64;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

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
/// Labels are interned: [`named`](TaskLabel::named) with the same text gives the same label
/// (the text is kept once, however often it is named), and [`new`](TaskLabel::new) gives a fresh
/// unnamed label that costs no memory, so either may be called in a loop. Production schedulers
/// ignore labels; the [`TestScheduler`](crate::TestScheduler) can
/// [`deprioritize`](crate::TestScheduler::deprioritize) them, and leak reports print them.
///
/// ```
/// use scheduler::TaskLabel;
/// let a = TaskLabel::new();
/// let b = TaskLabel::named("indexer");
/// assert_ne!(a, b);
/// assert_ne!(a, TaskLabel::new(), "each `new` label is a label of its own");
/// assert_eq!(b, TaskLabel::named("indexer"), "the same text, the same label");
/// assert_eq!(b.to_string(), "indexer");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskLabel(NonZeroU64);

/// Set in the number of a named label: the rest is its index in [`NAMES`] (an unnamed label's
/// number is a count of its own, from 1).
const NAMED: u64 = 1 << 63;

/// The text of every named label, by index (each text once), and the index of each text.
static NAMES: RwLock<Vec<&'static str>> = RwLock::new(Vec::new());
static INDEX: Mutex<Option<HashMap<&'static str, u64>>> = Mutex::new(None);
/// The number of the last unnamed label.
static UNNAMED: AtomicU64 = AtomicU64::new(0);

impl TaskLabel {
    /// A fresh unnamed label, different from every other label in the process (it takes no
    /// memory: a number).
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let number = UNNAMED.fetch_add(1, Ordering::Relaxed) + 1;
        Self(NonZeroU64::new(number & !NAMED).unwrap_or(NonZeroU64::MIN))
    }

    /// The label named `name`, printed by reports and traces: the same label for the same text
    /// (interned: each text is kept once).
    pub fn named(name: &'static str) -> Self {
        let mut index = INDEX.lock().unwrap_or_else(PoisonError::into_inner);
        let index = index.get_or_insert_with(HashMap::new);
        let number = *index.entry(name).or_insert_with(|| {
            let mut names = NAMES.write().unwrap_or_else(PoisonError::into_inner);
            names.push(name);
            names.len() as u64 - 1
        });
        Self(NonZeroU64::new(number | NAMED).expect("NAMED is set"))
    }

    /// The name given to [`TaskLabel::named`], if any.
    pub fn name(&self) -> Option<&'static str> {
        let number = self.0.get();
        if number & NAMED == 0 {
            return None;
        }
        let names = NAMES.read().unwrap_or_else(PoisonError::into_inner);
        names.get((number & !NAMED) as usize).copied()
    }
}

impl fmt::Debug for TaskLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "TaskLabel({name:?})"),
            None => write!(f, "TaskLabel(#{})", self.0),
        }
    }
}

impl fmt::Display for TaskLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "label#{}", self.0),
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
    fn labels_are_interned_by_name_and_unnamed_ones_are_unique() {
        let (a, b) = (TaskLabel::named("a"), TaskLabel::named("a"));
        assert_eq!(a, b, "one text, one label");
        assert_ne!(a, TaskLabel::named("b"));
        assert_eq!((a.name(), a.to_string()), (Some("a"), "a".to_string()));
        let unnamed = TaskLabel::new();
        assert_ne!(unnamed, TaskLabel::new());
        assert_eq!(unnamed.name(), None);
        assert!(unnamed.to_string().starts_with("label#"));
        assert_eq!(std::mem::size_of::<Option<TaskLabel>>(), 8);
    }

    /// Issue 20: `TaskLabel::new` in a loop leaked about 40 bytes per label (every label was
    /// kept for the process's life). Unnamed labels are numbers now, and named ones are kept
    /// once per text: a loop of either keeps nothing more.
    #[test]
    fn labels_made_in_a_loop_keep_no_memory() {
        let names = || NAMES.read().unwrap().len();
        TaskLabel::named("loop");
        let before = names();
        for _ in 0..10_000 {
            TaskLabel::new();
            TaskLabel::named("loop");
        }
        // Tests running beside this one may intern a few texts of their own meanwhile; one
        // kept per iteration would be 10,000.
        assert!(names() < before + 100, "{before} -> {}", names());
    }
}

// ---- priority ------------------------------------------------------------------------------------
// [`Priority`]: how urgent a task is, carried in its [`TaskMetadata`](crate::TaskMetadata) and
// inherited by the tasks it spawns.

/// How urgent a task is. The default is [`Medium`](Priority::Medium).
///
/// A task spawned from inside a task gets its parent's priority unless it is given one
/// (`spawn_with_priority`); a realtime task's children get [`High`](Priority::High) (the
/// realtime class is one OS thread per task, not something to multiply by accident). What
/// each backend does with it:
///
/// | backend | High / Medium / Low | Realtime |
/// | --- | --- | --- |
/// | `LinuxScheduler` | bands served high first; under contention a worker's runs split 60/30/10, so low still progresses | a dedicated thread with `SCHED_FIFO` |
/// | `WindowsScheduler` | thread-pool callback priorities (`TP_CALLBACK_PRIORITY_HIGH/NORMAL/LOW`) | a dedicated thread at `THREAD_PRIORITY_TIME_CRITICAL` |
/// | `GcdScheduler` | global queues of QoS user-initiated / default / utility | a dedicated thread of QoS user-interactive |
/// | `WasmScheduler` | high runs first in each microtask drain; low runs only in macrotask drains (`scheduler.postTask` with priority `background` where the host has it) | as High (no threads) |
/// | `TestScheduler` | a random pick weighted 60/30/10 between bands, deterministic per seed | simulated, as High |
///
/// Foreground tasks carry a priority too (inherited), but a main thread runs its queue in order.
///
/// Where the OS refuses a raised priority (no `CAP_SYS_NICE`, an `RLIMIT_RTPRIO` of 0, …) the
/// realtime thread runs at normal priority after one warning on stderr: never an error.
///
/// ```
/// use scheduler::{Priority, TestScheduler};
/// let test = TestScheduler::with_seed(1);
/// let background = test.background();
/// let task = background.spawn_with_priority(Priority::Low, {
///     let background = background.clone();
///     async move {
///         assert_eq!(Priority::current(), Priority::Low);
///         // Spawned from a low task: low too.
///         background.spawn(async { Priority::current() }).await
///     }
/// });
/// assert_eq!(task.metadata().unwrap().priority(), Priority::Low);
/// assert_eq!(test.block(task), Priority::Low);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
#[repr(u8)]
pub enum Priority {
    /// Background work that may wait: indexing, syncing, prefetching.
    Low = 0,
    /// Ordinary work (the default).
    #[default]
    Medium = 1,
    /// Work a user is waiting for: the result of a keystroke, a visible redraw.
    High = 2,
    /// Deadline work (audio, input): its own OS thread at raised OS priority where allowed.
    Realtime = 3,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Medium,
        Priority::High,
        Priority::Realtime,
    ];

    /// The relative weight of the priority's band: 60 (High, and Realtime where it is simulated
    /// or has no thread), 30 (Medium), 10 (Low). The `TestScheduler` picks between bands with
    /// these weights, and the `LinuxScheduler`'s workers split their runs this way under
    /// contention.
    pub const fn weight(self) -> u32 {
        match self {
            Priority::Low => 10,
            Priority::Medium => 30,
            Priority::High | Priority::Realtime => 60,
        }
    }

    /// What a task spawned by a task of this priority gets when it is given none.
    pub(crate) fn inherited(self) -> Priority {
        match self {
            Priority::Realtime => Priority::High,
            other => other,
        }
    }

    /// Its lowercase name: `low`, `medium`, `high`, `realtime`.
    pub const fn name(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Realtime => "realtime",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---- task_ids ------------------------------------------------------------------------------------
// Task ids without a contended counter: each thread reserves a block of ids from one global
// counter and hands them out locally, so spawning threads do not share a cache line per spawn.
// Ids stay unique process-wide (they are not dense or ordered across threads).

/// How many ids a thread reserves at once.
const BLOCK: u64 = 1024;

/// The first id of the next unreserved block, shared by every scheduler of the process that keeps
/// the default [`Scheduler::next_task_id`](crate::Scheduler::next_task_id) (ids only need to be
/// unique per scheduler; these are unique per process).
static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// `(next, end)` of this thread's reserved block.
    static RESERVED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// A fresh, process-wide unique task id.
pub(crate) fn next_unique_task_id() -> TaskId {
    RESERVED
        .try_with(|reserved| {
            let (mut next, mut end) = reserved.get();
            if next == end {
                next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
                end = next + BLOCK;
            }
            reserved.set((next + 1, end));
            TaskId::from_raw(next)
        })
        // Thread-locals already destroyed (a spawn from a TLS destructor): one id from the
        // global counter directly, in a block of its own.
        .unwrap_or_else(|_| TaskId::from_raw(NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed)))
}
