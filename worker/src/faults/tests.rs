use super::*;
use crate::ingest::MemoryStore;
use scheduler::TestScheduler;

fn plan(seed: u64) -> FaultPlan {
    FaultPlan {
        seed,
        get_failure: 0.1,
        put_failure: 0.2,
        stall: 0.3,
        stall_min_ms: 100,
        stall_max_ms: 7000,
        stall_after: 0.5,
    }
}

fn decisions(plan: FaultPlan, calls: usize) -> Vec<FaultAction> {
    let test = TestScheduler::with_seed(0);
    let faults = FaultInjector::new(test);
    faults.set_plan(plan).unwrap();
    (0..calls)
        .map(|n| {
            let operation = if n % 2 == 0 { "get" } else { "put" };
            faults.decide(FaultPoint::Store {
                operation,
                key: "k",
            })
        })
        .collect()
}

#[test]
fn a_seed_gives_the_same_decisions_and_the_rates_hold() {
    let first = decisions(plan(7), 20_000);
    assert_eq!(first, decisions(plan(7), 20_000));
    assert_ne!(first, decisions(plan(8), 20_000));
    let share = |count: usize, of: usize| count as f64 / of as f64;
    let fail = |d: &&FaultAction| **d == FaultAction::Fail;
    let failed_gets = first.iter().step_by(2).filter(fail).count();
    let failed_puts = first.iter().skip(1).step_by(2).filter(fail).count();
    assert!(
        (share(failed_gets, 10_000) - 0.1).abs() < 0.02,
        "{failed_gets}"
    );
    assert!(
        (share(failed_puts, 10_000) - 0.2).abs() < 0.02,
        "{failed_puts}"
    );
    let stalls: Vec<Duration> = first
        .iter()
        .filter_map(|d| match d {
            FaultAction::Stall(stall) | FaultAction::StallAnswer(stall) => Some(*stall),
            _ => None,
        })
        .collect();
    let not_failed = first.iter().filter(|d| !fail(d)).count();
    assert!((share(stalls.len(), not_failed) - 0.3).abs() < 0.02);
    assert!(
        stalls
            .iter()
            .all(|stall| (100..=7000).contains(&stall.as_millis()))
    );
}

#[test]
fn off_or_without_an_injector_every_call_reaches_the_store() {
    let test = TestScheduler::with_seed(1);
    let faults = FaultInjector::new(test.clone());
    let store = InjectingStore::new(MemoryStore::new(), Some(faults.clone()));
    let plain = InjectingStore::new(MemoryStore::new(), None);
    test.block(async {
        for n in 0..100 {
            store.put(&format!("k{n}"), "v".into()).await.unwrap();
            plain.put(&format!("k{n}"), "v".into()).await.unwrap();
        }
    });
    assert_eq!(store.inner().len(), 100);
    assert_eq!(plain.inner().len(), 100);
    let counts = faults.counts();
    assert_eq!((counts.puts, counts.failed_puts), (100, 0));
    assert_eq!(test.elapsed(), Duration::ZERO);
}

#[test]
fn an_injected_failure_writes_nothing_and_a_stall_after_lands_the_write() {
    let test = TestScheduler::with_seed(2);
    let faults = FaultInjector::new(test.clone());
    let store = InjectingStore::new(MemoryStore::new(), Some(faults.clone()));
    faults
        .set_plan(FaultPlan {
            put_failure: 1.0,
            ..FaultPlan::default()
        })
        .unwrap();
    let error = test.block(store.put("event:a", "v".into())).unwrap_err();
    assert_eq!(error.0, "KV put event:a: injected failure");
    assert!(store.inner().is_empty());
    faults
        .set_plan(FaultPlan {
            stall: 1.0,
            stall_min_ms: 6000,
            stall_max_ms: 6000,
            stall_after: 1.0,
            ..FaultPlan::default()
        })
        .unwrap();
    // Given up on after 1 s: the write has landed all the same.
    let scheduler: Arc<dyn Scheduler> = test.clone();
    let put = store.put("event:b", "v".into());
    let given_up = test.block(async {
        let put = std::pin::pin!(put);
        let limit = std::pin::pin!(scheduler.timer(Duration::from_secs(1)));
        matches!(
            futures::future::select(put, limit).await,
            futures::future::Either::Right(_)
        )
    });
    assert!(given_up);
    assert_eq!(store.inner().len(), 1);
    let counts = faults.counts();
    assert_eq!((counts.stalls_after, counts.stalls_over_timeout), (1, 1));
    faults.turn_off();
    assert!(!faults.plan().is_active());
    assert_eq!(faults.counts(), counts);
}

#[test]
fn a_bad_plan_is_refused() {
    let faults = FaultInjector::new(TestScheduler::with_seed(0));
    for bad in [
        FaultPlan {
            stall: 1.5,
            ..FaultPlan::default()
        },
        FaultPlan {
            stall_min_ms: 10,
            stall_max_ms: 5,
            ..FaultPlan::default()
        },
        FaultPlan {
            stall_max_ms: 61_000,
            ..FaultPlan::default()
        },
    ] {
        assert!(faults.set_plan(bad).is_err());
    }
}
