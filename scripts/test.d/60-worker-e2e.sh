#!/usr/bin/env bash
# End-to-end tests of the example app (worker/) on real workerd, in both configurations and
# both panic builds:
# 1. the dev server (`wrangler dev --var DEV_ROUTES:true` in worker/, as scripts/serve-worker.sh
#    serves it), the default panic = "unwind" build: worker/tests/e2e.mjs, every route including
#    the dev-only ones; then worker/tests/panics.mjs, one bad request never takes the Worker
#    down: 64 connections with 2% of requests panicking, then one request waking itself forever
#    (about 30 s; PANIC_SECONDS, SPIN_LOAD_SECONDS);
# 2. the deploy configuration (worker/wrangler.toml as committed, nothing added):
#    worker/tests/deploy.mjs, every dev-only route answers 404 with a message, the app's routes
#    still serve;
# 3. the dev server on the panic = "abort" build (PANIC=abort, one more release build):
#    PANIC_MODE=abort worker/tests/panics.mjs, a panic resets the instance, the next requests
#    succeed and the Worker logs the reset with the requests that failed with it.
# Each on a free loopback port with a fresh local KV; the server is stopped by its PID at the
# end, also when a test fails. Also lints the worker crate and the `cloudflare` feature for
# wasm32.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-tools.sh worker
source scripts/lib/worker-env.sh

echo "-- clippy (wasm32): scheduler --features cloudflare, scheduler-worker"
cargo clippy -p tandem-scheduler -p scheduler-worker --features tandem-scheduler/cloudflare \
  --target wasm32-unknown-unknown --locked -- -D warnings

echo "-- build the Worker"
scripts/build-worker.sh example

source scripts/lib/wrangler-server.sh
work="$(mktemp -d "${TMPDIR:-/tmp}/worker-e2e.XXXXXX")"
log="$work/wrangler-dev.log"
cleanup() {
  local status=$?
  stop_worker_server
  if [ "$status" != 0 ] && [ -f "$log" ]; then
    echo "-- wrangler dev log $log (errors and last 40 lines)"
    grep -a "ERROR" "$log" | head -20 || true
    tail -n 40 "$log"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ends the server and fails if anything still serves its state folder.
stop_and_check() {
  stop_worker_server
  if pgrep -f "$1" >/dev/null; then
    echo "stray processes still serving $1:" >&2
    pgrep -af "$1" >&2
    exit 1
  fi
}

echo "-- the dev server (dev routes on) on a free loopback port (state in $work/dev-state)"
start_worker_server worker "$work/dev-state" "$log" --var DEV_ROUTES:true
echo "   serving on $WORKER_URL"
echo "-- e2e tests"
WORKER_URL="$WORKER_URL" WRANGLER_LOG="$log" timeout 300 node worker/tests/e2e.mjs
echo "-- panics and a request that wakes itself forever, under load (panic = unwind)"
WORKER_URL="$WORKER_URL" WRANGLER_LOG="$log" timeout 300 node worker/tests/panics.mjs
stop_and_check "$work/dev-state"

echo "-- the deploy configuration (worker/wrangler.toml as committed) (state in $work/deploy-state)"
log="$work/wrangler-deploy.log"
start_worker_server worker "$work/deploy-state" "$log"
echo "   serving on $WORKER_URL"
WORKER_URL="$WORKER_URL" timeout 120 node worker/tests/deploy.mjs
stop_and_check "$work/deploy-state"

echo "-- the panic = abort build (PANIC=abort scripts/build-worker.sh)"
# wrangler runs the build command again on start: PANIC=abort keeps it on the abort build.
export PANIC=abort
scripts/build-worker.sh example
log="$work/wrangler-abort.log"
start_worker_server worker "$work/abort-state" "$log" --var DEV_ROUTES:true
echo "   serving on $WORKER_URL"
PANIC_MODE=abort WORKER_URL="$WORKER_URL" WRANGLER_LOG="$log" timeout 120 node worker/tests/panics.mjs
stop_and_check "$work/abort-state"
unset PANIC
echo "-- worker e2e passed (dev server and deploy configuration, unwind and abort builds); servers stopped"
