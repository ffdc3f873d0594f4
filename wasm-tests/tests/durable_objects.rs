//! The simulated Durable Objects run on wasm32 too (every target): a counter object stays
//! exact over seeds with every object fault on, and one seed replays the same trace.
#![cfg(target_arch = "wasm32")]

use scheduler::cloud::{
    DurableObjectHandler, DurableObjectState, SimulatedDurableObjectNamespace,
    SimulatedExecutionContext, SimulationFaults,
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

/// 16 increments to one counter with object faults on: (trace, the counts answered OK,
/// the stored count).
fn run(seed: u64) -> (Vec<TraceEvent>, Vec<u64>, u64) {
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
    let answers: Vec<u64> = requests
        .into_iter()
        .filter_map(|request| ctx.block(request).ok().and_then(Result::ok))
        .collect();
    test.advance_clock(Duration::from_secs(1));
    let stored = counters
        .stored::<u64>(&counters.id_from_name("click"), "count")
        .unwrap()
        .unwrap_or(0);
    (test.take_trace(), answers, stored)
}

#[wasm_bindgen_test]
fn a_simulated_counter_is_exact_over_seeds_with_object_faults() {
    let mut failed = 0;
    for seed in 0..20 {
        let (_, mut answers, stored) = run(seed);
        // Each answer is its own count (none given twice), and every one answered is stored.
        answers.sort_unstable();
        let answered = answers.len();
        answers.dedup();
        assert_eq!(answers.len(), answered, "seed {seed}: a count given twice");
        assert!(answers.iter().all(|&count| count <= stored), "seed {seed}");
        assert!(stored <= 16, "seed {seed}");
        failed += 16 - answered;
    }
    assert!(failed > 0, "the faults hit nothing");
}

#[wasm_bindgen_test]
fn a_seed_replays_the_same_trace_on_wasm32() {
    for seed in 0..5 {
        assert_eq!(run(seed), run(seed), "seed {seed}");
    }
}
