use super::*;
use std::time::Duration;

/// A book over a hand-driven clock, and its failure log.
fn book() -> (CounterBook, Rc<Cell<Instant>>, FailureLog) {
    let now = Rc::new(Cell::new(Instant::now()));
    let clock: Clock = {
        let now = now.clone();
        Rc::new(move || now.get())
    };
    let failures = FailureLog::default();
    (CounterBook::new(clock, failures.clone()), now, failures)
}

const BUDGET: Duration = Duration::from_secs(25);

#[test]
fn one_flusher_at_a_time_and_unwritten_increments_come_back() {
    let (book, clock, failures) = book();
    let t0 = clock.get();
    let click = book.join("e1", "click", t0 + BUDGET);
    let mut flush = book.try_lead(t0).expect("nothing was flushing");
    let click2 = book.join("e2", "click", t0 + BUDGET);
    assert!(
        book.try_lead(t0).is_none(),
        "a second request rides on the running flush"
    );
    let view = book.join("e3", "view", t0 + BUDGET);
    assert!(book.try_lead(t0).is_none());
    assert_eq!(flush.next_round(t0).as_deref(), Some("click"));
    assert_eq!(flush.read(0, t0), Some(2), "one write carries both clicks");
    flush.written();
    assert_eq!(
        (click.status(), click2.status()),
        (Status::Counted, Status::Counted)
    );
    assert_eq!(flush.next_round(t0).as_deref(), Some("view"));
    // Cancelled before "view" was written (its write not issued yet): it goes back, and the
    // next job flushes it.
    drop(flush);
    assert_eq!(book.pending(), 1);
    assert_eq!(view.status(), Status::Open);
    let view2 = book.join("e4", "view", t0 + BUDGET);
    let mut flush = book.try_lead(t0).expect("the cancelled flush let go");
    assert_eq!(flush.next_round(t0).as_deref(), Some("view"));
    assert_eq!(flush.read(0, t0), Some(2));
    flush.written();
    assert_eq!(flush.next_round(t0), None);
    drop(flush);
    assert_eq!(book.pending(), 0);
    assert_eq!(
        (view.status(), view2.status()),
        (Status::Counted, Status::Counted)
    );
    assert!(failures.lines().is_empty());
}

/// A round cancelled after its write was issued: `base` 0, `written` 1. The next round reads
/// `found` and writes the returned value.
fn after_a_write_in_doubt(found: u64) -> (Status, Option<u64>, Vec<String>) {
    let (book, clock, failures) = book();
    let t0 = clock.get();
    let first = book.join("e1", "click", t0 + BUDGET);
    let mut flush = book.try_lead(t0).unwrap();
    flush.next_round(t0);
    assert_eq!(flush.read(0, t0), Some(1));
    drop(flush);
    assert_eq!(book.pending(), 1, "in doubt, not settled");
    let _second = book.join("e2", "click", t0 + BUDGET);
    let mut flush = book
        .try_lead(t0)
        .expect("a doubt and an increment to write");
    assert_eq!(flush.next_round(t0).as_deref(), Some("click"));
    let written = flush.read(found, t0);
    let status = first.status();
    let failures = failures.lines().clone();
    (status, written, failures)
}

#[test]
fn a_write_in_doubt_is_checked_before_it_is_redone() {
    // It landed: counted, and only the new increment is added.
    assert_eq!(
        after_a_write_in_doubt(1),
        (Status::Counted, Some(2), vec![])
    );
    // It did not: written again with the new one.
    assert_eq!(after_a_write_in_doubt(0), (Status::Open, Some(2), vec![]));
    // Something else wrote the counter: no telling, and said so.
    let (status, written, failures) = after_a_write_in_doubt(7);
    assert_eq!((status, written), (Status::Doubtful, Some(8)));
    assert_eq!(
        failures,
        [
            "e1: may not be counted: count:click holds 7, neither 0 (its write lost) nor 1 (its \
          write landed); the write that carried it was never confirmed"
        ]
    );
}

#[test]
fn an_expired_lease_is_taken_over_and_its_holder_can_no_longer_settle_anything() {
    let (book, clock, failures) = book();
    let t0 = clock.get();
    let first = book.join("e1", "click", t0 + BUDGET);
    let mut stuck = book.try_lead(t0).unwrap();
    stuck.next_round(t0);
    assert_eq!(stuck.read(0, t0), Some(1));
    // Its holder never comes back (workerd abandoned its request).
    let second = book.join("e2", "click", t0 + BUDGET);
    let later = t0 + STORE_TIMEOUT;
    assert!(book.try_lead(later).is_none(), "the lease is still valid");
    let later = t0 + STORE_TIMEOUT + LEASE_MARGIN;
    assert_eq!(book.lease_expiry(), Some(later));
    let mut flush = book.try_lead(later).expect("the lease expired");
    assert!(!stuck.is_current());
    stuck.written();
    assert_eq!(
        first.status(),
        Status::Open,
        "a stale holder settles nothing"
    );
    assert_eq!(flush.next_round(later).as_deref(), Some("click"));
    assert_eq!(
        flush.read(1, later),
        Some(2),
        "the abandoned write had landed"
    );
    flush.written();
    drop(stuck);
    assert!(
        flush.is_current(),
        "dropping a stale holder leaves the lease alone"
    );
    assert_eq!(
        (first.status(), second.status()),
        (Status::Counted, Status::Counted)
    );
    assert!(failures.lines().is_empty());
}

#[test]
fn a_job_leaving_with_its_increment_unwritten_withdraws_it_and_says_why() {
    let (book, clock, failures) = book();
    let t0 = clock.get();
    let job = book.join("e1", "click", t0 + BUDGET);
    job.give_up("the store is too slow".to_string());
    assert_eq!(book.pending(), 0);
    assert_eq!(
        *failures.lines(),
        ["e1: not counted: the store is too slow"]
    );
    // Dropped (cut off) while its write is in doubt: it may be counted, and says so.
    let job = book.join("e2", "view", t0 + BUDGET);
    let mut flush = book.try_lead(t0).unwrap();
    flush.next_round(t0);
    flush.read(0, t0);
    flush.timed_out();
    drop(flush);
    drop(job);
    assert_eq!(
        failures.lines()[1],
        "e2: may not be counted: its wait_until work ended before count:view was written; the \
         write that carried it was never confirmed"
    );
    assert_eq!(book.pending(), 0);
}

#[test]
fn increments_nobody_is_left_to_write_fail_when_the_last_job_leaves() {
    let (book, clock, failures) = book();
    let t0 = clock.get();
    let flusher = book.join("e1", "click", t0 + BUDGET);
    let mut flush = book.try_lead(t0).unwrap();
    let rider = book.join("e2", "click", t0 + BUDGET);
    flush.next_round(t0);
    // The rider's job ends while its increment is in the flusher's round, before the write is
    // computed: the increment leaves the round and fails now (the flusher belongs to another
    // request, which may die without settling anything).
    drop(rider);
    assert_eq!(
        *failures.lines(),
        ["e2: not counted: its wait_until work ended before count:click was written"]
    );
    // A job that joins meanwhile waits for the next round, and stays past the deadline.
    let _late = book.join("e3", "click", t0 + BUDGET);
    // The round's read times out: its increment waits again; the flusher stops and leaves.
    flush.timed_out();
    assert_eq!(book.pending(), 2);
    drop(flush);
    clock.set(t0 + BUDGET);
    flusher.give_up("out of time".to_string());
    assert_eq!(
        failures.lines()[1..],
        [
            "e1: not counted: out of time",
            "e3: not counted: no request was left to write count:click",
        ]
    );
    assert_eq!(book.pending(), 0);
}

/// A rider whose job ends after the round's write was computed may be counted: it says so.
#[test]
fn a_rider_leaving_after_the_write_was_computed_may_be_counted() {
    let (book, clock, failures) = book();
    let t0 = clock.get();
    let flusher = book.join("e1", "click", t0 + BUDGET);
    let mut flush = book.try_lead(t0).unwrap();
    let rider = book.join("e2", "click", t0 + BUDGET);
    flush.next_round(t0);
    assert_eq!(flush.read(0, t0), Some(2));
    drop(rider);
    flush.written();
    assert_eq!(flusher.status(), Status::Counted);
    assert_eq!(failures.lines().len(), 1);
    assert!(failures.lines()[0].starts_with("e2: may not be counted"));
}

/// A holder kept from running between its read and its write (found by a `buggify` pause in
/// the fault seeds): the lease it renewed at the read expires, another job takes the round
/// over, and the late holder must not issue its write (it would land after the new holder's,
/// with an older value). Renewed in time, it keeps the lease for the whole write.
#[test]
fn a_holder_late_for_its_write_renews_the_lease_or_does_not_write() {
    let (book, clock, _failures) = book();
    let t0 = clock.get();
    let _first = book.join("e1", "click", t0 + BUDGET);
    let mut late = book.try_lead(t0).unwrap();
    late.next_round(t0);
    assert_eq!(late.read(0, t0), Some(1));
    let expiry = t0 + STORE_TIMEOUT + LEASE_MARGIN;
    let _second = book.join("e2", "click", t0 + BUDGET);
    let _taker = book.try_lead(expiry).expect("the lease expired");
    assert!(!late.renew(expiry), "taken over: no write");
    // In time, the renewal moves the expiry past the write's own time-out.
    let (book2, clock, _failures) = self::book();
    let t0 = clock.get();
    let _job = book2.join("e1", "click", t0 + BUDGET);
    let mut holder = book2.try_lead(t0).unwrap();
    holder.next_round(t0);
    holder.read(0, t0);
    let write_at = t0 + STORE_TIMEOUT;
    assert!(holder.renew(write_at));
    assert_eq!(
        book2.lease_expiry(),
        Some(write_at + STORE_TIMEOUT + LEASE_MARGIN)
    );
}
