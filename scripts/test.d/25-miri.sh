#!/usr/bin/env bash
# Miri: the core and the TestScheduler under the interpreter, which reports undefined behaviour
# (the owner-thread cell's `unsafe`, async-task's raw task memory as we use it, data races).
# Bounded: ITERATIONS=2 keeps the many-seed tests short, and the tests shrink their sizes under
# `cfg(miri)`; the suites that start real threads, processes or OS objects are not run here.
# The isolation flag lets a failing `current_exe()` (the replay hint) degrade instead of abort.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
scripts/install-tools.sh miri
export ITERATIONS="${ITERATIONS:-2}"
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-isolation-error=warn-nobacktrace}"
cargo +nightly miri test --locked -p scheduler --lib
cargo +nightly miri test --locked -p native-tests \
  --test task_lifecycle --test executors --test seed_harness
