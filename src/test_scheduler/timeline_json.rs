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

use super::json::Object;
use super::timeline::{BY_TEST, Event, InstantKind, Timeline, What};
use super::timeline_tracks::{
    SESSIONS, TEST, by_of, kind_name, task_args, task_name, track, track_name, who,
};
use rustc_hash::{FxHashMap, FxHashSet};
use std::time::Duration;

/// One scheduler's part of a file.
pub(super) struct Process<'a> {
    pub(super) name: String,
    pub(super) timeline: &'a Timeline,
    /// The failure message, drawn after the last event (the seed harness's failing seed).
    pub(super) failure: Option<&'a str>,
}

/// The whole file: `processes` numbered from 1, `about` in `otherData`.
pub(super) fn document(processes: &[Process<'_>], about: &[(&str, String)]) -> String {
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
                args.str("name", &track_name(tid));
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
                (Some(session), _) => SESSIONS.saturating_add(session.as_u64()),
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
                let tid = self.uses(track(task));
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
                let tid = self.uses(track(task));
                let by = by(&self.timers);
                self.instant(tid, ns, "wake", &format!("wake {id}"), |args| {
                    args.num("task", id.as_u64()).str("by", &by);
                });
            }
            What::TimerSet(delay) => {
                let tid = self.uses(track(task));
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
                let tid = self.uses(track(task));
                self.instant(tid, ns, "timer", &format!("timer {id} fired"), |args| {
                    task_args(args, task);
                    args.str("virtual_time", &format!("{at:?}"));
                });
            }
            What::TimerCancelled => {
                let tid = self.uses(track(task));
                let by = by(&self.timers);
                self.instant(tid, ns, "timer", &format!("timer {id} cancelled"), |args| {
                    task_args(args, task);
                    args.str("by", &by);
                });
            }
            What::Ended(outcome) => {
                let tid = self.uses(track(task));
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
