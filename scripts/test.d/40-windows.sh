#!/usr/bin/env bash
# Windows and macOS backends.
# - WindowsScheduler really runs: native-tests/tests/windows_backend.rs is cross-compiled to
#   x86_64-pc-windows-gnu and run under Wine (headless, in the prefix install-tools.sh makes once,
#   with its bcryptprimitives.dll shim; see /work/shared/TOOLCHAIN.md, "Windows code").
# - clippy -D warnings for x86_64-pc-windows-msvc (no MSVC linker here: check only).
# - GcdScheduler cannot run here (no Apple SDK): cargo check + clippy -D warnings for
#   aarch64-apple-darwin and x86_64-apple-darwin.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-tools.sh windows apple

step() { printf '\n--> %s\n' "$*"; }

step "clippy + check: apple targets (GcdScheduler)"
for target in aarch64-apple-darwin x86_64-apple-darwin; do
  cargo clippy --locked --workspace --all-targets --target "$target" -- -D warnings
  cargo check --locked --workspace --all-targets --target "$target"
done

step "clippy: x86_64-pc-windows-msvc and x86_64-pc-windows-gnu (WindowsScheduler)"
for target in x86_64-pc-windows-msvc x86_64-pc-windows-gnu; do
  cargo clippy --locked --workspace --all-targets --target "$target" -- -D warnings
done

step "windows backend tests under Wine"
TOOLS_DIR="${SCHEDULER_TOOLS:-$HOME/.cache/scheduler-tools}"
export WINEPREFIX="${SCHEDULER_WINEPREFIX:-$TOOLS_DIR/wine-prefix}"
export WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64
# Stop this prefix's wineserver however the run ends (never `wineserver -p`: it would linger).
trap '/usr/lib/wine/wineserver64 -k >/dev/null 2>&1 || true' EXIT
# The backend's own tests, the shared behaviour suite on it, and its priority tests.
tests=(--test windows_backend)
[ -f native-tests/tests/windows_behaviour.rs ] && tests+=(--test windows_behaviour)
tests+=(--test windows_priorities)
# One test at a time: the timer-order test must not share the 2 cores with a million tasks.
cargo test --locked --target x86_64-pc-windows-gnu -p native-tests "${tests[@]}" \
  -- --test-threads=1

step "stress slice on the WindowsScheduler under Wine (native-tests/src/bin/stress.rs)"
cargo run --locked --release --target x86_64-pc-windows-gnu -p native-tests --bin stress -- \
  --backend windows --tasks "${STRESS_TASKS_WINDOWS:-100000}"
/usr/lib/wine/wineserver64 -w
