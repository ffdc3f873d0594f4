//! The timeline file (Chrome trace event JSON): a TestScheduler run and a simulated Worker write
//! one that parses, whose slices nest per track, whose flows join a spawn to the first poll,
//! and whose tracks, slices and instants say what happened; a failing seed writes it next to its
//! replay file and prints its path; recording it leaves the trace (and so the cross-target
//! hash) alone. `scripts/test.d/80-timeline.sh` also checks the file against a JSON schema of
//! the format and renders it in headless Chromium.

use native_tests::child;
use native_tests::support::yield_now;
use scheduler::cloud::{ExecutionContext, PlatformRuntime, SimulatedExecutionContext};
use scheduler::{InstantKind, TaskLabel, TestScheduler, TestSchedulerConfig};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// What the structural check found in a file.
#[derive(Debug, Default)]
struct Checked {
    /// `(pid, tid)` -> track name.
    tracks: BTreeMap<(u64, u64), String>,
    /// Poll slices: (track name, slice name, args).
    slices: Vec<(String, String, Value)>,
    /// Instants: (track name, name, args).
    instants: Vec<(String, String, Value)>,
    flows: usize,
}

impl Checked {
    fn track(&self, name: &str) -> bool {
        self.tracks.values().any(|track| track == name)
    }

    fn instant(&self, name: &str) -> &(String, String, Value) {
        self.instants
            .iter()
            .find(|(_, instant, _)| instant == name)
            .unwrap_or_else(|| panic!("no instant {name:?} in {:#?}", self.instants))
    }
}

fn number(event: &Value, key: &str) -> f64 {
    event[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number: {event}"))
}

fn id(event: &Value, key: &str) -> u64 {
    event[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not an integer: {event}"))
}

/// Parses a Chrome trace file and checks what a viewer relies on: known phases with their
/// fields, B/E slices properly nested per track (in time order), every flow one `s` inside a
/// slice of its track and one later `f` bound to the slice it starts, a name for every track.
fn check(json: &str) -> Checked {
    let document: Value = serde_json::from_str(json).expect("the timeline is valid JSON");
    let events = document["traceEvents"]
        .as_array()
        .expect("a traceEvents array");
    assert!(document["otherData"]["clock"].is_string());
    let mut checked = Checked::default();
    let mut per_track: BTreeMap<(u64, u64), Vec<&Value>> = BTreeMap::new();
    let mut flows: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for event in events {
        let ph = event["ph"].as_str().expect("ph");
        let track = (id(event, "pid"), id(event, "tid"));
        assert!(number(event, "ts") >= 0.0, "{event}");
        match ph {
            "M" => {
                if event["name"] == "thread_name" {
                    let name = event["args"]["name"].as_str().unwrap().to_string();
                    checked.tracks.insert(track, name);
                }
            }
            "B" | "E" | "i" => per_track.entry(track).or_default().push(event),
            "s" | "f" => flows.entry(id(event, "id")).or_default().push(event),
            _ => panic!("unexpected phase {ph}: {event}"),
        }
        if ph != "E" {
            assert!(event["name"].is_string(), "{event}");
        }
        if ph == "i" {
            assert_eq!(event["s"], "t", "{event}");
        }
    }
    // Every slice's interval, per track, for the flows.
    let mut intervals: BTreeMap<(u64, u64), Vec<(f64, f64)>> = BTreeMap::new();
    for (track, mut events) in per_track {
        let name = checked.tracks.get(&track).cloned().unwrap_or_else(|| {
            panic!("track {track:?} has no thread_name");
        });
        events.sort_by(|a, b| number(a, "ts").total_cmp(&number(b, "ts")));
        let mut open: Vec<&Value> = Vec::new();
        for event in events {
            match event["ph"].as_str().unwrap() {
                "B" => open.push(event),
                "E" => {
                    let begin = open.pop().unwrap_or_else(|| panic!("E without B: {event}"));
                    let (start, end) = (number(begin, "ts"), number(event, "ts"));
                    assert!(start < end, "{begin} .. {event}");
                    intervals.entry(track).or_default().push((start, end));
                    let slice = begin["name"].as_str().unwrap().to_string();
                    checked
                        .slices
                        .push((name.clone(), slice, begin["args"].clone()));
                }
                _ => {
                    let instant = event["name"].as_str().unwrap().to_string();
                    checked
                        .instants
                        .push((name.clone(), instant, event["args"].clone()));
                }
            }
        }
        assert!(open.is_empty(), "unclosed slices on {name}: {open:?}");
    }
    let inside = |event: &Value, at_start: bool| {
        let track = (id(event, "pid"), id(event, "tid"));
        let ts = number(event, "ts");
        intervals.get(&track).is_some_and(|slices| {
            slices
                .iter()
                .any(|&(start, end)| start <= ts && ts < end && (!at_start || ts - start < 1.0))
        })
    };
    for (flow, pair) in &flows {
        let [start, finish] = pair[..] else {
            panic!("flow {flow} is not one s and one f: {pair:?}");
        };
        assert_eq!(
            (start["ph"].as_str(), finish["ph"].as_str()),
            (Some("s"), Some("f"))
        );
        assert_eq!(finish["bp"], "e");
        assert!(
            number(start, "ts") < number(finish, "ts"),
            "{start} {finish}"
        );
        assert!(
            inside(start, false),
            "flow start outside any slice: {start}"
        );
        assert!(
            inside(finish, true),
            "flow end not at a slice's start: {finish}"
        );
    }
    checked.flows = flows.len();
    checked
}

/// Sessions, executors, a labeled task, timers (one cancelled), wakes, a panic that is
/// awaited, a cancelled task, and marks.
#[test]
fn a_run_writes_a_timeline_that_loads() {
    let config = TestSchedulerConfig {
        timeline: true,
        ..TestSchedulerConfig::with_seed(3)
    };
    let test = TestScheduler::new(config);
    let background = test.background();
    let worker = background.spawn_labeled(TaskLabel::named("indexer"), {
        let background = background.clone();
        async move {
            background.timer(Duration::from_millis(16)).await;
            yield_now().await;
            7
        }
    });
    let session = test.create_session();
    let ui = scheduler::session::with(Some(session), || {
        test.foreground().spawn({
            let test = test.clone();
            async move {
                test.record_instant(InstantKind::Note, "request \"a\"", &[("path", &"/a\\b")]);
                let answer = worker.await;
                test.record_instant(InstantKind::Fault, "store write failed", &[("try", &1)]);
                answer + 1
            }
        })
    });
    drop(background.timer(Duration::from_secs(60)));
    let doomed = background.spawn(std::future::pending::<()>());
    let failing = background.spawn(async { panic!("boom") });
    test.run_until_parked();
    drop(doomed);
    assert_eq!(test.block(ui), 8);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test.block(failing)));
    assert!(panicked.is_err());

    let json = test.timeline_json();
    if let Ok(path) = std::env::var("TIMELINE_DUMP") {
        std::fs::write(path, &json).unwrap();
    }
    let checked = check(&json);
    for track in ["test code", "background", "timers", &format!("{session}")] {
        assert!(
            checked.track(track),
            "no track {track}: {:?}",
            checked.tracks
        );
    }
    // The labeled task's polls: on the background track, named with the label, with the tick,
    // the virtual time and the spawn location in the args.
    let polls: Vec<_> = checked
        .slices
        .iter()
        .filter(|(_, name, _)| name == "task#1 [indexer]")
        .collect();
    assert_eq!(polls.len(), 3, "{:#?}", checked.slices);
    let (track, _, args) = polls[2];
    assert_eq!(track, "background");
    assert_eq!(args["virtual_time"], "16ms");
    assert_eq!(args["label"], "indexer");
    assert_eq!(args["priority"], "medium");
    assert!(
        args["spawned_at"]
            .as_str()
            .unwrap()
            .contains("tests/timeline.rs:"),
        "{args}"
    );
    // The session's foreground task runs on the session's track.
    assert!(
        checked
            .slices
            .iter()
            .any(|(track, name, _)| *track == session.to_string() && name == "task#2")
    );
    assert!(checked.flows >= 4, "spawn arrows: {}", checked.flows);
    let (track, _, args) = checked.instant("fault: store write failed");
    assert_eq!(
        (track.as_str(), &args["try"]),
        (session.to_string().as_str(), &"1".into())
    );
    let (_, _, args) = checked.instant("request \"a\"");
    assert_eq!(args["path"], "/a\\b");
    checked.instant("timer task#6 set");
    checked.instant("timer task#6 fired");
    assert_eq!(checked.instant("wake task#1").2["by"], "timer task#6");
    let cancelled = checked
        .instants
        .iter()
        .find(|(_, name, _)| name.starts_with("timer ") && name.ends_with(" cancelled"))
        .expect("the dropped 60 s timer");
    assert_eq!(cancelled.0, "timers");
    let (_, _, args) = checked.instant("end task#5: Panicked");
    assert_eq!(args["by"], "task#5");
    // Dropping its handle queued the pending task once more, to drop its future.
    assert_eq!(checked.instant("wake task#4").2["by"], "test code");
    assert_eq!(checked.instant("end task#4: Cancelled").2["by"], "task#4");
}

/// Recording a timeline changes nothing the trace records: the cross-target hash holds.
#[test]
fn the_timeline_leaves_the_trace_alone() {
    let run = |timeline: bool| {
        let test = TestScheduler::new(TestSchedulerConfig {
            trace: true,
            timeline,
            ..TestSchedulerConfig::with_seed(11)
        });
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let test2 = test.clone();
                test.spawn(async move {
                    test2.simulate_random_delay().await;
                    i
                })
            })
            .collect();
        test.block(futures::future::join_all(tasks));
        test.take_trace()
    };
    assert_eq!(run(true), run(false));
}

/// A simulated Worker's requests are sessions: one track each, with the request's life marked.
#[test]
fn a_simulated_worker_has_one_track_per_request() {
    let test = TestScheduler::new(TestSchedulerConfig {
        timeline: true,
        ..TestSchedulerConfig::with_seed(5)
    });
    let ctx = SimulatedExecutionContext::new(test.clone());
    let requests: Vec<_> = (0..3)
        .map(|user| {
            let (context, runtime) = (ctx.clone(), ctx.runtime());
            ctx.serve(async move {
                let later = runtime.clone();
                context.wait_until(async move { later.delay(Duration::from_secs(2)).await });
                runtime.delay(Duration::from_millis(5 * user)).await;
                user
            })
        })
        .collect();
    for request in requests {
        let session = request.session();
        ctx.block(request).unwrap();
        ctx.wait_on_execution_context(session);
    }
    let checked = check(&test.timeline_json());
    for session in 1..=3 {
        let track = format!("session#{session}");
        assert!(checked.track(&track), "{:?}", checked.tracks);
        for mark in ["request", "responded", "session ended"] {
            assert!(
                checked
                    .instants
                    .iter()
                    .any(|(on, name, _)| *on == track && name == mark),
                "no {mark} on {track}: {:#?}",
                checked.instants
            );
        }
    }
}

/// A failing seed writes `<replay>.timeline.json` next to its replay file, prints its path,
/// and the file shows the failure.
#[test]
fn a_failing_seed_writes_its_timeline_next_to_the_replay_file() {
    let test = "a_failing_seed_writes_its_timeline_next_to_the_replay_file";
    let env = [
        ("SEED", ""),
        ("ITERATIONS", ""),
        ("STRATEGY", ""),
        ("REPLAY", ""),
        ("CHECK_DETERMINISM", ""),
        ("TIMELINE", ""),
    ];
    let Some(outcome) = child::run_with_env(test, Duration::from_secs(60), &env, || {
        TestScheduler::many(100, async |test| {
            let value = test.spawn(async { 41 }).await;
            test.timer(Duration::from_millis(3)).await;
            assert_eq!(value + test.random_range(0..2), 41, "off by one");
        });
    }) else {
        return;
    };
    assert!(!outcome.status.unwrap().success(), "{}", outcome.stderr);
    let line = |prefix: &str| {
        outcome
            .stderr
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{}", outcome.stderr))
            .to_string()
    };
    let replay = PathBuf::from(line("replay with: REPLAY=").split(' ').next().unwrap());
    let timeline = line("timeline: ");
    let timeline = PathBuf::from(timeline.split(' ').next().unwrap());
    assert_eq!(timeline, replay.with_extension("timeline.json"));
    let checked = check(&std::fs::read_to_string(&timeline).unwrap());
    let (track, _, args) = checked.instant("FAILED");
    assert_eq!(track, "test code");
    assert!(
        args["message"].as_str().unwrap().contains("off by one"),
        "{args}"
    );
    checked.instant("timer task#2 fired");
}
