#!/usr/bin/env bash
# Builds a Worker into its build/ folder (index.js + wasm) with worker-build, fully offline from
# GitHub: wasm-bindgen, wasm-opt and esbuild come from the project's installed tools.
#   scripts/build-worker.sh            # the example app, worker/ -> worker/build/
#   scripts/build-worker.sh template   # the template, templates/worker/ -> templates/worker/build/
# worker/wrangler.toml runs this as its build command (the template's runs worker-build itself,
# as a copied template does); run it by hand to build without serving.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/worker-env.sh
worker_app "${1:-example}"
for bin in "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN" "$(command -v worker-build || true)"; do
  if [ ! -x "$bin" ]; then
    echo "build-worker: missing tool '$bin'; run scripts/install-tools.sh worker" >&2
    exit 1
  fi
done
# Up to date (nothing the Worker is built from is newer than its output): skip, so
# `wrangler dev` (which runs this on start) starts at once. FORCE=1 rebuilds anyway.
out="$WORKER_APP_DIR/build"
if [ "${FORCE:-0}" != 1 ] && [ -f "$out/index.js" ] && [ -f "$out/index_bg.wasm" ] &&
   [ -z "$(find src "$WORKER_APP_DIR/src" Cargo.toml Cargo.lock "$WORKER_APP_DIR/Cargo.toml" \
             -newer "$out/index.js" -print -quit)" ]; then
  echo "build-worker: $out is up to date"
  exit 0
fi
cd "$WORKER_APP_DIR"
exec worker-build --release
