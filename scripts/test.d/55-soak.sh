#!/usr/bin/env bash
# The long-run memory soak (native-tests/tests/soak.rs, issue 20) in release, at SOAK_SCALE
# (default 20): millions of tasks and timeline events, 150k simulated sessions, 40M labels on
# one TestScheduler each, every one asserting that live heap bytes (counted by the test's own
# global allocator, not RSS) stay within a fixed slack after its warm-up. The ignored test there
# (the live-task registry, issue 20 #2) is not run.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
SOAK_SCALE="${SOAK_SCALE:-20}" cargo test --locked --release -p native-tests --test soak -- --nocapture
