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
source scripts/lib/nightly.sh
# cargo-miri's test "binaries" are scripts that change to the clone they were built from, and
# cargo reuses them from another clone of the same commit: one Miri build folder per clone path
# keeps a run from testing some other clone (the Miri build of the dependencies takes ~10 s).
clone_key=$(pwd | cksum | cut -d' ' -f1)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/scheduler-target}/miri-$clone_key"
export ITERATIONS="${ITERATIONS:-2}"
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-isolation-error=warn-nobacktrace}"
cargo "+$SCHEDULER_NIGHTLY" miri test --locked -p tandem-scheduler --lib
cargo "+$SCHEDULER_NIGHTLY" miri test --locked -p native-tests \
  --test task_lifecycle --test executors --test seed_harness
