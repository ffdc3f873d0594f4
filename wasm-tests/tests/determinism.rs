//! The TestScheduler produces the same trace for a seed on wasm32 as natively: this wasm half
//! runs the workload shared with `native-tests` and asserts the same recorded hash.
#![cfg(target_arch = "wasm32")]

#[path = "../shared/determinism.rs"]
mod determinism;

use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn trace_hash_matches_the_value_recorded_for_every_target() {
    determinism::assert_recorded_hash("wasm32");
}

#[wasm_bindgen_test]
fn the_same_seed_gives_the_same_trace_and_different_seeds_differ() {
    determinism::assert_same_seed_same_trace();
}

#[wasm_bindgen_test]
fn pct_trace_hash_matches_the_value_recorded_for_every_target() {
    determinism::assert_recorded_pct_hash("wasm32");
}

#[wasm_bindgen_test]
fn priority_trace_hash_matches_the_value_recorded_for_every_target() {
    determinism::assert_recorded_priority_hash("wasm32");
}
