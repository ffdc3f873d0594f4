//! The background part of `POST /events`, run under `wait_until`: three timed stages in
//! parallel, the summary, then the event's increment of its type's counter — each store call
//! bounded by [`STORE_TIMEOUT`], the whole job by its deadline.

use super::service::{IngestService, event_key};
use super::summary::{self, EventSummary, HISTOGRAM_DELAY, SPREAD_DELAY, TOTALS_DELAY_PER_VALUE};
use super::{Event, EventStore, STORE_TIMEOUT, StoreError};
use futures::future::{Either, select};
use scheduler::Instant;
use scheduler::cloud::PlatformRuntime;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

/// How long a `buggify` point before an increment pauses (never in a Worker).
const BUGGIFY_PAUSE: Duration = Duration::from_secs(2);

/// The pause before an increment the counter object did not answer is sent again: doubled
/// after each failed attempt, up to [`RETRY_PAUSE_MAX`].
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// The longest pause between two attempts of one increment.
const RETRY_PAUSE_MAX: Duration = Duration::from_secs(2);

impl<R: PlatformRuntime + 'static, S: EventStore + 'static> IngestService<R, S> {
    /// Processes event `id`: summary, then counter, by `deadline`. Whatever goes wrong is
    /// recorded in the failures, naming the event.
    pub(super) async fn process(&self, id: &str, event: Event, deadline: Instant) {
        let mut unsettled = Unsettled {
            service: self,
            id,
            armed: true,
        };
        // The summary's stages call other services: bounded, so that its put still fits
        // before the deadline however slow they are.
        let ready_by = deadline - STORE_TIMEOUT;
        let Some(summary) = self.by(ready_by, self.summarize(id, event)).await else {
            unsettled.armed = false;
            let budget = super::PROCESSING_BUDGET - STORE_TIMEOUT;
            let why = format!(
                "not stored or counted: its summary was not ready within {budget:?} of the \
                 response (a stage's subrequest was too slow)"
            );
            return self.record(id, &why);
        };
        let text = serde_json::to_string(&summary).expect("a summary always serializes");
        let key = event_key(id);
        let stored = self.within(self.inner.store.put(&key, text)).await;
        unsettled.armed = false;
        match stored {
            Some(Ok(())) => self.count_on_object(id, &summary.kind, deadline).await,
            Some(Err(error)) => self.record(id, &error.to_string()),
            None => self.record(id, &timed_out("put", &key).to_string()),
        }
    }

    /// The three stages, each after its own delay, aggregated.
    async fn summarize(&self, id: &str, event: Event) -> EventSummary {
        let runtime = &self.inner.runtime;
        let values: Rc<[f64]> = event.values.into();
        // Each stage stands for a call to another service (a subrequest), its delay the call.
        let stage = |name: &'static str, delay: Duration| {
            let runtime = runtime.clone();
            async move {
                let call = runtime.delay(delay);
                runtime.subrequest(name, call).await;
            }
        };
        let totals = runtime.spawn({
            let (wait, values) = (
                stage("stage totals", TOTALS_DELAY_PER_VALUE * values.len() as u32),
                values.clone(),
            );
            async move {
                wait.await;
                summary::totals(&values)
            }
        });
        let histogram = runtime.spawn({
            let (wait, values) = (stage("stage histogram", HISTOGRAM_DELAY), values.clone());
            async move {
                wait.await;
                summary::histogram(&values)
            }
        });
        let spread = runtime.spawn({
            let (wait, values) = (stage("stage spread", SPREAD_DELAY), values.clone());
            async move {
                wait.await;
                summary::spread(&values)
            }
        });
        let ((sum, min, max), histogram, (mean, stddev)) =
            futures::future::join3(totals, histogram, spread).await;
        EventSummary {
            id: id.to_string(),
            kind: event.kind,
            user: event.user,
            count: values.len(),
            sum,
            min,
            max,
            mean,
            stddev,
            histogram,
        }
    }

    /// Counts event `id` on `kind`'s counter object: sends the increment (the event id is its
    /// idempotency key; concurrent events of a type share one request, see `outbox.rs`) until
    /// the object answers, pausing longer after each failed attempt. A failed attempt may have
    /// taken effect, and the object counts an event once however often it is sent, so it is
    /// retried as is. At `deadline` without an answer, the event is recorded as "may not be
    /// counted".
    pub(super) async fn count_on_object(&self, id: &str, kind: &str, deadline: Instant) {
        let runtime = &self.inner.runtime;
        let mut counting = Counting::new(self, id);
        let mut pause = RETRY_PAUSE;
        let mut attempts = 0u32;
        loop {
            if runtime.buggify() {
                // In simulation, now and then: the isolate is busy elsewhere before the send.
                runtime.delay(BUGGIFY_PAUSE).await;
            }
            let left = deadline.saturating_duration_since(runtime.now());
            let inner = &self.inner;
            let sent = inner
                .outbox
                .count(&inner.counters, kind, id, || inner.runtime.now());
            attempts += 1;
            self.count_stat(|stats| stats.attempts += 1);
            let why = match self.limited(left.min(STORE_TIMEOUT), sent).await {
                Some(Ok(already)) => {
                    self.count_stat(|stats| {
                        stats.counted += 1;
                        stats.found_counted_on_retry += u64::from(already);
                    });
                    return counting.settle(None);
                }
                Some(Err(why)) => why,
                None => format!("no answer within {:?}", left.min(STORE_TIMEOUT)),
            };
            self.count_stat(|stats| stats.attempts_failed += 1);
            if runtime.now() + pause >= deadline {
                self.count_stat(|stats| stats.given_up += 1);
                let budget = super::PROCESSING_BUDGET;
                return counting.settle(Some(format!(
                    "may not be counted: {attempts} increments sent to the counter object \
                     {kind} within {budget:?} of the response got no answer (each may have \
                     taken effect); the last: {why}"
                )));
            }
            runtime.delay(pause).await;
            pause = (pause * 2).min(RETRY_PAUSE_MAX);
        }
    }

    /// `future`'s output, or `None` if it takes longer than [`STORE_TIMEOUT`] (it is dropped).
    pub(super) async fn within<T>(&self, future: impl Future<Output = T>) -> Option<T> {
        self.limited(STORE_TIMEOUT, future).await
    }

    /// `future`'s output, or `None` if it is not ready by `instant` (it is dropped).
    async fn by<T>(&self, instant: Instant, future: impl Future<Output = T>) -> Option<T> {
        let left = instant.saturating_duration_since(self.inner.runtime.now());
        self.limited(left, future).await
    }

    async fn limited<T>(&self, limit: Duration, future: impl Future<Output = T>) -> Option<T> {
        let limit = self.inner.runtime.delay(limit);
        match select(pin!(future), pin!(limit)).await {
            Either::Left((output, _)) => Some(output),
            Either::Right(_) => None,
        }
    }

    fn count_stat(&self, change: impl FnOnce(&mut super::CounterStats)) {
        let mut stats = self.inner.counter_stats.get();
        change(&mut stats);
        self.inner.counter_stats.set(stats);
    }

    /// Records a failure of event `id`.
    fn record(&self, id: &str, why: &str) {
        self.inner.failures.record(format!("{id}: {why}"));
    }
}

fn timed_out(operation: &str, key: &str) -> StoreError {
    StoreError(format!(
        "{operation} {key} did not answer within {STORE_TIMEOUT:?}"
    ))
}

/// Records a failure if the job is dropped (cut off) before its summary was stored.
struct Unsettled<'a, R: PlatformRuntime + 'static, S: EventStore + 'static> {
    service: &'a IngestService<R, S>,
    id: &'a str,
    armed: bool,
}

impl<R: PlatformRuntime + 'static, S: EventStore + 'static> Drop for Unsettled<'_, R, S> {
    fn drop(&mut self) {
        if self.armed {
            self.service.record(
                self.id,
                "not stored or counted: its wait_until work ended before its summary was stored",
            );
        }
    }
}

/// An event's increment on its way to the counter object: counted in
/// [`pending_count_increments`](IngestService::pending_count_increments) while it lasts, and,
/// if dropped unsettled (its `wait_until` work was cut off), recorded as "may not be counted".
struct Counting<'a, R: PlatformRuntime + 'static, S: EventStore + 'static> {
    service: &'a IngestService<R, S>,
    id: &'a str,
    settled: bool,
}

impl<'a, R: PlatformRuntime + 'static, S: EventStore + 'static> Counting<'a, R, S> {
    fn new(service: &'a IngestService<R, S>, id: &'a str) -> Self {
        let counting = &service.inner.counting;
        counting.set(counting.get() + 1);
        Self {
            service,
            id,
            settled: false,
        }
    }

    /// Counted (`None`), or failed with the line to record.
    fn settle(&mut self, failure: Option<String>) {
        self.settled = true;
        if let Some(why) = failure {
            self.service.record(self.id, &why);
        }
    }
}

impl<R: PlatformRuntime + 'static, S: EventStore + 'static> Drop for Counting<'_, R, S> {
    fn drop(&mut self) {
        let counting = &self.service.inner.counting;
        counting.set(counting.get() - 1);
        if !self.settled {
            self.service.record(
                self.id,
                "may not be counted: its wait_until work ended before the counter object \
                 answered (an increment sent may have taken effect)",
            );
        }
    }
}
