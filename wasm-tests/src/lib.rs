//! Helpers shared by the wasm32 test suite (`tests/`) and the Node benchmarks (`bench`) of the
//! `scheduler` crate's `WasmScheduler`. Everything here is wasm32-only; natively the crate is
//! empty, so `cargo test --workspace` stays green.

#[cfg(target_arch = "wasm32")]
pub mod bench;
#[cfg(target_arch = "wasm32")]
mod bench_priority;
#[cfg(target_arch = "wasm32")]
pub mod console_capture;
#[cfg(target_arch = "wasm32")]
pub mod reset;
#[cfg(target_arch = "wasm32")]
pub mod support;
