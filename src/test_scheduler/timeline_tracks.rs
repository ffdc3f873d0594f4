//! Where a timeline event is drawn and what it says: the tracks (one per session, one per
//! executor without a session, one for code outside every task), the names of slices, and the
//! `args` every task event carries.

use super::json::Object;
use super::timeline::{BY_FOREIGN, BY_TEST, Event, What};
use crate::{TaskKind, TaskMetadata};
use rustc_hash::FxHashSet;
use std::fmt::Write;

/// Track ids (the file's `tid`s, also their order): code outside every task, timers, the
/// executors without a session, then `SESSIONS + n` for session n.
pub(super) const TEST: u64 = 1;
pub(super) const TIMERS: u64 = 2;
pub(super) const BACKGROUND: u64 = 3;
pub(super) const FOREGROUND: u64 = 4;
pub(super) const DEDICATED: u64 = 5;
pub(super) const SESSIONS: u64 = 100;

/// The track (thread id) of a task: its session's, else its executor's.
pub(super) fn track(task: &TaskMetadata) -> u64 {
    match (task.session(), task.kind()) {
        (Some(session), _) => SESSIONS.saturating_add(session.as_u64()),
        (None, TaskKind::Background) => BACKGROUND,
        (None, TaskKind::Foreground) => FOREGROUND,
        (None, TaskKind::Timer) => TIMERS,
        (None, TaskKind::Dedicated) => DEDICATED,
    }
}

pub(super) fn track_name(tid: u64) -> String {
    match tid {
        TEST => "test code".into(),
        TIMERS => "timers".into(),
        BACKGROUND => "background".into(),
        FOREGROUND => "foreground (main thread)".into(),
        DEDICATED => "dedicated executors".into(),
        _ => format!("session#{}", tid - SESSIONS),
    }
}

/// `task#7 [indexer]`: a slice's name (Perfetto colours slices by name: one colour per task).
pub(super) fn task_name(task: &TaskMetadata) -> String {
    match task.label().and_then(|label| label.name()) {
        Some(label) => format!("{} [{label}]", task.id()),
        None => task.id().to_string(),
    }
}

pub(super) fn kind_name(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Background => "background",
        TaskKind::Foreground => "foreground",
        TaskKind::Timer => "timer",
        TaskKind::Dedicated => "dedicated",
    }
}

/// Who caused an event, as the `by` arg says it.
pub(super) fn by_of(event: &Event) -> Option<u64> {
    match event.what {
        What::Poll(_) | What::PollEnd | What::TimerFired => None,
        _ => Some(event.by),
    }
}

/// `test code`, `another OS thread`, `task#3` or `timer task#4`.
pub(super) fn who(by: u64, timers: &FxHashSet<u64>) -> String {
    match by {
        BY_TEST => "test code".into(),
        BY_FOREIGN => "another OS thread".into(),
        task if timers.contains(&task) => format!("timer task#{task}"),
        task => format!("task#{task}"),
    }
}

pub(super) fn task_args(args: &mut Object<'_>, task: &TaskMetadata) {
    args.num("task", task.id().as_u64())
        .str("kind", kind_name(task.kind()))
        .str("priority", task.priority().name());
    if let Some(label) = task.label() {
        args.str("label", &label.to_string());
    }
    if let Some(session) = task.session() {
        args.str("session", &session.to_string());
    }
    let mut location = String::new();
    let _ = write!(location, "{}", task.location());
    args.str("spawned_at", &location);
}
