//! One simulated Durable Object ([`ObjectCore`]): its storage (confirmed and as the object sees
//! it), its input gate, its writes and their confirmation (the output gate), its in-memory
//! instance and what loses it (reset, eviction), and its alarm's bookkeeping.
//!
//! Plain state behind one `RefCell`, borrowed briefly: wakers are woken, tasks spawned and
//! dropped, and the instance dropped only after the borrow ends (user destructors may call back
//! in).

use super::journal::{DurableObjectFaultKind, InjectedObjectFault, Journal};
use crate::cloud::SimulatedExecutionContext;
use crate::cloud::durable_object::DurableObjectId;
use crate::{InstantKind, Scheduler, SessionId, SystemTime, Task, TestScheduler, session};
use std::any::Any;
use std::cell::{Ref, RefCell, RefMut};
use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// How many times a failed alarm is retried, and the first retry's delay (then doubled each
/// time): 2 s, 4 s, 8 s, 16 s, 32 s, 64 s, as the platform documents.
pub(super) const ALARM_RETRIES: u32 = 6;
pub(super) const ALARM_FIRST_BACKOFF: Duration = Duration::from_secs(2);

/// The gate id of code that runs outside every gated future (a subtask a handler spawned).
const UNGATED: u64 = 0;

/// An event of the object in flight: sent, maybe delivered, not yet answered.
pub(super) struct InFlight {
    /// Delivered to the instance of this incarnation (`None`: still waiting at the gate).
    pub(super) delivered_in: Option<u64>,
    /// Its task's waker, woken when the object is reset.
    pub(super) waker: Option<Waker>,
}

/// The alarm run in progress.
pub(super) struct RunningAlarm {
    /// How many retries came before this run.
    pub(super) retries: u32,
    /// The handler deleted the alarm (no retry if it fails).
    pub(super) deleted: bool,
}

pub(super) struct ObjectData {
    /// Confirmed storage: what survives resets and evictions.
    pub(super) durable: BTreeMap<String, Vec<u8>>,
    pub(super) durable_alarm: Option<SystemTime>,
    /// Storage as the object sees it: confirmed plus unconfirmed writes.
    pub(super) cache: BTreeMap<String, Vec<u8>>,
    pub(super) cache_alarm: Option<SystemTime>,
    /// Writes made so far (numbered from 1, never reused), and the last one settled for the
    /// current instance: confirmed, or discarded by the reset that ended an earlier instance.
    pub(super) write_seq: u64,
    pub(super) confirmed_seq: u64,
    /// Writes of the current incarnation not confirmed yet (discarded by a reset).
    unconfirmed: u64,
    /// For each incarnation that ended, the last write confirmed by then: a response of that
    /// incarnation was released if the writes before it were confirmed before it ended (later
    /// confirmations are of other writes).
    confirmed_at_end: BTreeMap<u64, u64>,
    flush_scheduled: bool,
    /// One more each time the in-memory instance is lost (reset or eviction).
    pub(super) incarnation: u64,
    /// The in-memory instance (the handler), built at the first event of an incarnation.
    pub(super) instance: Option<Rc<dyn Any>>,
    /// The context's isolate number when the instance was built (a reset isolate loses it).
    isolate: u64,
    /// Why the last reset happened.
    pub(super) last_reset: String,
    /// The input gate: storage operations (and `block_concurrency_while` calls) in flight, per
    /// holder, the most recent last. Closed while not empty; only the most recent holder runs.
    gate: Vec<(u64, usize)>,
    /// The gated future being polled now ([`UNGATED`] outside them).
    current: u64,
    gate_waiters: Vec<Waker>,
    output_waiters: Vec<Waker>,
    next_gate_id: u64,
    pub(super) in_flight: BTreeMap<u64, InFlight>,
    /// Gated futures alive (`wait_until` work, `block_concurrency_while` futures): pending
    /// work that keeps the object in memory.
    pub(super) live_gated: usize,
    /// Every event session of the object (their `wait_until` work dies with the instance).
    sessions: Vec<SessionId>,
    /// The timer task of the stored alarm, and the time it is armed for.
    alarm_timer: Option<Task<()>>,
    armed_for: Option<SystemTime>,
    /// Retries already made of the stored alarm.
    pub(super) alarm_retries: u32,
    pub(super) running_alarm: Option<RunningAlarm>,
    alarm_waiters: Vec<Waker>,
}

/// Delivers an alarm event (the generic part of the namespace does, it knows the handler type).
pub(super) type AlarmSink = Box<dyn Fn(&Rc<ObjectCore>, u32)>;

pub(super) struct ObjectCore {
    pub(super) id: DurableObjectId,
    /// The object's timeline track (`durable object Counter:click`).
    pub(super) track: String,
    pub(super) ctx: SimulatedExecutionContext,
    pub(super) journal: Weak<Journal>,
    /// The session of the object's own runtime work (flushes, alarm and fault timers): never
    /// ended, drawn on the object's track.
    pub(super) runtime_session: Option<SessionId>,
    data: RefCell<ObjectData>,
    pub(super) alarm_sink: AlarmSink,
}

impl ObjectCore {
    pub(super) fn new(
        id: DurableObjectId,
        track: String,
        ctx: SimulatedExecutionContext,
        journal: Weak<Journal>,
        alarm_sink: AlarmSink,
    ) -> Rc<Self> {
        let runtime_session = ctx.inner.test_scheduler().map(|test| {
            let session = test.create_session();
            test.set_session_owner(session, &track);
            session
        });
        let isolate = ctx.inner.isolate();
        Rc::new(Self {
            id,
            track,
            ctx,
            journal,
            runtime_session,
            data: RefCell::new(ObjectData {
                durable: BTreeMap::new(),
                durable_alarm: None,
                cache: BTreeMap::new(),
                cache_alarm: None,
                write_seq: 0,
                confirmed_seq: 0,
                unconfirmed: 0,
                confirmed_at_end: BTreeMap::new(),
                flush_scheduled: false,
                incarnation: 0,
                instance: None,
                isolate,
                last_reset: String::new(),
                gate: Vec::new(),
                current: UNGATED,
                gate_waiters: Vec::new(),
                output_waiters: Vec::new(),
                next_gate_id: 1,
                in_flight: BTreeMap::new(),
                live_gated: 0,
                sessions: Vec::new(),
                alarm_timer: None,
                armed_for: None,
                alarm_retries: 0,
                running_alarm: None,
                alarm_waiters: Vec::new(),
            }),
            alarm_sink,
        })
    }

    pub(super) fn data(&self) -> Ref<'_, ObjectData> {
        self.data.borrow()
    }

    pub(super) fn data_mut(&self) -> RefMut<'_, ObjectData> {
        self.data.borrow_mut()
    }

    pub(super) fn scheduler(&self) -> &Arc<dyn Scheduler> {
        self.ctx.scheduler()
    }

    pub(super) fn test(&self) -> Option<&TestScheduler> {
        self.ctx.inner.test_scheduler()
    }

    /// Marks an instant on `session`'s track (the object's), if a timeline is recorded.
    pub(super) fn mark(
        &self,
        kind: InstantKind,
        session: Option<SessionId>,
        name: &str,
        args: &[(&str, &dyn Display)],
    ) {
        if let Some(test) = self.test() {
            let session = session.or(self.runtime_session);
            session::with(session, || test.record_instant(kind, name, args));
        }
    }

    /// Spawns `future` as the object's runtime work (its runtime session), detached.
    pub(super) fn spawn_runtime(&self, future: impl Future<Output = ()> + 'static) {
        let scheduler = self.scheduler().clone();
        session::with(self.runtime_session, || scheduler.spawn_foreground(future)).detach();
    }

    /// Records an injected fault (counted, listed, marked on the object's track).
    pub(super) fn injected(
        &self,
        kind: DurableObjectFaultKind,
        session: Option<SessionId>,
        what: String,
    ) {
        self.mark(InstantKind::Fault, session, &format!("{kind}: {what}"), &[]);
        if let Some(journal) = self.journal.upgrade() {
            journal.record_fault(InjectedObjectFault {
                object: self.id.clone(),
                kind,
                what,
                at: self.ctx.elapsed(),
            });
        }
    }

    /// True with probability `rate` (drawn from the seeded generator; nothing drawn at 0).
    pub(super) fn chance(&self, rate: f64) -> bool {
        self.ctx.inner.chance(rate)
    }

    pub(super) fn incarnation(&self) -> u64 {
        self.data().incarnation
    }

    /// Whether the instance of `incarnation` is still the object's; first loses the instance
    /// if the context's isolate was reset since it was built (objects live in that isolate).
    pub(super) fn alive(&self, incarnation: u64) -> bool {
        let isolate = self.ctx.inner.isolate();
        if self.data().isolate != isolate {
            self.reset("the isolate the object ran in was reset", None);
        }
        self.incarnation() == incarnation
    }

    pub(super) fn register_event_session(&self, session: SessionId) {
        self.data_mut().sessions.push(session);
    }

    pub(super) fn next_gate_id(&self) -> u64 {
        let mut data = self.data_mut();
        let id = data.next_gate_id;
        data.next_gate_id += 1;
        id
    }

    // ---- The input gate ----

    /// Whether the gated future `id` may run now: the gate is open, or `id` holds it.
    pub(super) fn gate_allows(&self, id: u64) -> bool {
        let data = self.data();
        data.gate.last().is_none_or(|&(holder, _)| holder == id)
    }

    /// Registers `waker` to be woken when the gate opens (or changes holder).
    pub(super) fn wait_for_gate(&self, waker: &Waker) {
        register(&mut self.data_mut().gate_waiters, waker);
    }

    /// Runs `poll` as the gated future `id` (storage operations it starts are held by `id`).
    pub(super) fn polling_as<R>(&self, id: u64, poll: impl FnOnce() -> R) -> R {
        let previous = std::mem::replace(&mut self.data_mut().current, id);
        struct Restore<'a>(&'a ObjectCore, u64);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.data_mut().current = self.1;
            }
        }
        let _restore = Restore(self, previous);
        poll()
    }

    /// Closes the gate for a storage operation of the future being polled (or for `holder`).
    pub(super) fn gate_push(self: &Rc<Self>, holder: Option<u64>) -> GateHold {
        let mut data = self.data_mut();
        let holder = holder.unwrap_or(data.current);
        match data.gate.last_mut() {
            Some((top, count)) if *top == holder => *count += 1,
            _ => data.gate.push((holder, 1)),
        }
        GateHold {
            core: Rc::downgrade(self),
            holder,
            incarnation: data.incarnation,
        }
    }

    fn gate_pop(&self, holder: u64, incarnation: u64) {
        let wakers = {
            let mut data = self.data_mut();
            if data.incarnation != incarnation {
                return; // a reset cleared the gate already
            }
            let top_before = data.gate.last().map(|&(id, _)| id);
            if let Some(index) = data.gate.iter().rposition(|&(id, _)| id == holder) {
                data.gate[index].1 -= 1;
                if data.gate[index].1 == 0 {
                    data.gate.remove(index);
                }
            }
            if data.gate.last().map(|&(id, _)| id) != top_before {
                std::mem::take(&mut data.gate_waiters)
            } else {
                Vec::new()
            }
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    // ---- Writes and the output gate ----

    /// Applies a write to the object's view of its storage; it is confirmed by the next flush.
    pub(super) fn write(self: &Rc<Self>, apply: impl FnOnce(&mut ObjectData)) {
        let schedule = {
            let mut data = self.data_mut();
            apply(&mut data);
            data.write_seq += 1;
            data.unconfirmed += 1;
            !std::mem::replace(&mut data.flush_scheduled, true)
        };
        if schedule {
            let core = self.clone();
            self.spawn_runtime(async move {
                // Writes made until the flush runs are confirmed together (write coalescing).
                YieldOnce::default().await;
                core.flush();
            });
        }
    }

    /// Confirms every unconfirmed write, unless the storage fails them: then the object is
    /// reset and they are lost.
    fn flush(self: &Rc<Self>) {
        let pending = {
            let mut data = self.data_mut();
            data.flush_scheduled = false;
            data.unconfirmed
        };
        if pending == 0 {
            return;
        }
        // Writes of an instance whose isolate was reset are never confirmed.
        let isolate = self.ctx.inner.isolate();
        if self.data().isolate != isolate {
            self.reset("the isolate the object ran in was reset", None);
            return;
        }
        let rate = self.ctx.inner.fault_config().object_storage_failure;
        if self.chance(rate) {
            let what = format!("a write of {pending} unconfirmed changes failed");
            self.injected(DurableObjectFaultKind::StorageFailure, None, what.clone());
            self.reset(&format!("storage failed: {what}"), None);
            return;
        }
        let (wakers, alarm_changed) = {
            let mut data = self.data_mut();
            data.durable = data.cache.clone();
            let alarm_changed = data.durable_alarm != data.cache_alarm;
            data.durable_alarm = data.cache_alarm;
            data.confirmed_seq = data.write_seq;
            data.unconfirmed = 0;
            (std::mem::take(&mut data.output_waiters), alarm_changed)
        };
        wakers.into_iter().for_each(Waker::wake);
        if alarm_changed {
            self.rearm_alarm();
        }
    }

    /// Whether the writes up to `seq`, made by the instance of `incarnation`, are confirmed:
    /// `Some(true)`; lost (the instance was reset before they were): `Some(false)`; not yet:
    /// `None`, and `waker` is woken when more are confirmed or the object is reset.
    pub(super) fn confirmed_or_wait(
        &self,
        seq: u64,
        incarnation: u64,
        waker: &Waker,
    ) -> Option<bool> {
        self.alive(incarnation); // a reset isolate never confirms its writes
        let mut data = self.data_mut();
        if data.incarnation != incarnation {
            let confirmed = data
                .confirmed_at_end
                .get(&incarnation)
                .copied()
                .unwrap_or(0);
            return Some(confirmed >= seq);
        }
        if data.confirmed_seq >= seq {
            return Some(true);
        }
        register(&mut data.output_waiters, waker);
        None
    }

    // ---- Losing the instance ----

    /// Resets the object: its in-memory instance is lost, unconfirmed writes are discarded,
    /// its events in flight fail (their responses are replaced by errors) and their `wait_until`
    /// work is cancelled. Events not yet delivered go to the next instance.
    pub(super) fn reset(&self, reason: &str, session: Option<SessionId>) {
        let (instance, wakers, sessions, discarded) = {
            let mut data = self.data_mut();
            let (ended, confirmed) = (data.incarnation, data.confirmed_seq);
            data.confirmed_at_end.insert(ended, confirmed);
            data.incarnation += 1;
            data.isolate = self.ctx.inner.isolate();
            data.last_reset = reason.to_string();
            let discarded = std::mem::take(&mut data.unconfirmed);
            // For the next instance, every write so far is settled (confirmed or discarded).
            data.confirmed_seq = data.write_seq;
            data.cache = data.durable.clone();
            data.cache_alarm = data.durable_alarm;
            data.gate.clear();
            let mut wakers = std::mem::take(&mut data.gate_waiters);
            wakers.append(&mut data.output_waiters);
            wakers.append(&mut data.alarm_waiters);
            for event in data.in_flight.values_mut() {
                wakers.extend(event.waker.take());
            }
            let instance = data.instance.take();
            (instance, wakers, data.sessions.clone(), discarded)
        };
        self.mark(
            InstantKind::Note,
            session,
            &format!("durable object reset: {reason}"),
            &[("unconfirmed_writes_discarded", &discarded)],
        );
        if let Some(journal) = self.journal.upgrade() {
            journal.count_reset();
        }
        self.cancel_wait_until_work(&sessions);
        wakers.into_iter().for_each(Waker::wake);
        drop(instance);
    }

    /// Cancels the unsettled `wait_until` jobs of the object's event sessions.
    fn cancel_wait_until_work(&self, sessions: &[SessionId]) {
        let Some(test) = self.test() else { return };
        let jobs: Vec<_> = sessions
            .iter()
            .filter_map(|&session| self.ctx.session_report(session))
            .flat_map(|report| report.wait_until)
            .filter(|(_, outcome)| outcome.is_none())
            .map(|(task, _)| task.id())
            .collect();
        test.cancel_tasks(jobs);
    }

    /// Whether nothing runs in the object: no event delivered and not answered, no `wait_until`
    /// or `block_concurrency_while` work pending, no write unconfirmed, the gate open, no alarm
    /// running.
    pub(super) fn is_idle(&self) -> bool {
        let data = self.data();
        data.in_flight
            .values()
            .all(|event| event.delivered_in.is_none())
            && data.live_gated == 0
            && data.unconfirmed == 0
            && data.gate.is_empty()
            && data.running_alarm.is_none()
    }

    /// Evicts the object if it is idle and in memory: the instance is lost, storage is kept.
    /// Returns whether it did.
    pub(super) fn evict(&self, session: Option<SessionId>) -> bool {
        if !self.is_idle() || self.data().instance.is_none() {
            return false;
        }
        let instance = {
            let mut data = self.data_mut();
            let (ended, confirmed) = (data.incarnation, data.confirmed_seq);
            data.confirmed_at_end.insert(ended, confirmed);
            data.incarnation += 1;
            data.isolate = self.ctx.inner.isolate();
            data.instance.take()
        };
        self.mark(InstantKind::Note, session, "durable object evicted", &[]);
        if let Some(journal) = self.journal.upgrade() {
            journal.count_eviction();
        }
        drop(instance);
        true
    }

    // ---- The alarm ----

    /// Re-arms the alarm's timer for the stored (confirmed) alarm time.
    pub(super) fn rearm_alarm(self: &Rc<Self>) {
        let (old, at) = {
            let mut data = self.data_mut();
            if data.armed_for == data.durable_alarm {
                return;
            }
            data.armed_for = data.durable_alarm;
            (data.alarm_timer.take(), data.durable_alarm)
        };
        drop(old);
        let Some(at) = at else { return };
        let delay = at
            .duration_since(self.scheduler().utc_now())
            .unwrap_or(Duration::ZERO);
        let timer = session::with(self.runtime_session, || self.scheduler().timer(delay));
        let core = Rc::downgrade(self);
        let scheduler = self.scheduler().clone();
        let task = session::with(self.runtime_session, || {
            scheduler.spawn_foreground(async move {
                timer.await;
                if let Some(core) = core.upgrade() {
                    core.alarm_due(at).await;
                }
            })
        });
        let replaced = self.data_mut().alarm_timer.replace(task);
        drop(replaced);
    }

    /// The stored alarm `at` is due: once no alarm runs, takes it from storage and delivers
    /// an alarm event.
    async fn alarm_due(self: Rc<Self>, at: SystemTime) {
        std::future::poll_fn(|cx| {
            let mut data = self.data_mut();
            if data.running_alarm.is_none() {
                Poll::Ready(())
            } else {
                register(&mut data.alarm_waiters, cx.waker());
                Poll::Pending
            }
        })
        .await;
        let retries = {
            let mut data = self.data_mut();
            if data.durable_alarm != Some(at) {
                return; // replaced or deleted meanwhile
            }
            data.durable_alarm = None;
            if data.cache_alarm == Some(at) {
                data.cache_alarm = None;
            }
            data.armed_for = None;
            // This task is the timer: forget it without dropping (cancelling) it.
            if let Some(task) = data.alarm_timer.take() {
                task.detach();
            }
            let retries = data.alarm_retries;
            data.running_alarm = Some(RunningAlarm {
                retries,
                deleted: false,
            });
            retries
        };
        (self.alarm_sink)(&self, retries);
    }

    /// The alarm run ended: `Ok`, or failed with a reason (a retry is scheduled with backoff
    /// unless the handler deleted the alarm, set a new one, or the retries are used up).
    /// Returns the retry's delay if one was scheduled.
    pub(super) fn alarm_finished(self: &Rc<Self>, outcome: Result<(), String>) -> AlarmNext {
        let (next, wakers) = {
            let mut data = self.data_mut();
            let Some(run) = data.running_alarm.take() else {
                return AlarmNext::Done;
            };
            let next = match outcome {
                Ok(()) => {
                    data.alarm_retries = 0;
                    AlarmNext::Done
                }
                Err(_) if run.deleted => {
                    data.alarm_retries = 0;
                    AlarmNext::Deleted
                }
                Err(_) if data.cache_alarm.is_some() => {
                    data.alarm_retries = 0;
                    AlarmNext::Replaced
                }
                Err(_) if run.retries >= ALARM_RETRIES => {
                    data.alarm_retries = 0;
                    AlarmNext::GivenUp
                }
                Err(_) => {
                    let delay = ALARM_FIRST_BACKOFF * 2u32.pow(run.retries);
                    let at = self.scheduler().utc_now() + delay;
                    // The runtime's own bookkeeping: stored at once, not a write of the object.
                    data.durable_alarm = Some(at);
                    data.cache_alarm = Some(at);
                    data.alarm_retries = run.retries + 1;
                    AlarmNext::Retry(delay)
                }
            };
            (next, std::mem::take(&mut data.alarm_waiters))
        };
        wakers.into_iter().for_each(Waker::wake);
        if let AlarmNext::Retry(_) = next {
            self.rearm_alarm();
        }
        next
    }

    /// A write of the alarm by the object (`set_alarm`, `delete_alarm`).
    pub(super) fn write_alarm(self: &Rc<Self>, at: Option<SystemTime>) {
        self.write(|data| {
            data.cache_alarm = at;
            data.alarm_retries = 0;
            if let Some(run) = &mut data.running_alarm
                && at.is_none()
            {
                run.deleted = true;
            }
        });
    }
}

/// What follows an alarm run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AlarmNext {
    /// It succeeded (or there was nothing to do).
    Done,
    /// It failed and is retried after this delay.
    Retry(Duration),
    /// It failed, but the handler had deleted the alarm.
    Deleted,
    /// It failed, but the handler had set a new alarm, which stands.
    Replaced,
    /// It failed after every retry: given up.
    GivenUp,
}

/// A hold on the input gate: released when dropped (unless a reset cleared the gate).
pub(super) struct GateHold {
    core: Weak<ObjectCore>,
    holder: u64,
    incarnation: u64,
}

impl Drop for GateHold {
    fn drop(&mut self) {
        if let Some(core) = self.core.upgrade() {
            core.gate_pop(self.holder, self.incarnation);
        }
    }
}

/// Pending once (waking itself), then ready: a storage completion that comes "later", so other
/// tasks may run in between.
#[derive(Default)]
pub(super) struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Adds `waker` to `waiters` unless an equivalent one is there already.
pub(super) fn register(waiters: &mut Vec<Waker>, waker: &Waker) {
    if !waiters.iter().any(|known| known.will_wake(waker)) {
        waiters.push(waker.clone());
    }
}
