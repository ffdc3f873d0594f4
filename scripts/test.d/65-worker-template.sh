#!/usr/bin/env bash
# The Worker template (templates/worker/) on real workerd: lints it for wasm32, builds it, serves
# it with `wrangler dev` in templates/worker/ (its own build command, `worker-build --release`,
# runs with the project's offline tools from worker-env.sh) on a free
# loopback port, and runs templates/worker/tests/e2e.mjs against it: its routes answer, its
# wait_until work lands, bad input gets a 4xx. Its native tests run in `cargo test --workspace`.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-tools.sh worker
source scripts/lib/worker-env.sh

echo "-- clippy (wasm32): worker-template"
cargo clippy -p worker-template --target wasm32-unknown-unknown --locked -- -D warnings

echo "-- build the template"
scripts/build-worker.sh template

source scripts/lib/wrangler-server.sh
work="$(mktemp -d "${TMPDIR:-/tmp}/worker-template.XXXXXX")"
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
# wrangler runs the template's build command (worker-build) before serving: allow for it.
WORKER_READY_SECONDS=180 start_worker_server templates/worker "$work/state" "$work/wrangler.log"
echo "   serving on $WORKER_URL"

echo "-- template e2e tests"
WORKER_URL="$WORKER_URL" timeout 120 node templates/worker/tests/e2e.mjs

stop_worker_server
if pgrep -f "$work/state" >/dev/null; then
  echo "stray processes still serving $work/state:" >&2
  pgrep -af "$work/state" >&2
  exit 1
fi
echo "-- worker template e2e passed; server stopped"
