//! What a test calls on a [`TestScheduler`]: driving it (ticks, the virtual clock, parking),
//! shaping its choices, and looking inside (counts, live tasks, the trace).

use super::handle::TestScheduler;
use super::trace::TraceEvent;
use crate::{SystemTime, TaskId, TaskLabel, TaskMetadata};
use std::future::Future;
use std::ops::{Range, RangeInclusive};
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

impl TestScheduler {
    /// Runs one ready runnable; if none is ready, fires one timer that is already due (its
    /// deadline is not after the virtual now, e.g. a `timer(Duration::ZERO)`). Returns `false`
    /// if there was neither. Never moves the clock.
    ///
    /// Panics if a task was woken from another OS thread while parking is forbidden, or if a
    /// task panicked with nobody awaiting it.
    pub fn tick(&self) -> bool {
        self.engine.tick()
    }

    /// Runs ready runnables (and fires timers already due) until none is left. Never moves the
    /// clock.
    pub fn run_until_parked(&self) {
        self.engine.run_until_parked()
    }

    /// Runs what is ready now, then moves the clock forward by `duration`, firing each timer
    /// that comes due in deadline order, at its own deadline, and running what it wakes.
    /// `Duration::MAX` is allowed: every pending timer fires.
    pub fn advance_clock(&self, duration: Duration) {
        self.engine.advance_clock(duration)
    }

    /// A future that yields a random number of times (0 to 9, drawn now), letting other tasks
    /// run in between: sprinkle it where real code would take a variable amount of time.
    pub fn simulate_random_delay(&self) -> impl Future<Output = ()> + Send + 'static + use<> {
        let mut yields = self.random_range(0..10);
        std::future::poll_fn(move |cx: &mut Context<'_>| {
            if yields == 0 {
                Poll::Ready(())
            } else {
                yields -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
    }

    /// Sets the fake wall clock ([`utc_now`](crate::Scheduler::utc_now)) to `now`; it moves on
    /// with virtual time from there. For testing date rollovers, expiry, time zones:
    ///
    /// ```
    /// use scheduler::{Scheduler, TestScheduler};
    /// use std::time::{Duration, SystemTime};
    ///
    /// let test = TestScheduler::with_seed(0);
    /// let midnight = SystemTime::UNIX_EPOCH + TestScheduler::UTC_START; // 2026-01-01T00:00Z
    /// assert_eq!(test.utc_now(), midnight);
    /// test.set_utc_now(midnight - Duration::from_secs(1)); // 2025-12-31T23:59:59Z
    /// test.advance_clock(Duration::from_secs(1));
    /// assert_eq!(test.utc_now(), midnight);
    /// ```
    pub fn set_utc_now(&self, now: SystemTime) {
        self.engine.set_utc_now(now);
    }

    /// Makes tasks spawned with `label` run only when nothing else can (before the clock jumps
    /// to the next timer). Applies to runnables scheduled from now on.
    pub fn deprioritize(&self, label: TaskLabel) {
        self.engine
            .state("deprioritize")
            .deprioritized
            .insert(label);
    }

    /// Whether the task is still alive: true until it completes, panics or is cancelled.
    pub fn is_task_running(&self, id: TaskId) -> bool {
        self.engine.drain_inbox();
        self.engine.state("is_task_running").live.contains(id)
    }

    /// Lets a blocked thread park for real, waiting for wakes from other OS threads (and stops
    /// reporting such wakes as non-determinism).
    pub fn allow_parking(&self) {
        self.engine.allow_parking.store(true, Ordering::SeqCst);
    }

    /// Makes blocking with nothing to do a deadlock panic, and wakes from other OS threads a
    /// non-determinism panic (the default).
    pub fn forbid_parking(&self) {
        self.engine.allow_parking.store(false, Ordering::SeqCst);
    }

    /// How many ticks a `block_with_timeout` may run before timing out: a random draw from
    /// `range` for each call, made when it first has to wait.
    pub fn set_block_tick_range(&self, range: RangeInclusive<usize>) {
        assert!(!range.is_empty(), "block_tick_range must not be empty");
        self.engine.state("set_block_tick_range").block_tick_range = range;
    }

    /// A number drawn from the scheduler's seeded generator.
    pub fn random_range(&self, range: Range<u64>) -> u64 {
        self.engine.random_range(range)
    }

    /// How many runnables are ready now.
    pub fn ready_count(&self) -> usize {
        self.engine.drain_inbox();
        self.engine.state("ready_count").ready.len()
    }

    /// How many timers are pending.
    pub fn pending_timer_count(&self) -> usize {
        self.engine.drain_inbox();
        self.engine.state("pending_timer_count").timers.len()
    }

    /// How many ticks have run so far.
    pub fn tick_count(&self) -> u64 {
        self.engine.state("tick_count").ticks
    }

    /// How many of those ticks were *choice points*: more than one runnable could run, so the
    /// [strategy](crate::Strategy) chose. A good `steps` for [`Strategy::Pct`](crate::Strategy::Pct)
    /// is about this count at the end of a typical run of the test.
    pub fn choice_count(&self) -> u64 {
        self.engine.state("choice_count").chooser.choice_points()
    }

    /// How many tasks are alive (spawned, not yet ended).
    pub fn live_task_count(&self) -> usize {
        self.engine.drain_inbox();
        self.engine.state("live_task_count").live.len()
    }

    /// Metadata of every live task (spawned, not yet ended), ordered by id.
    pub fn live_tasks(&self) -> Vec<TaskMetadata> {
        self.engine.drain_inbox();
        self.engine.state("live_tasks").live.live()
    }

    /// Starts recording [`TraceEvent`]s (if not already recording).
    pub fn enable_trace(&self) {
        let mut state = self.engine.state("enable_trace");
        if state.trace.is_none() {
            state.trace = Some(Vec::new());
            state.update_recording();
        }
    }

    /// The events recorded so far, leaving the record empty (tracing stays on).
    pub fn take_trace(&self) -> Vec<TraceEvent> {
        let mut state = self.engine.state("take_trace");
        state.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// A session id not handed out before by this scheduler: simulated requests
    /// ([`SimulatedExecutionContext`](crate::cloud::SimulatedExecutionContext)) take theirs
    /// here, so two simulations on one scheduler never share a session.
    pub fn create_session(&self) -> crate::SessionId {
        crate::SessionId::from_raw(self.engine.next_session_id())
    }
}
