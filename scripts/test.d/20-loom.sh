#!/usr/bin/env bash
# Model checking with loom: the hand-written handshakes (the LinuxScheduler pool's park/unpark
# of sleeping workers, the TestScheduler's cross-thread inbox) under every interleaving loom
# explores with LOOM_MAX_PREEMPTIONS (default 3) preemptions. Built with `--cfg loom` (which
# swaps the `std` atomics and mutexes of `src/sync.rs`, and `parking`, for loom's models) in its
# own target folder, so it never invalidates the normal build.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
target="${CARGO_TARGET_DIR:-$PWD/target}/loom"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$target" LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}" \
  cargo test --locked -p tandem-scheduler --lib --release loom_
