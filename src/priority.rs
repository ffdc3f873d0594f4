//! [`Priority`]: how urgent a task is, carried in its [`TaskMetadata`](crate::TaskMetadata) and
//! inherited by the tasks it spawns.

use std::fmt;

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

    /// The priority of the task being polled on this thread; [`Medium`](Priority::Medium)
    /// outside any task. This is what a task spawned here inherits (a realtime task's
    /// children inherit [`High`](Priority::High)).
    pub fn current() -> Priority {
        crate::session::current_priority()
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
