#!/usr/bin/env bash
# The stress binary (native-tests/src/bin/stress.rs), a bounded slice: STRESS_TASKS tasks
# (default 500,000) on the LinuxScheduler and on the TestScheduler with real threads allowed,
# with wakes from other threads, timers, child and foreground tasks and cancellation mid-flight;
# every future must be dropped exactly once and no wave may stall. The full run is
# `cargo run --release -p native-tests --bin stress -- --tasks 10000000`. The Windows slice runs
# under Wine in 40-windows.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo run --locked --release -p native-tests --bin stress -- --tasks "${STRESS_TASKS:-500000}"
