//! [`Outbox`]: the increments of concurrent events of one type, combined into one request to
//! the type's counter object. A counter object handles one event at a time, so a burst of N
//! events sent one request each would wait N round trips; combined, it waits a few.
//!
//! Each event's job [`count`](Outbox::count)s its event: it puts the event id in its type's
//! lane, and if no request is in flight for the type, it sends one itself carrying every id
//! waiting there (up to [`MAX_BATCH`]); otherwise it waits for the request in flight to answer
//! for it, or for the lane to free up. Idempotency makes this simple: every event id is its
//! own key, so whatever happens to a request (failed, its answer lost, its sender gone), each
//! of its events is just counted again, and the object counts it once.
//!
//! - A request's answer settles each event it carried: counted (or found counted already), or
//!   failed with the request's failure (its job retries).
//! - A sender that stops (its job gave up on the attempt, or was cut off and dropped) fails the
//!   events of its request that have no answer yet; they retry.
//! - A sender that never comes back (workerd abandons a cut-off job without dropping it) holds
//!   its lane for at most [`STORE_TIMEOUT`]: then another job sends in its place.
//! - A job that stops waiting takes its event out of the lane if it was not sent yet.

use super::STORE_TIMEOUT;
use super::counter::{CounterReply, CounterRequest, Counters, MAX_BATCH};
use scheduler::Instant;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// How an event's increment ended: counted (`true` when an earlier request had counted it
/// already), or failed (why; it may have taken effect).
pub(super) type Settled = Result<bool, String>;

/// The lanes of every type, and the jobs waiting for a change.
#[derive(Default)]
pub(super) struct Outbox {
    lanes: RefCell<BTreeMap<String, Lane>>,
    /// Bumped on every change; waiting jobs wake on it.
    version: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
    /// Numbers the requests, so a late sender never frees a lane another took over.
    requests: Cell<u64>,
}

#[derive(Default)]
struct Lane {
    /// Events waiting for a request, in order.
    waiting: Vec<Entry>,
    /// The request in flight: its number and when it was sent.
    sending: Option<(u64, Instant)>,
}

/// An event in a lane, and where its answer goes.
struct Entry {
    event: String,
    answer: Rc<RefCell<Option<Settled>>>,
}

impl Outbox {
    /// Counts `event` of type `kind` on the counter objects `counters`, in a request of its own
    /// or combined with others; `now` is the runtime's clock. Dropped before it is settled, it
    /// takes the event out of the lane if no request carries it yet.
    pub(super) async fn count(
        &self,
        counters: &Counters,
        kind: &str,
        event: &str,
        now: impl Fn() -> Instant,
    ) -> Settled {
        let answer: Rc<RefCell<Option<Settled>>> = Rc::default();
        let _ticket = Ticket {
            outbox: self,
            kind,
            answer: answer.clone(),
        };
        // Nobody waits for a lane to fill: no one is woken.
        self.lane(kind, |lane| {
            lane.waiting.push(Entry {
                event: event.to_string(),
                answer: answer.clone(),
            });
            ((), false)
        });
        loop {
            if let Some(settled) = answer.borrow_mut().take() {
                return settled;
            }
            match self.lead(kind, now()) {
                Some((request, batch)) => self.send(counters, kind, request, batch).await,
                None => self.changed().await,
            }
        }
    }

    /// Takes the lane's waiting events (up to [`MAX_BATCH`]) for a request, if no request is
    /// in flight for the type or the one in flight is older than [`STORE_TIMEOUT`] (its sender
    /// is gone).
    fn lead(&self, kind: &str, now: Instant) -> Option<(u64, Vec<Entry>)> {
        self.lane(kind, |lane| {
            let free = lane
                .sending
                .is_none_or(|(_, since)| now >= since + STORE_TIMEOUT);
            if !free || lane.waiting.is_empty() {
                // Nothing changed: waking the other waiters here would have them wake each
                // other back, for ever.
                return (None, false);
            }
            let request = self.requests.get() + 1;
            self.requests.set(request);
            lane.sending = Some((request, now));
            let take = lane.waiting.len().min(MAX_BATCH);
            (Some((request, lane.waiting.drain(..take).collect())), true)
        })
    }

    /// Sends `batch` as request `request` and settles its events with the answer.
    async fn send(&self, counters: &Counters, kind: &str, request: u64, batch: Vec<Entry>) {
        let mut sending = Sending {
            outbox: self,
            kind,
            request,
            batch,
        };
        let events = sending
            .batch
            .iter()
            .map(|entry| entry.event.clone())
            .collect();
        let reply = counters
            .send(kind, CounterRequest::Increment { events })
            .await;
        let settle = |event: &str| -> Settled {
            match &reply {
                Ok(CounterReply::Counted { already, .. }) => {
                    Ok(already.iter().any(|known| known == event))
                }
                Ok(CounterReply::Failed { error }) => Err(error.clone()),
                Ok(other) => Err(format!("it answered {other:?} to an increment")),
                Err(failure) => Err(failure.to_string()),
            }
        };
        for entry in &sending.batch {
            entry
                .answer
                .borrow_mut()
                .get_or_insert_with(|| settle(&entry.event));
        }
        sending.batch.clear();
    }

    /// Runs `change` on `kind`'s lane (created if needed; dropped once idle); if it says it
    /// changed something a waiting job may be waiting for (the lane freed, events taken, answers
    /// given), wakes the waiting jobs. A change that wakes no one must not say so: every job
    /// woken looks at the lanes again.
    fn lane<T>(&self, kind: &str, change: impl FnOnce(&mut Lane) -> (T, bool)) -> T {
        let (output, changed) = {
            let mut lanes = self.lanes.borrow_mut();
            let lane = lanes.entry(kind.to_string()).or_default();
            let output = change(lane);
            if lane.waiting.is_empty() && lane.sending.is_none() {
                lanes.remove(kind);
            }
            output
        };
        if !changed {
            return output;
        }
        self.version.set(self.version.get() + 1);
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        waiters.into_iter().for_each(Waker::wake);
        output
    }

    /// Completes at the outbox's next change.
    fn changed(&self) -> impl Future<Output = ()> + '_ {
        let seen = self.version.get();
        std::future::poll_fn(move |cx| {
            if self.version.get() != seen {
                return Poll::Ready(());
            }
            let mut waiters = self.waiters.borrow_mut();
            if !waiters.iter().any(|known| known.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
    }

    /// Events waiting for a request or carried by one in flight (0 once every job is done).
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.lanes
            .borrow()
            .values()
            .map(|lane| lane.waiting.len())
            .sum()
    }
}

/// An event's place in its lane: dropped, it takes the event out if no request carries it yet.
struct Ticket<'a> {
    outbox: &'a Outbox,
    kind: &'a str,
    answer: Rc<RefCell<Option<Settled>>>,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        // Only its own place goes: no one waits for that.
        self.outbox.lane(self.kind, |lane| {
            lane.waiting
                .retain(|entry| !Rc::ptr_eq(&entry.answer, &self.answer));
            ((), false)
        });
    }
}

/// A request in flight: dropped before its answer (its sender gave up or was cut off), it
/// fails the events it carried, which retry, and frees the lane unless another request took
/// it over.
struct Sending<'a> {
    outbox: &'a Outbox,
    kind: &'a str,
    request: u64,
    batch: Vec<Entry>,
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        for entry in &self.batch {
            entry.answer.borrow_mut().get_or_insert_with(|| {
                Err("the request carrying it got no answer (its sender stopped)".to_string())
            });
        }
        // Its riders are answered (or failed), and the lane is free: they wake.
        self.outbox.lane(self.kind, |lane| {
            if lane
                .sending
                .is_some_and(|(request, _)| request == self.request)
            {
                lane.sending = None;
            }
            ((), true)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler::cloud::{DurableObjectFailure, DurableObjectNamespace, LocalBoxFuture};
    use std::time::Duration;

    /// Counter objects that record each request and answer it when told.
    #[derive(Default)]
    struct Manual {
        sent: RefCell<Vec<Vec<String>>>,
        replies: RefCell<Vec<futures::channel::oneshot::Sender<CounterReply>>>,
    }

    impl DurableObjectNamespace for Manual {
        type Request = CounterRequest;
        type Response = CounterReply;

        fn send(
            &self,
            _name: &str,
            request: CounterRequest,
        ) -> LocalBoxFuture<Result<CounterReply, DurableObjectFailure>> {
            let CounterRequest::Increment { events } = request else {
                unreachable!()
            };
            self.sent.borrow_mut().push(events);
            let (reply, answer) = futures::channel::oneshot::channel();
            self.replies.borrow_mut().push(reply);
            Box::pin(async move {
                answer
                    .await
                    .map_err(|_| DurableObjectFailure::Unanswered("dropped".into()))
            })
        }
    }

    fn poll<F: Future>(future: &mut std::pin::Pin<Box<F>>) -> Poll<F::Output> {
        let waker = Waker::noop();
        future
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
    }

    #[test]
    fn concurrent_events_ride_one_request_and_each_is_settled_by_its_answer() {
        let outbox = Outbox::default();
        let manual = Rc::new(Manual::default());
        let counters: Counters = manual.clone();
        let now = Instant::now();
        let mut first = Box::pin(outbox.count(&counters, "click", "e1", || now));
        assert!(poll(&mut first).is_pending());
        assert_eq!(*manual.sent.borrow(), [["e1"]], "sent at once, alone");
        let mut second = Box::pin(outbox.count(&counters, "click", "e2", || now));
        let mut third = Box::pin(outbox.count(&counters, "click", "e3", || now));
        assert!(poll(&mut second).is_pending() && poll(&mut third).is_pending());
        assert_eq!(
            manual.sent.borrow().len(),
            1,
            "they wait for the request in flight"
        );
        let reply = manual.replies.borrow_mut().remove(0);
        reply
            .send(CounterReply::Counted {
                count: 1,
                already: vec![],
            })
            .unwrap();
        assert_eq!(poll(&mut first), Poll::Ready(Ok(false)));
        // The lane is free: the next job to run sends both waiting events in one request.
        assert!(poll(&mut second).is_pending());
        assert_eq!(manual.sent.borrow()[1], ["e2", "e3"]);
        let reply = manual.replies.borrow_mut().remove(0);
        reply
            .send(CounterReply::Counted {
                count: 3,
                already: vec!["e3".to_string()],
            })
            .unwrap();
        assert_eq!(poll(&mut second), Poll::Ready(Ok(false)));
        assert_eq!(
            poll(&mut third),
            Poll::Ready(Ok(true)),
            "found counted already"
        );
        drop((first, second, third));
        assert_eq!(outbox.waiting(), 0);
        assert!(outbox.lanes.borrow().is_empty());
    }

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Wakes(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Wakes {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    impl Wakes {
        fn count(&self) -> usize {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    fn poll_with<F: Future>(
        future: &mut std::pin::Pin<Box<F>>,
        wakes: &std::sync::Arc<Wakes>,
    ) -> bool {
        let waker = Waker::from(wakes.clone());
        future
            .as_mut()
            .poll(&mut std::task::Context::from_waker(&waker))
            .is_pending()
    }

    #[test]
    fn riders_waiting_for_a_request_in_flight_do_not_wake_each_other() {
        let outbox = Outbox::default();
        let manual = Rc::new(Manual::default());
        let counters: Counters = manual.clone();
        let now = Instant::now();
        let mut sender = Box::pin(outbox.count(&counters, "click", "e1", || now));
        assert!(poll(&mut sender).is_pending());
        let (a_wakes, b_wakes) = (std::sync::Arc::default(), std::sync::Arc::default());
        let mut a = Box::pin(outbox.count(&counters, "click", "e2", || now));
        let mut b = Box::pin(outbox.count(&counters, "click", "e3", || now));
        assert!(poll_with(&mut a, &a_wakes) && poll_with(&mut b, &b_wakes));
        let (a_before, b_before) = (a_wakes.count(), b_wakes.count());
        // Each looks at the lane again (as after a spurious wake): the other is not woken, or
        // the two would wake each other for ever while the request is in flight.
        for _ in 0..3 {
            assert!(poll_with(&mut a, &a_wakes) && poll_with(&mut b, &b_wakes));
        }
        assert_eq!((a_wakes.count(), b_wakes.count()), (a_before, b_before));
        // The answer frees the lane: both wake.
        let reply = manual.replies.borrow_mut().remove(0);
        reply
            .send(CounterReply::Counted {
                count: 1,
                already: vec![],
            })
            .unwrap();
        assert!(poll(&mut sender).is_ready());
        assert!(a_wakes.count() > a_before && b_wakes.count() > b_before);
        drop((sender, a, b));
    }

    #[test]
    fn a_sender_that_stops_fails_its_riders_and_frees_the_lane() {
        let outbox = Outbox::default();
        let manual = Rc::new(Manual::default());
        let counters: Counters = manual.clone();
        let now = Instant::now();
        let mut sender = Box::pin(outbox.count(&counters, "click", "e1", || now));
        assert!(poll(&mut sender).is_pending());
        let mut rider = Box::pin(outbox.count(&counters, "click", "e2", || now));
        assert!(poll(&mut rider).is_pending());
        let mut late = Box::pin(outbox.count(&counters, "view", "e3", || now));
        assert!(
            poll(&mut late).is_pending(),
            "another type has its own lane"
        );
        assert_eq!(manual.sent.borrow().len(), 2);
        // A rider that stops before it was sent leaves the lane.
        drop(rider);
        assert_eq!(outbox.waiting(), 0);
        let mut rider = Box::pin(outbox.count(&counters, "click", "e2", || now));
        assert!(poll(&mut rider).is_pending());
        // The sender stops (its job gave up on the attempt): the lane is free, e2 is sent.
        drop(sender);
        assert!(poll(&mut rider).is_pending());
        assert_eq!(manual.sent.borrow()[2], ["e2"]);
        drop((rider, late));
    }

    #[test]
    fn a_sender_that_never_comes_back_holds_the_lane_for_the_store_timeout_only() {
        let outbox = Outbox::default();
        let manual = Rc::new(Manual::default());
        let counters: Counters = manual.clone();
        let start = Instant::now();
        let clock = Rc::new(Cell::new(start));
        let now = {
            let clock = clock.clone();
            move || clock.get()
        };
        let mut abandoned = Box::pin(outbox.count(&counters, "click", "e1", now.clone()));
        assert!(poll(&mut abandoned).is_pending());
        let mut next = Box::pin(outbox.count(&counters, "click", "e2", now.clone()));
        assert!(poll(&mut next).is_pending());
        assert_eq!(manual.sent.borrow().len(), 1);
        clock.set(start + STORE_TIMEOUT - Duration::from_millis(1));
        let mut again = Box::pin(outbox.count(&counters, "click", "e3", now.clone()));
        assert!(poll(&mut again).is_pending());
        assert_eq!(manual.sent.borrow().len(), 1, "still in flight");
        clock.set(start + STORE_TIMEOUT);
        let mut taker = Box::pin(outbox.count(&counters, "click", "e4", now.clone()));
        assert!(poll(&mut taker).is_pending());
        assert_eq!(manual.sent.borrow()[1], ["e2", "e3", "e4"]);
        // The abandoned sender's late end does not free the lane the taker holds.
        drop(abandoned);
        let mut more = Box::pin(outbox.count(&counters, "click", "e5", now));
        assert!(poll(&mut more).is_pending());
        assert_eq!(
            manual.sent.borrow().len(),
            2,
            "e5 waits for the taker's request"
        );
        drop((next, again, taker, more));
    }
}
