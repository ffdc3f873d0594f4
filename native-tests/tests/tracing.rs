//! The `tracing` feature: a subscriber sees a span per task (entered on each poll, with the
//! task's id, kind, label, session and spawn location) and events for wakes, task ends with
//! their outcome, panics nobody awaited and session ends, on the TestScheduler and the
//! LinuxScheduler. Built only with `--features tracing` (of native-tests, which enables
//! `scheduler/tracing`): `scripts/test.d/80-timeline.sh` runs it; the default build has no
//! `tracing` at all.
#![cfg(feature = "tracing")]

use native_tests::support::yield_now;
use scheduler::cloud::{PlatformRuntime, SimulatedExecutionContext};
use scheduler::{Scheduler, TaskLabel, TestScheduler, session};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = BTreeMap<String, String>;

#[derive(Default)]
struct Record {
    /// Span id -> (name, fields, times entered).
    spans: BTreeMap<u64, (String, Fields, usize)>,
    /// (target, level, fields with `message`, fields of the span it happened in).
    events: Vec<(String, Level, Fields, Option<Fields>)>,
}

struct Recorder(Arc<Mutex<Record>>);

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        let name = attrs.metadata().name().to_string();
        let mut record = lock(&self.0);
        record.spans.insert(id.into_u64(), (name, fields, 0));
    }

    fn on_enter(&self, id: &Id, _: Context<'_, S>) {
        if let Some(span) = lock(&self.0).spans.get_mut(&id.into_u64()) {
            span.2 += 1;
        }
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        let mut record = lock(&self.0);
        let span = context
            .event_span(event)
            .and_then(|span| record.spans.get(&span.id().into_u64()))
            .map(|(_, fields, _)| fields.clone());
        let metadata = event.metadata();
        let target = metadata.target().to_string();
        record
            .events
            .push((target, *metadata.level(), fields, span));
    }
}

/// The record, also after a failed test panicked holding it.
fn lock(record: &Mutex<Record>) -> MutexGuard<'_, Record> {
    record.lock().unwrap_or_else(|error| error.into_inner())
}

/// The process-wide recorder (LinuxScheduler tasks run on pool threads, so the subscriber is
/// the global default), emptied for the test that holds the guard.
fn recording() -> (MutexGuard<'static, ()>, Arc<Mutex<Record>>) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    static RECORD: OnceLock<Arc<Mutex<Record>>> = OnceLock::new();
    let guard = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|error| error.into_inner());
    let record = RECORD.get_or_init(|| {
        let record = Arc::new(Mutex::new(Record::default()));
        let subscriber = tracing_subscriber::registry().with(Recorder(record.clone()));
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        record
    });
    *lock(record) = Record::default();
    (guard, record.clone())
}

/// The task span with `task.id == id`: (fields, times entered).
fn task_span(record: &Record, id: u64) -> (Fields, usize) {
    let (name, fields, entered) = record
        .spans
        .values()
        .find(|(_, fields, _)| fields.get("task.id") == Some(&id.to_string()))
        .unwrap_or_else(|| panic!("no span of task#{id}: {:#?}", record.spans));
    assert_eq!(name, "task");
    (fields.clone(), *entered)
}

/// The events with `message` (and `task.id == id`, when given).
fn events<'a>(
    record: &'a Record,
    message: &str,
    id: Option<u64>,
) -> Vec<&'a (String, Level, Fields, Option<Fields>)> {
    record
        .events
        .iter()
        .filter(|(_, _, fields, _)| fields.get("message").map(String::as_str) == Some(message))
        .filter(|(_, _, fields, _)| {
            id.is_none_or(|id| fields.get("task.id") == Some(&id.to_string()))
        })
        .collect()
}

#[test]
fn test_scheduler_tasks_have_spans_and_events() {
    let (_guard, record) = recording();
    let test = TestScheduler::with_seed(1);
    let session = test.create_session();
    let label = TaskLabel::named("indexer");
    let (task, line) = session::with(Some(session), || {
        let task = test.as_dyn().spawn_labeled(label, async {
            yield_now().await;
            7
        });
        (task, line!() - 4)
    });
    let id = task.id().unwrap().as_u64();
    assert_eq!(test.block(task), 7);
    let cancelled = test.spawn(std::future::pending::<()>());
    let cancelled_id = cancelled.id().unwrap().as_u64();
    test.run_until_parked();
    drop(cancelled);
    test.run_until_parked();
    test.spawn(async { panic!("nobody looks") }).detach();
    let failure =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test.run_until_parked()));
    assert!(failure.is_err(), "the TestScheduler fails the test too");

    let record = lock(&record);
    let (fields, entered) = task_span(&record, id);
    assert_eq!(fields["task.kind"], "background");
    assert_eq!(fields["task.label"], "indexer");
    assert_eq!(fields["task.priority"], "medium");
    assert_eq!(fields["task.session"], session.as_u64().to_string());
    let location = format!("native-tests/tests/tracing.rs:{line}:");
    assert!(fields["spawned_at"].starts_with(&location), "{fields:?}");
    assert_eq!(fields["loc.file"], "native-tests/tests/tracing.rs");
    // Its future is dropped as its last poll ends, inside that poll's span: no third entry.
    assert_eq!(
        entered, 2,
        "entered on each of its two polls (the future dropped inside the last)"
    );
    let (_, entered) = task_span(&record, cancelled_id);
    assert_eq!(entered, 2, "a cancelled task's: its one poll and its drop");
    let wakes = events(&record, "wake", Some(id));
    assert_eq!(wakes.len(), 1, "{:#?}", record.events);
    assert_eq!(wakes[0].0, "scheduler::task::waker");
    assert_eq!(wakes[0].2["op"], "waker.wake");
    let ended = events(&record, "task ended", Some(id));
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].2["outcome"], "completed");
    assert_eq!(
        ended[0].3.as_ref().unwrap()["task.id"],
        id.to_string(),
        "in the span"
    );
    let ended = events(&record, "task ended", Some(cancelled_id));
    assert_eq!(ended[0].2["outcome"], "cancelled");
    let panicked = events(&record, "task panicked and nobody awaited it", None);
    assert_eq!(panicked.len(), 1);
    assert_eq!(panicked[0].1, Level::ERROR);
    assert_eq!(panicked[0].2["panic"], "nobody looks");
}

#[test]
fn a_simulated_session_end_is_an_event() {
    let (_guard, record) = recording();
    let test = TestScheduler::with_seed(2);
    let ctx = SimulatedExecutionContext::new(test.clone());
    let runtime = ctx.runtime();
    let request = ctx.serve(async move {
        let leaked = runtime.clone();
        runtime
            .spawn(async move { leaked.delay(Duration::from_secs(60)).await })
            .detach();
    });
    let session = request.session();
    ctx.block(request).unwrap();
    ctx.wait_on_execution_context(session);
    let record = lock(&record);
    let ended = events(&record, "session ended", None);
    assert_eq!(ended.len(), 1, "{:#?}", record.events);
    assert_eq!(ended[0].0, "scheduler::session");
    assert_eq!(ended[0].2["session"], session.as_u64().to_string());
    assert_eq!(ended[0].2["tasks_cancelled"], "1");
}

#[cfg(target_os = "linux")]
#[test]
fn linux_scheduler_tasks_have_spans_and_events() {
    let (_guard, record) = recording();
    let linux = scheduler::platform::LinuxScheduler::new().expect("threads");
    let scheduler: Arc<dyn Scheduler> = linux.clone();
    let task = scheduler.spawn(async {
        yield_now().await;
        std::thread::current().name().map(str::to_owned)
    });
    let id = task.id().unwrap().as_u64();
    let thread = scheduler.block(task);
    assert_ne!(
        thread.as_deref(),
        std::thread::current().name(),
        "ran on the pool"
    );
    let record = lock(&record);
    let (fields, entered) = task_span(&record, id);
    assert_eq!(fields["task.kind"], "background");
    assert!(!fields.contains_key("task.session"));
    assert_eq!(entered, 2, "two polls (the future dropped inside the last)");
    assert_eq!(events(&record, "wake", Some(id)).len(), 1);
    let ended = events(&record, "task ended", Some(id));
    assert_eq!(ended[0].2["outcome"], "completed");
}
