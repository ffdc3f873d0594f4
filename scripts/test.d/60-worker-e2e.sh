#!/usr/bin/env bash
# End-to-end tests of the real Worker: builds worker/, serves it with `wrangler dev` (workerd)
# on a free loopback port with a fresh local KV, runs worker/tests/e2e.mjs against it, and stops
# the server by its PID at the end, also when a test fails. Also lints the worker crate and the
# `cloudflare` feature for wasm32.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-tools.sh worker
source scripts/lib/worker-env.sh

echo "-- clippy (wasm32): scheduler --features cloudflare, scheduler-worker"
cargo clippy -p tandem-scheduler -p scheduler-worker --features tandem-scheduler/cloudflare \
  --target wasm32-unknown-unknown --locked -- -D warnings

echo "-- build the Worker"
scripts/build-worker.sh

source scripts/lib/wrangler-server.sh
work="$(mktemp -d "${TMPDIR:-/tmp}/worker-e2e.XXXXXX")"
cleanup() {
  local status=$?
  stop_worker_server
  if [ "$status" != 0 ] && [ -f "$work/wrangler.log" ]; then
    echo "-- wrangler dev log (errors and last 40 lines)"
    grep -a "ERROR" "$work/wrangler.log" | head -20 || true
    tail -n 40 "$work/wrangler.log"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "-- wrangler dev on a free loopback port (state in $work/state)"
start_worker_server "$work/state" "$work/wrangler.log"
echo "   serving on $WORKER_URL"

echo "-- e2e tests"
WORKER_URL="$WORKER_URL" WRANGLER_LOG="$work/wrangler.log" timeout 300 node worker/tests/e2e.mjs

stop_worker_server
if pgrep -f "$work/state" >/dev/null; then
  echo "stray processes still serving $work/state:" >&2
  pgrep -af "$work/state" >&2
  exit 1
fi
echo "-- worker e2e passed; server stopped"
