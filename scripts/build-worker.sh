#!/usr/bin/env bash
# Builds worker/ into worker/build/ (index.js + wasm) with worker-build, fully offline from
# GitHub: wasm-bindgen, wasm-opt and esbuild come from the project's installed tools.
# wrangler.toml runs this as its build command; run it by hand to build without serving.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/worker-env.sh
for bin in "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN" "$(command -v worker-build || true)"; do
  if [ ! -x "$bin" ]; then
    echo "build-worker: missing tool '$bin'; run scripts/install-tools.sh worker" >&2
    exit 1
  fi
done
cd worker
exec worker-build --release
