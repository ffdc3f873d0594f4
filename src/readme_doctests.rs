//! Compiles and runs the README's examples as doctests, so they stay true.
#![doc = include_str!("../README.md")]
