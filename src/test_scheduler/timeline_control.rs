//! What a test calls for the timeline: record it, mark instants on it, and write it as a Chrome
//! trace / Perfetto JSON file (layout: `timeline_json.rs`).

use super::handle::TestScheduler;
use super::timeline::{InstantKind, Mark, Timeline, What};
use super::timeline_json::{self, Process};
use crate::session;
use std::fmt::Display;
use std::path::Path;

impl TestScheduler {
    /// Starts recording the timeline (if not already recording): every poll, spawn, wake,
    /// timer, task end and [marked instant](Self::record_instant), for
    /// [`timeline_json`](Self::timeline_json). `TestSchedulerConfig { timeline: true, .. }`
    /// records from the start.
    pub fn enable_timeline(&self) {
        let mut state = self.engine.state("enable_timeline");
        if state.timeline.is_none() {
            state.timeline = Some(Timeline::default());
            state.update_recording();
        }
    }

    /// Marks an instant on the timeline (if one is recorded and this is the test thread;
    /// otherwise does nothing), with `args` shown beside it. It is drawn on the track of the current session if there is one,
    /// else on the track of the task being polled, else on the `test code` track.
    ///
    /// The simulated Worker marks its requests' lives with [`InstantKind::Note`]s; code that
    /// injects faults marks each with [`InstantKind::Fault`], so a failing seed's timeline shows
    /// which fault came before the failure:
    ///
    /// ```
    /// use scheduler::{InstantKind, TestScheduler, TestSchedulerConfig};
    /// let test = TestScheduler::new(TestSchedulerConfig { timeline: true, ..Default::default() });
    /// let key = "events/7";
    /// test.record_instant(InstantKind::Fault, "KV put failed", &[("key", &key), ("attempt", &1)]);
    /// assert!(test.timeline_json().contains(r#""name":"fault: KV put failed""#));
    /// ```
    pub fn record_instant(&self, kind: InstantKind, name: &str, args: &[(&str, &dyn Display)]) {
        if !self.engine.on_test_thread() {
            return; // the timeline belongs to the test thread
        }
        let (at, by) = (self.engine.elapsed_nanos(), self.engine.running_task());
        self.engine.drain_inbox();
        self.engine.record(|timeline| {
            let mark = Mark {
                kind,
                name: name.to_string(),
                args: args
                    .iter()
                    .map(|(key, value)| (key.to_string(), value.to_string()))
                    .collect(),
                session: session::current(),
            };
            timeline.record_plain(at, by, What::Mark(Box::new(mark)));
        });
    }

    /// The timeline recorded so far as a Chrome trace event file (JSON; open it in
    /// <https://ui.perfetto.dev> or `chrome://tracing`). Empty of events if no timeline is
    /// recorded. The record is kept (call it again later for a longer one).
    ///
    /// One process, this scheduler; one track per session and per executor without a session
    /// (`test code`, `timers`, `background`, `foreground (main thread)`, `dedicated
    /// executors`); a slice per poll on
    /// the virtual clock, stretched by 1 µs per recorded event so that polls, which take no
    /// virtual time, have a width; spawn → first-poll flow arrows; instants for wakes, timers,
    /// task ends and marks.
    ///
    /// ```
    /// use scheduler::{TestScheduler, TestSchedulerConfig};
    /// let test = TestScheduler::new(TestSchedulerConfig { timeline: true, ..Default::default() });
    /// test.block(test.spawn(async { 1 + 1 }));
    /// let json = test.timeline_json();
    /// assert!(json.starts_with(r#"{"traceEvents":["#));
    /// assert!(json.contains(r#""name":"task#1""#)); // its poll
    /// ```
    pub fn timeline_json(&self) -> String {
        self.engine.drain_inbox();
        let timeline = self
            .engine
            .state("timeline_json")
            .timeline
            .clone()
            .unwrap_or_default();
        let name = format!(
            "TestScheduler (seed {}, strategy {})",
            self.seed(),
            self.strategy()
        );
        let process = Process {
            name,
            timeline: &timeline,
            failure: None,
        };
        timeline_json::document(&[process], &[("seed", self.seed().to_string())])
    }

    /// Writes [`timeline_json`](Self::timeline_json) to `path`, creating its directory.
    pub fn write_timeline(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.timeline_json())
    }
}
