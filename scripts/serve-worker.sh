#!/usr/bin/env bash
# The README's main-job command: installs what the Worker needs (idempotent, registries only),
# builds a Worker and serves it locally on workerd with `wrangler dev`, telemetry off.
#   scripts/serve-worker.sh                  # the example app (worker/), http://127.0.0.1:8787
#   scripts/serve-worker.sh template         # the Worker template (templates/worker/)
#   PORT=9000 scripts/serve-worker.sh        # another port
#   DEV_ROUTES=false scripts/serve-worker.sh # the example app exactly as deployed
# The example app is served with its dev-only routes on (benchmark, fault, debug and peer
# routes: `--var DEV_ROUTES:true`); its worker/wrangler.toml alone, as deployed, mounts none.
# Local KV state lives in target/worker-state (WORKER_STATE_DIR overrides it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh worker
source scripts/lib/worker-env.sh
app="${1:-example}"
worker_app "$app"
PORT="${PORT:-8787}"
scripts/build-worker.sh "$app"
mkdir -p "$WORKER_STATE_DIR"
args=()
if [ "$app" = example ]; then
  [ "${DEV_ROUTES:-true}" = true ] && args+=(--var DEV_ROUTES:true)
  cat <<MSG

  Worker: http://127.0.0.1:$PORT (the example app, $WORKER_APP_DIR; dev routes ${DEV_ROUTES:-true})
  try:    curl -i -X POST http://127.0.0.1:$PORT/events -H 'content-type: application/json' \\
            -d '{"type":"click","user":"ada","values":[1,2.5,40]}'
          curl -s http://127.0.0.1:$PORT/stats

MSG
else
  cat <<MSG

  Worker: http://127.0.0.1:$PORT (the template, $WORKER_APP_DIR)
  try:    curl -i -X POST http://127.0.0.1:$PORT/hello/ada
          curl -s http://127.0.0.1:$PORT/hello/ada

MSG
fi
# wrangler runs in the Worker's folder (its wrangler.toml, its build command), as in any
# Workers project.
cd "$WORKER_APP_DIR"
exec wrangler dev --local --ip 127.0.0.1 --port "$PORT" --persist-to "$WORKER_STATE_DIR" \
  --show-interactive-dev-session=false ${args[@]+"${args[@]}"}
