#!/usr/bin/env bash
# The one command that runs every test of the project, on a fresh machine or not.
# It installs what it needs (idempotently, from the registries only), then runs:
#   formatting and lints (native and wasm32), the native test suites (cargo test --workspace),
#   and every further suite in scripts/test.d/ (in name order).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
start=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "install tools"
scripts/install-tools.sh core

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "clippy (wasm32)"
cargo clippy -p scheduler --lib --target wasm32-unknown-unknown --locked -- -D warnings

step "cargo test --workspace"
cargo test --workspace --locked

for suite in scripts/test.d/*.sh; do
  [ -e "$suite" ] || continue
  step "suite $suite"
  bash "$suite"
done

step "all suites passed"
