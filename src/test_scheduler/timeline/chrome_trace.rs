//! A recorded [`Timeline`] as a Chrome trace event file (the JSON object form that Perfetto's
//! UI and `chrome://tracing` open). One process per `TestScheduler`; in it one track (thread)
//! per session and per executor without a session: `test code`, `timers`, `background`,
//! `foreground (main thread)`, `dedicated executors`, `session#N`.
//!
//! **Layout.** Polls take no virtual time, so the file's clock is the virtual clock *stretched*:
//! event `i` of the record is drawn at `virtual time + (i + 1) µs`. Every event gets its own
//! microsecond, the order of events is kept exactly, and a virtual gap between two events (a
//! timer, `advance_clock`) shows as that gap plus 1 µs. A poll is a slice from its start to its
//! end event, so a poll that spawned and woke more is wider; each slice's `args` give the real
//! virtual time (`virtual_time`) and the tick. Code outside every task (the test body) that
//! spawns, wakes or marks is drawn as `test code` slices on its own track. A spawn is a flow
//! arrow from the spawning slice to the task's first poll; wakes, timers (set, fired,
//! cancelled), task ends, marks (notes and faults) and the failure point are instants.

use super::{BY_FOREIGN, BY_TEST, Event, InstantKind, Timeline, What};
use crate::{SessionId, TaskKind, TaskMetadata};
use rustc_hash::{FxHashMap, FxHashSet};
use std::fmt::{Display, Write};
use std::time::Duration;

/// One scheduler's part of a file.
pub(crate) struct Process<'a> {
    pub(crate) name: String,
    pub(crate) timeline: &'a Timeline,
    /// The failure message, drawn after the last event (the seed harness's failing seed).
    pub(crate) failure: Option<&'a str>,
}

/// The whole file: `processes` numbered from 1, `about` in `otherData`.
pub(crate) fn document(processes: &[Process<'_>], about: &[(&str, String)]) -> String {
    let mut out = String::from("{\"traceEvents\":[\n");
    let mut first = true;
    for (index, process) in processes.iter().enumerate() {
        Writer {
            out: &mut out,
            first: &mut first,
            pid: index as u64 + 1,
            timers: FxHashSet::default(),
            tracks: vec![TEST],
            stack: Vec::new(),
            spawns: FxHashMap::default(),
        }
        .process(process);
    }
    out.push_str("\n],\"displayTimeUnit\":\"ns\",\"otherData\":");
    let mut other = Object::new(&mut out);
    other.str("generator", "scheduler TestScheduler timeline");
    other.str(
        "clock",
        "virtual time stretched: event i of a scheduler's record is drawn at its virtual time + \
         (i + 1) microseconds; args.virtual_time is the real one",
    );
    for (key, value) in about {
        other.str(key, value);
    }
    other.end();
    out.push_str("}\n");
    out
}

/// Display time of event `index` at virtual time `at`, in nanoseconds (see the module docs).
fn display_ns(index: usize, at: u64) -> u128 {
    u128::from(at) + (index as u128 + 1) * 1_000
}

/// `ns` as microseconds with three decimals (exact: no floating point).
fn micros(ns: u128) -> String {
    format!("{}.{:03}", ns / 1_000, ns % 1_000)
}

struct Writer<'o> {
    out: &'o mut String,
    first: &'o mut bool,
    pid: u64,
    /// Ids of the timers seen so far (a wake "by" one of them says so).
    timers: FxHashSet<u64>,
    /// The tracks drawn on.
    tracks: Vec<u64>,
    /// The polls being drawn, innermost last.
    stack: Vec<Open>,
    /// Spawns not yet drawn: task -> (display time, spawning track), drawn as a flow at the
    /// task's first poll.
    spawns: FxHashMap<u64, (u128, u64)>,
}

/// A poll being drawn: its task, track and name.
struct Open {
    task: u64,
    tid: u64,
    name: String,
}

/// The name of the slices of code outside every task.
const TEST_CODE: &str = "test code";

impl Writer<'_> {
    /// Starts one trace event: `{"ph":..,"pid":..,"tid":..,"ts":..` (the caller adds the rest).
    fn event(&mut self, ph: &str, tid: u64, ns: u128) -> Object<'_> {
        if !std::mem::take(self.first) {
            self.out.push_str(",\n");
        }
        let mut object = Object::new(self.out);
        object
            .str("ph", ph)
            .num("pid", self.pid)
            .num("tid", tid)
            .num("ts", micros(ns));
        object
    }

    /// Notes that track `tid` is drawn on; returns it.
    fn uses(&mut self, tid: u64) -> u64 {
        if !self.tracks.contains(&tid) {
            self.tracks.push(tid);
        }
        tid
    }

    /// Ends the innermost slice of track `tid`, repeating its name (speedscope, for one,
    /// matches an end to its begin by name).
    fn end(&mut self, tid: u64, ns: u128, name: &str) {
        let mut object = self.event("E", tid, ns);
        object.str("name", name);
        object.end();
    }

    fn metadata(&mut self, name: &str, tid: u64, args: impl FnOnce(&mut Object<'_>)) {
        let mut object = self.event("M", tid, 0);
        object.str("name", name).object("args", args);
        object.end();
    }

    fn instant(
        &mut self,
        tid: u64,
        ns: u128,
        cat: &str,
        name: &str,
        args: impl FnOnce(&mut Object<'_>),
    ) {
        let mut object = self.event("i", tid, ns);
        object
            .str("s", "t")
            .str("cat", cat)
            .str("name", name)
            .object("args", args);
        object.end();
    }

    fn process(&mut self, process: &Process<'_>) {
        let events = &process.timeline.events;
        let mut test_open = false;
        let mut end_ns = display_ns(0, 0);
        for (index, event) in events.iter().enumerate() {
            let ns = display_ns(index, event.at);
            end_ns = ns;
            let by = by_of(event);
            // `test code` slices hold what code outside every task does between polls.
            let by_test = by == Some(BY_TEST) && self.stack.is_empty();
            if test_open && !by_test {
                self.end(TEST, ns - 500, TEST_CODE);
                test_open = false;
            }
            if by_test && !test_open {
                let mut object = self.event("B", TEST, ns - 500);
                object.str("name", TEST_CODE);
                object.end();
                test_open = true;
            }
            // The slice this event happens in, if it is drawn: its track.
            let within = match by {
                Some(BY_TEST) if by_test => Some(TEST),
                Some(task) => self.stack.last().filter(|o| o.task == task).map(|o| o.tid),
                None => None,
            };
            self.draw(process.timeline, event, ns, within);
        }
        let end_ns = end_ns + 1_000;
        if test_open {
            self.end(TEST, end_ns - 500, TEST_CODE);
        }
        while let Some(open) = self.stack.pop() {
            self.end(open.tid, end_ns - 500, &open.name);
        }
        if let Some(message) = process.failure {
            self.instant(TEST, end_ns, "failure", "FAILED", |args| {
                args.str("message", message);
            });
        }
        self.metadata("process_name", 0, |args| {
            args.str("name", &process.name);
        });
        let pid = self.pid;
        self.metadata("process_sort_index", 0, |args| {
            args.num("sort_index", pid);
        });
        let mut tracks = std::mem::take(&mut self.tracks);
        tracks.sort_unstable();
        for tid in tracks {
            self.metadata("thread_name", tid, |args| {
                args.str("name", &track_name(process.timeline, tid));
            });
            self.metadata("thread_sort_index", tid, |args| {
                args.num("sort_index", tid);
            });
        }
        if process.timeline.dropped > 0 {
            let dropped = process.timeline.dropped;
            self.instant(TEST, display_ns(0, 0) - 500, "note", "", |args| {
                args.num("earlier_events_dropped", dropped);
            });
        }
    }

    fn draw(&mut self, timeline: &Timeline, event: &Event, ns: u128, within: Option<u64>) {
        let at = Duration::from_nanos(event.at);
        let by = |timers: &FxHashSet<u64>| who(event.by, timers);
        if let What::PollEnd = event.what {
            if let Some(open) = self.stack.pop() {
                self.end(open.tid, ns, &open.name);
            }
            return;
        }
        if let What::Mark(mark) = &event.what {
            let tid = match (mark.session, within) {
                (Some(session), _) => session_track(timeline, session),
                (None, Some(tid)) => tid,
                (None, None) => TEST,
            };
            let tid = self.uses(tid);
            let title = match mark.kind {
                InstantKind::Fault => format!("fault: {}", mark.name),
                _ => mark.name.clone(),
            };
            self.instant(tid, ns, &mark.kind.to_string(), &title, |args| {
                for (key, value) in &mark.args {
                    args.str(key, value);
                }
                args.str("virtual_time", &format!("{at:?}"));
            });
            return;
        }
        let Some(task) = timeline.task(event.task) else {
            return; // every event about a task has its metadata: not reached
        };
        let id = task.id();
        match &event.what {
            What::Spawned => {
                if let Some(from) = within {
                    self.spawns.insert(id.as_u64(), (ns, from));
                }
            }
            What::Poll(tick) => {
                let tid = self.uses(track(timeline, task));
                let name = task_name(task);
                let mut object = self.event("B", tid, ns);
                object
                    .str("cat", kind_name(task.kind()))
                    .str("name", &name)
                    .object("args", |args| {
                        task_args(args, task);
                        args.num("tick", tick)
                            .str("virtual_time", &format!("{at:?}"));
                    });
                object.end();
                if let Some((spawned, from)) = self.spawns.remove(&id.as_u64()) {
                    let flow = (self.pid << 40) | (id.as_u64() & ((1 << 40) - 1));
                    for (ph, tid, at) in [("s", from, spawned), ("f", tid, ns + 500)] {
                        let mut object = self.event(ph, tid, at);
                        object
                            .str("cat", "spawn")
                            .str("name", "spawn")
                            .num("id", flow);
                        if ph == "f" {
                            object.str("bp", "e");
                        }
                        object.end();
                    }
                }
                self.stack.push(Open {
                    task: id.as_u64(),
                    tid,
                    name,
                });
            }
            What::Woken => {
                let tid = self.uses(track(timeline, task));
                let by = by(&self.timers);
                self.instant(tid, ns, "wake", &format!("wake {id}"), |args| {
                    args.num("task", id.as_u64()).str("by", &by);
                });
            }
            What::TimerSet(delay) => {
                let tid = self.uses(track(timeline, task));
                self.timers.insert(id.as_u64());
                let by = by(&self.timers);
                let (delay, due) = (
                    Duration::from_nanos(*delay),
                    event.at.saturating_add(*delay),
                );
                self.instant(tid, ns, "timer", &format!("timer {id} set"), |args| {
                    task_args(args, task);
                    args.str("delay", &format!("{delay:?}"))
                        .str("fires_at", &format!("{:?}", Duration::from_nanos(due)))
                        .str("by", &by);
                });
            }
            What::TimerFired => {
                let tid = self.uses(track(timeline, task));
                self.instant(tid, ns, "timer", &format!("timer {id} fired"), |args| {
                    task_args(args, task);
                    args.str("virtual_time", &format!("{at:?}"));
                });
            }
            What::TimerCancelled => {
                let tid = self.uses(track(timeline, task));
                let by = by(&self.timers);
                self.instant(tid, ns, "timer", &format!("timer {id} cancelled"), |args| {
                    task_args(args, task);
                    args.str("by", &by);
                });
            }
            What::Ended(outcome) => {
                let tid = self.uses(track(timeline, task));
                let by = by(&self.timers);
                self.instant(tid, ns, "end", &format!("end {id}: {outcome:?}"), |args| {
                    task_args(args, task);
                    args.str("outcome", &format!("{outcome:?}")).str("by", &by);
                });
            }
            What::PollEnd | What::Mark(_) => {}
        }
    }
}

// ---- timeline_tracks -----------------------------------------------------------------------------
// Where a timeline event is drawn and what it says: the tracks (one per session or per session
// owner, one per executor without a session, one for code outside every task), the names of
// slices, and the `args` every task event carries.

/// Track ids (the file's `tid`s, also their order): code outside every task, timers, the
/// executors without a session, then `SESSIONS + n` for session n, then `OWNERS + i` for the
/// i-th session owner (sessions with an owner are drawn on its track).
pub(crate) const TEST: u64 = 1;
pub(crate) const TIMERS: u64 = 2;
pub(crate) const BACKGROUND: u64 = 3;
pub(crate) const FOREGROUND: u64 = 4;
pub(crate) const DEDICATED: u64 = 5;
pub(crate) const SESSIONS: u64 = 100;
/// Below 2^53, so the ids stay exact in JSON readers' doubles.
pub(crate) const OWNERS: u64 = 1 << 48;

/// The track of `session`: its owner's, else its own.
pub(crate) fn session_track(timeline: &Timeline, session: SessionId) -> u64 {
    match timeline.session_owners.get(&session.as_u64()) {
        Some(&owner) => OWNERS + u64::from(owner),
        None => SESSIONS.saturating_add(session.as_u64()),
    }
}

/// The track (thread id) of a task: its session's, else its executor's.
pub(crate) fn track(timeline: &Timeline, task: &TaskMetadata) -> u64 {
    match (task.session(), task.kind()) {
        (Some(session), _) => session_track(timeline, session),
        (None, TaskKind::Background) => BACKGROUND,
        (None, TaskKind::Foreground) => FOREGROUND,
        (None, TaskKind::Timer) => TIMERS,
        (None, TaskKind::Dedicated) => DEDICATED,
    }
}

pub(crate) fn track_name(timeline: &Timeline, tid: u64) -> String {
    match tid {
        _ if tid >= OWNERS => timeline
            .owners
            .get((tid - OWNERS) as usize)
            .cloned()
            .unwrap_or_else(|| format!("owner#{}", tid - OWNERS)),
        TEST => "test code".into(),
        TIMERS => "timers".into(),
        BACKGROUND => "background".into(),
        FOREGROUND => "foreground (main thread)".into(),
        DEDICATED => "dedicated executors".into(),
        _ => format!("session#{}", tid - SESSIONS),
    }
}

/// `task#7 [indexer]`: a slice's name (Perfetto colours slices by name: one colour per task).
pub(crate) fn task_name(task: &TaskMetadata) -> String {
    match task.label().and_then(|label| label.name()) {
        Some(label) => format!("{} [{label}]", task.id()),
        None => task.id().to_string(),
    }
}

pub(crate) fn kind_name(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Background => "background",
        TaskKind::Foreground => "foreground",
        TaskKind::Timer => "timer",
        TaskKind::Dedicated => "dedicated",
    }
}

/// Who caused an event, as the `by` arg says it.
pub(crate) fn by_of(event: &Event) -> Option<u64> {
    match event.what {
        What::Poll(_) | What::PollEnd | What::TimerFired => None,
        _ => Some(event.by),
    }
}

/// `test code`, `another OS thread`, `task#3` or `timer task#4`.
pub(crate) fn who(by: u64, timers: &FxHashSet<u64>) -> String {
    match by {
        BY_TEST => "test code".into(),
        BY_FOREIGN => "another OS thread".into(),
        task if timers.contains(&task) => format!("timer task#{task}"),
        task => format!("task#{task}"),
    }
}

pub(crate) fn task_args(args: &mut Object<'_>, task: &TaskMetadata) {
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

// ---- json ----------------------------------------------------------------------------------------
// The little JSON the timeline file needs, written by hand (the crate has no serde): objects
// of strings and numbers, with strings escaped as RFC 8259 requires.

/// Appends `text` as a JSON string: quoted, with `"`, `\` and every control character escaped.
pub(crate) fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes one JSON object member by member; [`end`](Self::end) closes it.
pub(crate) struct Object<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Object<'a> {
    pub(crate) fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        string(self.out, key);
        self.out.push(':');
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        string(self.out, value);
        self
    }

    /// A number (an integer, or a decimal written by the caller): written as is.
    pub(crate) fn num(&mut self, key: &str, value: impl Display) -> &mut Self {
        self.key(key);
        let _ = write!(self.out, "{value}");
        self
    }

    /// A nested object, filled by `fill`.
    pub(crate) fn object(&mut self, key: &str, fill: impl FnOnce(&mut Object<'_>)) -> &mut Self {
        self.key(key);
        let mut inner = Object::new(self.out);
        fill(&mut inner);
        inner.end();
        self
    }

    pub(crate) fn end(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        string(&mut out, "a \"b\" \\ c\n\t\u{1}é");
        assert_eq!(out, r#""a \"b\" \\ c\n\t\u0001é""#);
        let mut out = String::new();
        let mut object = Object::new(&mut out);
        object.str("k", "v").num("n", 1.5).object("o", |inner| {
            inner.num("x", 2);
        });
        object.end();
        assert_eq!(out, r#"{"k":"v","n":1.5,"o":{"x":2}}"#);
    }
}
