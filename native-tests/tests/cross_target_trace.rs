//! The TestScheduler produces the same trace for a seed on every target: this native half runs
//! the workload shared with `wasm-tests` (wasm32) and asserts the same recorded hash.

#[path = "../../wasm-tests/shared/determinism.rs"]
mod determinism;

#[test]
fn trace_hash_matches_the_value_recorded_for_every_target() {
    let combined = determinism::combined_trace_hash();
    assert_eq!(
        combined,
        determinism::EXPECTED_COMBINED_HASH,
        "trace hash on this target: {combined:#018x}"
    );
}

#[test]
fn the_same_seed_gives_the_same_trace_and_different_seeds_differ() {
    let (trace, output) = determinism::run_workload(7);
    assert!(
        trace.len() > 100,
        "the workload is not trivial: {} events",
        trace.len()
    );
    assert_eq!(determinism::run_workload(7), (trace, output));
    assert_ne!(determinism::trace_hash(7), determinism::trace_hash(8));
}
