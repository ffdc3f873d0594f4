#!/usr/bin/env bash
# The Worker under faults (issue 10): builds worker/, serves it with `wrangler dev` (workerd) on
# a free loopback port with a fresh local KV, and runs worker/tests/faults.mjs against it:
# FAULT_CONNECTIONS (64) clients post events for FAULT_SECONDS (60 s), a share of them cut off
# mid-request, while KV calls fail or stall on purpose (the /debug/faults plan, a dev route: the
# server runs with --var DEV_ROUTES:true, as scripts/serve-worker.sh does); then it checks
# that no 5xx came but injected ones, that no counter increment was lost or counted twice once
# the Worker settled, and that /stats shows no open session. Stops the server by its PID however
# the run ends. FAULT_SEED replays the driver's and the injector's choices; the other knobs are
# listed at the top of worker/tests/faults.mjs.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-tools.sh worker
source scripts/lib/worker-env.sh

echo "-- build the Worker"
scripts/build-worker.sh example

source scripts/lib/wrangler-server.sh
work="$(mktemp -d "${TMPDIR:-/tmp}/worker-faults.XXXXXX")"
cleanup() {
  local status=$?
  stop_worker_server
  if [ -f "$work/wrangler.log" ]; then
    # Expected: a request cut off while its body was read fails to read it ("failed to read
    # array buffer"), and wrangler's proxy notes the lost connection. Anything else is shown.
    echo "-- wrangler dev log: error lines by kind"
    grep -a "ERROR" "$work/wrangler.log" | sed 's/\x1b\[[0-9;]*m//g' |
      sed -E 's#https?://[^ ]*#URL#g; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -20 || true
    if [ "$status" != 0 ]; then
      echo "-- wrangler dev log (last 40 lines)"
      tail -n 40 "$work/wrangler.log"
    fi
  fi
  # FAULT_LOG_COPY=path keeps the server log for a closer look.
  if [ -n "${FAULT_LOG_COPY:-}" ] && [ -f "$work/wrangler.log" ]; then cp "$work/wrangler.log" "$FAULT_LOG_COPY"; fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "-- wrangler dev (dev routes on) on a free loopback port (state in $work/state)"
start_worker_server worker "$work/state" "$work/wrangler.log" --var DEV_ROUTES:true
echo "   serving on $WORKER_URL"

echo "-- the Worker under faults"
seconds="${FAULT_SECONDS:-60}"
WORKER_URL="$WORKER_URL" WRANGLER_LOG="$work/wrangler.log" timeout "$(( seconds + 240 ))" node worker/tests/faults.mjs

stop_worker_server
if pgrep -f "$work/state" >/dev/null; then
  echo "stray processes still serving $work/state:" >&2
  pgrep -af "$work/state" >&2
  exit 1
fi
echo "-- worker faults suite passed; server stopped"
