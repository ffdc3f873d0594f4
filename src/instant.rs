//! The scheduler's [`Instant`]: `std::time::Instant` natively, a wasm-safe instant on wasm32
//! (where `std::time::Instant::now()` panics).

pub use web_time::Instant;
