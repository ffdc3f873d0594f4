//! The TestScheduler produces the same trace for a seed on every target: this native half runs
//! the workload shared with `wasm-tests` (wasm32) and asserts the same recorded hash.

#[path = "../../wasm-tests/shared/determinism.rs"]
mod determinism;

#[test]
fn trace_hash_matches_the_value_recorded_for_every_target() {
    determinism::assert_recorded_hash("this target");
}

#[test]
fn the_same_seed_gives_the_same_trace_and_different_seeds_differ() {
    determinism::assert_same_seed_same_trace();
}

#[test]
fn pct_trace_hash_matches_the_value_recorded_for_every_target() {
    determinism::assert_recorded_pct_hash("this target");
}

#[test]
fn priority_trace_hash_matches_the_value_recorded_for_every_target() {
    determinism::assert_recorded_priority_hash("this target");
}
