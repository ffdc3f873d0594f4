#!/usr/bin/env bash
# The one command that runs every test of the project, on a fresh machine or not.
# It installs what it needs (idempotently, from the registries only), then runs:
#   formatting and lints (native and wasm32), the docs with warnings denied, the native test
#   suites (cargo test --workspace), and every further suite in scripts/test.d/ (in name order).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# One build folder outside the clone, so a fresh clone on a machine that ran the tests before
# (CI does exactly that) starts warm. Set CARGO_TARGET_DIR to choose another.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/scheduler-target}"
start=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }
# Every step's output is also kept, to print one total of all suites at the end.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() { "$@" 2>&1 | tee -a "$log"; }

step "install tools"
scripts/install-tools.sh core

step "cargo fmt --check"
run cargo fmt --all -- --check

step "module graph: no import cycle, the dependency direction of ARCHITECTURE.md"
run python3 scripts/check-modules.py --self-test

step "clippy (native)"
run cargo clippy --workspace --all-targets --features native-tests/peers --locked -- -D warnings

step "clippy (wasm32)"
run cargo clippy -p tandem-scheduler --lib --target wasm32-unknown-unknown --locked -- -D warnings

step "docs with warnings denied (native; wasm32 with the cloudflare feature)"
run env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
run env RUSTDOCFLAGS="-D warnings" cargo doc -p tandem-scheduler --no-deps --locked \
  --target wasm32-unknown-unknown --features cloudflare

step "cargo test --workspace"
run cargo test --workspace --locked

for suite in scripts/test.d/*.sh; do
  [ -e "$suite" ] || continue
  step "suite $suite"
  run bash "$suite"
done

step "all suites passed"
# One closing line for all suites: cargo's and wasm-bindgen-test's "test result:" lines, plus
# the "N passed, N failed" lines of the other runners (the Worker e2e).
awk '/^test result:/ { passed += $4; failed += $6 }
     /^[0-9]+ passed, [0-9]+ failed$/ { passed += $1; failed += $3 }
     END { printf "%d passed, %d failed\n", passed, failed }' "$log"
