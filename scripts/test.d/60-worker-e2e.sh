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
cargo clippy -p scheduler -p scheduler-worker --features scheduler/cloudflare \
  --target wasm32-unknown-unknown --locked -- -D warnings

echo "-- build the Worker"
scripts/build-worker.sh

work="$(mktemp -d "${TMPDIR:-/tmp}/worker-e2e.XXXXXX")"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    # wrangler runs in its own process group (setsid): end it and its workerd children.
    kill -TERM -- "-$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
cleanup() {
  local status=$?
  stop_server
  if [ "$status" != 0 ] && [ -f "$work/wrangler.log" ]; then
    echo "-- wrangler dev log (last 60 lines)"; tail -n 60 "$work/wrangler.log"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}
port="$(free_port)"
inspector_port="$(free_port)"
url="http://127.0.0.1:$port"

echo "-- wrangler dev on $url (state in $work/state)"
setsid wrangler dev --local --ip 127.0.0.1 --port "$port" \
  --inspector-ip 127.0.0.1 --inspector-port "$inspector_port" \
  --persist-to "$work/state" --show-interactive-dev-session=false \
  >"$work/wrangler.log" 2>&1 </dev/null &
server_pid=$!

ready=0
for _ in $(seq 1 240); do   # at most ~60 s
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "wrangler dev exited before it was ready" >&2; exit 1
  fi
  if curl -sf -m 2 -o /dev/null "$url/stats"; then ready=1; break; fi
  sleep 0.25
done
[ "$ready" = 1 ] || { echo "wrangler dev was not ready within 60 s" >&2; exit 1; }

echo "-- e2e tests"
WORKER_URL="$url" WRANGLER_LOG="$work/wrangler.log" timeout 300 node worker/tests/e2e.mjs

stop_server
if pgrep -f "$work/state" >/dev/null; then
  echo "stray workerd processes still serving $work/state:" >&2
  pgrep -af "$work/state" >&2
  exit 1
fi
echo "-- worker e2e passed; server stopped"
