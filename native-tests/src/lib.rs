//! Integration tests and benchmarks of `scheduler` live in `tests/` and `benches/`.
