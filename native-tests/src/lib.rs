//! Integration tests and benchmarks of `scheduler` live in `tests/` and `benches/`.
//!
//! [`support`] has small shared helpers; [`child`] runs a scenario in a child process (for
//! misuse that would abort or hang); [`behaviour`] holds the test bodies every scheduler backend must pass, generic over a small
//! [`behaviour::Harness`]; each backend runs them with [`behaviour_tests!`] on its harness from [`harnesses`]. [`threads`] has the
//! bodies only backends with real threads can run (dedicated threads that block or end,
//! realtime threads).

pub mod behaviour;
pub mod child;
pub mod exploration;
#[cfg(any(target_os = "linux", target_os = "freebsd", windows))]
pub mod harnesses;
pub mod support;
pub mod threads;
pub mod workloads;
