#!/usr/bin/env bash
# Builds a Worker into its build/ folder (index.js + wasm) with worker-build, fully offline from
# GitHub: wasm-bindgen, wasm-opt and esbuild come from the project's installed tools.
#   scripts/build-worker.sh            # the example app, worker/ -> worker/build/
#   scripts/build-worker.sh template   # the template, templates/worker/ -> templates/worker/build/
# worker/wrangler.toml runs this as its build command (the template's runs worker-build itself,
# as a copied template does); run it by hand to build without serving.
#
# One switch, PANIC, picks the panic strategy:
#   PANIC=unwind   (the example app's default) the pinned nightly (scripts/lib/nightly.sh)
#                  rebuilds std with unwinding (worker-build --panic-unwind): a panicking
#                  request fails alone with a 500, the isolate and its state live on
#   PANIC=abort    (the template's default, as its wrangler.toml builds it) stable Rust: a
#                  panic ends the wasm instance, which is replaced on the next request
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/worker-env.sh
source scripts/lib/nightly.sh
worker_app "${1:-example}"
if [ "$WORKER_APP_DIR" = worker ]; then panic="${PANIC:-unwind}"; else panic="${PANIC:-abort}"; fi
case "$panic" in
  unwind) strategy="unwind $SCHEDULER_NIGHTLY" ;;
  abort) strategy="abort" ;;
  *) echo "build-worker: PANIC must be unwind or abort, not '$panic'" >&2; exit 2 ;;
esac
for bin in "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN" "$(command -v worker-build || true)"; do
  if [ ! -x "$bin" ]; then
    echo "build-worker: missing tool '$bin'; run scripts/install-tools.sh worker" >&2
    exit 1
  fi
done
# Up to date (built with the same panic strategy, and nothing the Worker is built from is newer
# than its output): skip, so `wrangler dev` (which runs this on start) starts at once. FORCE=1
# rebuilds anyway.
out="$WORKER_APP_DIR/build"
if [ "${FORCE:-0}" != 1 ] && [ -f "$out/index.js" ] && [ -f "$out/index_bg.wasm" ] &&
   [ "$(cat "$out/.panic-strategy" 2>/dev/null)" = "$strategy" ] &&
   [ -z "$(find src "$WORKER_APP_DIR/src" Cargo.toml Cargo.lock "$WORKER_APP_DIR/Cargo.toml" \
             -newer "$out/index.js" -print -quit)" ]; then
  echo "build-worker: $out is up to date (panic = $panic)"
  exit 0
fi
rm -f "$out/.panic-strategy"
if [ "$panic" = unwind ]; then
  if ! rustup toolchain list | grep -q "^$SCHEDULER_NIGHTLY"; then
    echo "build-worker: missing $SCHEDULER_NIGHTLY; run scripts/install-tools.sh worker" >&2
    exit 1
  fi
  # worker-build --panic-unwind runs `cargo +nightly build -Zbuild-std=std,panic_unwind` with
  # RUSTFLAGS=-Cpanic=unwind, after checking the floating `nightly` with rustc and rustup (and
  # installing it if missing). These wrappers, first on PATH, send it to the pinned nightly.
  shims="${SCHEDULER_TOOLS:-$HOME/.cache/scheduler-tools}/nightly-shims/$SCHEDULER_NIGHTLY"
  mkdir -p "$shims"
  for tool in cargo rustc rustup; do
    real="$(command -v "$tool")"
    if [ "$tool" = rustup ]; then pattern='+nightly|nightly'; else pattern='+nightly'; fi
    cat > "$shims/$tool.new" <<EOF
#!/usr/bin/env bash
# Written by scripts/build-worker.sh: the floating "nightly" toolchain is $SCHEDULER_NIGHTLY here.
args=()
for arg in "\$@"; do
  case "\$arg" in
    $pattern) args+=("\${arg/nightly/$SCHEDULER_NIGHTLY}") ;;
    *) args+=("\$arg") ;;
  esac
done
exec "$real" "\${args[@]}"
EOF
    chmod +x "$shims/$tool.new"
    mv "$shims/$tool.new" "$shims/$tool"
  done
  (cd "$WORKER_APP_DIR" && PATH="$shims:$PATH" worker-build --release --panic-unwind)
else
  (cd "$WORKER_APP_DIR" && worker-build --release)
fi
echo "$strategy" > "$out/.panic-strategy"
echo "build-worker: built $out (panic = $panic)"
