//! Compiles and runs the examples of `README.md` and of every page in `docs/` as doctests, so
//! they stay true: one item per page.
#![doc = include_str!("../README.md")]

#[doc = include_str!("../docs/testing.md")]
mod testing {}

#[doc = include_str!("../docs/cloud.md")]
mod cloud {}

#[doc = include_str!("../docs/priorities.md")]
mod priorities {}

#[doc = include_str!("../docs/backends.md")]
mod backends {}

#[doc = include_str!("../docs/tracing.md")]
mod tracing {}

#[doc = include_str!("../docs/performance.md")]
mod performance {}

#[doc = include_str!("../docs/contributing.md")]
mod contributing {}
