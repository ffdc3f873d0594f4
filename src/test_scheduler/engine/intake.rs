//! What comes into a [`TestScheduler`](crate::TestScheduler)'s engine: new tasks, wakes,
//! timers, ends and unobserved panics, from the test thread directly or from other OS threads
//! through the inbox; and closing, when the scheduler is dropped.

use super::inbox::Inbound;
use super::{Engine, current_thread_id, foreign_wake, unobserved_panic};
use crate::task::runnable;
use crate::test_scheduler::timeline::{BY_FOREIGN, Timeline, What};
use crate::{Runnable, TaskMetadata, TaskOutcome};
use std::sync::atomic::Ordering;
use std::time::Duration;

impl Engine {
    /// Queues a woken runnable.
    #[inline]
    pub(crate) fn enqueue(&self, runnable: Runnable) {
        let Some(runnable) = self.refuse_if_closed(runnable) else {
            return;
        };
        // One thread-id read decides and borrows (the hot path of every wake).
        if let Some(mut state) = self.state.borrow_if_owner(current_thread_id(), "schedule") {
            if state.recording {
                state.timeline(|timeline| {
                    let (at, by) = (self.elapsed_nanos(), self.running_task());
                    timeline.record(at, by, runnable.metadata(), What::Woken);
                });
            }
            state.push_ready(runnable);
        } else {
            self.enqueue_foreign(runnable);
        }
    }

    /// A wake from another OS thread: handed in through the inbox.
    #[cold]
    fn enqueue_foreign(&self, runnable: Runnable) {
        let metadata = **runnable.metadata();
        self.post_foreign(&metadata, [Inbound::Ready(runnable)]);
    }

    /// Records a new task and queues its first runnable, in one borrow.
    #[inline]
    pub(crate) fn schedule_spawned(&self, runnable: Runnable) {
        let Some(runnable) = self.refuse_if_closed(runnable) else {
            return;
        };
        if let Some(mut state) = self.state.borrow_if_owner(current_thread_id(), "spawn") {
            let running = self.running_task();
            state.record_spawn(runnable.metadata(), || self.elapsed(), running);
            if state.recording {
                state.timeline(|timeline| {
                    let at = self.elapsed_nanos();
                    timeline.record(at, running, runnable.metadata(), What::Spawned);
                });
            }
            state.push_ready(runnable);
        } else {
            self.spawned_foreign(runnable);
        }
    }

    /// A spawn on another OS thread: handed in through the inbox.
    #[cold]
    fn spawned_foreign(&self, runnable: Runnable) {
        let metadata = **runnable.metadata();
        self.post_foreign(
            &metadata,
            [Inbound::Spawned(metadata), Inbound::Ready(runnable)],
        );
    }

    pub(crate) fn schedule_after(&self, delay: Duration, runnable: Runnable) {
        let Some(runnable) = self.refuse_if_closed(runnable) else {
            return;
        };
        if self.on_test_thread() {
            let at = self.elapsed();
            let mut state = self.state("schedule_after");
            state.timeline(|timeline| {
                let (now, by) = (self.elapsed_nanos(), self.running_task());
                let delay = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
                timeline.record(now, by, runnable.metadata(), What::TimerSet(delay));
            });
            state.timers.push(at.saturating_add(delay), runnable);
        } else {
            let metadata = **runnable.metadata();
            self.post_foreign(&metadata, [Inbound::Timer { delay, runnable }]);
        }
    }

    #[inline]
    pub(crate) fn task_ended(&self, metadata: &TaskMetadata, outcome: TaskOutcome) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        if let Some(mut state) = self
            .state
            .borrow_if_owner(current_thread_id(), "task_ended")
        {
            state.record_end(metadata, outcome, || self.elapsed());
            if state.recording {
                state.timeline(|timeline| {
                    let (at, by) = (self.elapsed_nanos(), self.running_task());
                    timeline.record(at, by, metadata, What::Ended(outcome));
                });
            }
        } else {
            // Ending is not a wake: a task dropped on another thread is not scheduled there.
            self.inbox.post([Inbound::Ended(*metadata, outcome)]);
        }
    }

    pub(crate) fn timer_cancelled(&self, timer: &TaskMetadata) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        if self.on_test_thread() {
            // Dropped outside the state borrow: dropping a runnable runs its future's
            // destructor.
            let removed = self.state("timer_cancelled").timers.cancel(timer.id());
            if removed.is_some() {
                let (at, by) = (self.elapsed_nanos(), self.running_task());
                self.record(|timeline| timeline.record(at, by, timer, What::TimerCancelled));
            }
            drop(removed);
        } else {
            self.inbox.post([Inbound::TimerCancelled(timer.id())]);
        }
    }

    /// A panic nobody will await: a test failure, raised at the next tick (or when the
    /// scheduler is dropped). Never raised here: this runs inside async-task, dropping the
    /// task's output, where unwinding must not start.
    pub(crate) fn unobserved_panic(&self, task: &TaskMetadata, message: &str) {
        let failure = unobserved_panic(task, message);
        if self.closed.load(Ordering::Relaxed) {
            eprintln!("{failure}");
        } else if self.on_test_thread() {
            self.state("unobserved_panic").failures.push(failure);
        } else {
            self.inbox.post([Inbound::Failure(failure)]);
        }
    }

    /// Applies what other threads handed in (a single relaxed load when nothing was).
    #[inline]
    pub(crate) fn drain_inbox(&self) {
        if self.inbox.has_pending() {
            self.apply_inbox();
        }
    }

    #[cold]
    fn apply_inbox(&self) {
        let Some(items) = self.inbox.take() else {
            return;
        };
        let elapsed = self.elapsed();
        let mut removed = Vec::new();
        {
            let mut state = self.state("drain_inbox");
            for item in items {
                if state.recording
                    && let Some(timeline) = &mut state.timeline
                {
                    timeline_foreign(timeline, &item, elapsed);
                }
                match item {
                    Inbound::Ready(runnable) => state.push_ready(runnable),
                    Inbound::Timer { delay, runnable } => {
                        state.timers.push(elapsed.saturating_add(delay), runnable)
                    }
                    Inbound::Spawned(metadata) => state.record_spawn(&metadata, || elapsed, 0),
                    Inbound::Ended(metadata, outcome) => {
                        state.record_end(&metadata, outcome, || elapsed)
                    }
                    Inbound::TimerCancelled(id) => removed.extend(state.timers.cancel(id)),
                    Inbound::Failure(message) => state.failures.push(message),
                }
            }
        }
        // Outside the state borrow: dropping a runnable runs its future's destructor.
        drop(removed);
    }

    /// Hands `items` in from another thread, reporting the runnable's wake as non-determinism
    /// unless parking is allowed, and wakes the test thread if it is parked.
    fn post_foreign(&self, metadata: &TaskMetadata, items: impl IntoIterator<Item = Inbound>) {
        let report = (!self.allow_parking.load(Ordering::SeqCst))
            .then(|| Inbound::Failure(foreign_wake(metadata)));
        self.inbox.post(report.into_iter().chain(items));
        self.unparker.unpark();
    }

    /// The runnable, unless the TestScheduler was dropped: then it is discarded (dropped; a
    /// foreground one off the test thread is leaked, see `runnable::discard`) and `None`.
    #[inline]
    fn refuse_if_closed(&self, runnable: Runnable) -> Option<Runnable> {
        if self.closed.load(Ordering::Acquire) {
            runnable::discard(runnable, self.on_test_thread());
            None
        } else {
            Some(runnable)
        }
    }

    /// Called when the [`TestScheduler`](crate::TestScheduler) is dropped: discards every queued
    /// runnable and timer (cancelling their tasks) and, from now on, every runnable handed in.
    /// Panics with any failure not yet raised (a wake from another thread, a panic nobody
    /// awaited).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if !self.on_test_thread() {
            // The state belongs to the test thread and cannot be touched here: what is queued
            // stays until the engine goes (tasks hold it), and is dropped with it.
            return;
        }
        let (ready, timers, graveyard, mut failures) = {
            let mut state = self.state("drop");
            (
                state.ready.take_all(),
                state.timers.take_all(),
                std::mem::take(&mut state.graveyard),
                std::mem::take(&mut state.failures),
            )
        };
        let inbound = self.inbox.take().unwrap_or_default();
        // Outside the state borrow: dropping runnables drops their futures, whose end reports
        // and cancellations call back into this (closed) engine.
        drop(ready);
        drop(timers);
        drop(graveyard);
        for item in inbound {
            match item {
                Inbound::Failure(message) => failures.push(message),
                Inbound::Ready(runnable) | Inbound::Timer { runnable, .. } => {
                    runnable::discard(runnable, true)
                }
                Inbound::Spawned(_) | Inbound::Ended(..) | Inbound::TimerCancelled(_) => {}
            }
        }
        if !failures.is_empty() && !std::thread::panicking() {
            panic!("{}", failures.join("\n"));
        }
    }
}

/// The timeline event of what another OS thread handed in.
#[cold]
fn timeline_foreign(timeline: &mut Timeline, item: &Inbound, at: Duration) {
    let (at, by) = (u64::try_from(at.as_nanos()).unwrap_or(u64::MAX), BY_FOREIGN);
    match item {
        Inbound::Ready(runnable) => timeline.record(at, by, runnable.metadata(), What::Woken),
        Inbound::Timer { delay, runnable } => {
            let delay = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
            timeline.record(at, by, runnable.metadata(), What::TimerSet(delay));
        }
        Inbound::Spawned(task) => timeline.record(at, by, task, What::Spawned),
        Inbound::Ended(task, outcome) => timeline.record(at, by, task, What::Ended(*outcome)),
        Inbound::TimerCancelled(_) | Inbound::Failure(_) => {}
    }
}
