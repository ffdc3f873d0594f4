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
# Up to date (nothing the Worker is built from is newer than its output): skip, so
# `wrangler dev` (which runs this on start) starts at once. FORCE=1 rebuilds anyway.
if [ "${FORCE:-0}" != 1 ] && [ -f worker/build/index.js ] && [ -f worker/build/index_bg.wasm ] &&
   [ -z "$(find src worker/src Cargo.toml Cargo.lock worker/Cargo.toml -newer worker/build/index.js -print -quit)" ]; then
  echo "build-worker: worker/build is up to date"
  exit 0
fi
cd worker
exec worker-build --release
