//! The simulated Durable Objects run on wasm32 too (every target): a counter object stays
//! exact over seeds with every object fault on, and one seed replays the same trace.
#![cfg(target_arch = "wasm32")]

use scheduler::cloud::{
    DurableObjectEventKind, DurableObjectEventOutcome, DurableObjectHandler, DurableObjectState,
    SimulatedDurableObjectNamespace, SimulatedExecutionContext, SimulationFaults,
};
use scheduler::{TestScheduler, TestSchedulerConfig, TraceEvent};
use std::time::Duration;
use wasm_bindgen_test::wasm_bindgen_test;

struct Counter<S: DurableObjectState>(S);

impl<S: DurableObjectState + 'static> DurableObjectHandler for Counter<S> {
    type Request = ();
    type Response = Result<u64, String>;

    async fn fetch(&self, (): ()) -> Result<u64, String> {
        let storage = self.0.storage();
        let count = storage
            .get::<u64>("count")
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or(0)
            + 1;
        storage
            .put("count", &count)
            .await
            .map_err(|e| e.to_string())?;
        Ok(count)
    }
}

/// 16 increments to one counter with object faults on: (trace, answered OK, stored count,
/// fetches completed).
fn run(seed: u64) -> (Vec<TraceEvent>, u64, u64, u64) {
    let test = TestScheduler::new(TestSchedulerConfig {
        trace: true,
        ..TestSchedulerConfig::with_seed(seed)
    });
    let ctx = SimulatedExecutionContext::new(test.clone());
    ctx.set_faults(SimulationFaults {
        object_storage_failure: 0.1,
        object_reset: 0.1,
        object_reset_within: Duration::from_millis(5),
        object_eviction: 0.1,
        ..SimulationFaults::default()
    });
    let counters = SimulatedDurableObjectNamespace::new(&ctx, "Counter", Counter);
    let stub = counters.get_by_name("click");
    let requests: Vec<_> = (0..16).map(|_| stub.fetch(())).collect();
    let ok = requests
        .into_iter()
        .map(|request| ctx.block(request))
        .filter(|answer| matches!(answer, Ok(Ok(_))))
        .count() as u64;
    test.advance_clock(Duration::from_secs(1));
    let stored = counters
        .stored::<u64>(&counters.id_from_name("click"), "count")
        .unwrap()
        .unwrap_or(0);
    let completed = counters
        .events()
        .iter()
        .filter(|event| {
            event.kind == DurableObjectEventKind::Fetch
                && event.outcome == Some(DurableObjectEventOutcome::Completed)
        })
        .count() as u64;
    (test.take_trace(), ok, stored, completed)
}

#[wasm_bindgen_test]
fn a_simulated_counter_is_exact_over_seeds_with_object_faults() {
    let mut failed = 0;
    for seed in 0..20 {
        let (_, ok, stored, completed) = run(seed);
        assert_eq!(stored, completed, "seed {seed}");
        assert_eq!(ok, completed, "seed {seed}");
        failed += 16 - ok;
    }
    assert!(failed > 0, "the faults hit nothing");
}

#[wasm_bindgen_test]
fn a_seed_replays_the_same_trace_on_wasm32() {
    for seed in 0..5 {
        assert_eq!(run(seed), run(seed), "seed {seed}");
    }
}
