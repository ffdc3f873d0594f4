#!/usr/bin/env bash
# The README's main-job command: installs what the Worker needs (idempotent, registries only),
# builds worker/ and serves it locally on workerd with `wrangler dev`, telemetry off.
#   scripts/serve-worker.sh            # http://127.0.0.1:8787
#   PORT=9000 scripts/serve-worker.sh  # another port
# Local KV state lives in target/worker-state (WORKER_STATE_DIR overrides it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh worker
source scripts/lib/worker-env.sh
PORT="${PORT:-8787}"
scripts/build-worker.sh
mkdir -p "$WORKER_STATE_DIR"
cat <<MSG

  Worker: http://127.0.0.1:$PORT
  try:    curl -i -X POST http://127.0.0.1:$PORT/events -H 'content-type: application/json' \\
            -d '{"type":"click","user":"ada","values":[1,2.5,40]}'
          curl -s http://127.0.0.1:$PORT/stats

MSG
exec wrangler dev --local --ip 127.0.0.1 --port "$PORT" --persist-to "$WORKER_STATE_DIR" \
  --show-interactive-dev-session=false
