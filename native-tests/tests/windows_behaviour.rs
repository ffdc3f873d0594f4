//! The shared behaviour suite (`native_tests::behaviour`) on the `WindowsScheduler`.
#![cfg(windows)]

use native_tests::harnesses::WindowsHarness;

native_tests::behaviour_tests!(WindowsHarness::new());
