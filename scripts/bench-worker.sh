#!/usr/bin/env bash
# Worker load benchmark (not part of the test run), on one workerd (wrangler dev, loopback),
# with wrk, two route pairs, ours against the same handler on plain spawn_local:
#   fanout  GET /fanout (WorkerdScheduler) vs GET /peer/fanout: the CPU-bound handler of
#           BENCHMARKS.md without KV (10 subtasks with yields and a 1 ms timer, one wait_until
#           job), where the scheduler sets the rate (issue 11 target: >= 1.1x req/s, p99 no worse)
#   ingest  POST /events vs POST /peer/events: the event-ingest handler, KV-bound (target:
#           >= 1.0x req/s, p99 no worse)
# At every connection count of CONNECTIONS, ROUNDS rounds of DURATION per route, alternating
# (ours first in odd rounds, the peer first in even ones), after an uncounted warm-up. Prints
# req/s and p99 medians, the ratio ours / peer per round (median [min-max]), then waits until
# every wait_until job has landed and verifies the side effects: each fanout job completed
# exactly once with the right sum (/debug/bench), each ingest 202 stored and counted once. Writes
# the worker-rps and worker-p99 charts (CSV + SVG) and worker.targets.csv to
# $CARGO_TARGET_DIR/bench-results (default target/bench-results); CHARTS_DIR=docs/perf copies
# them there too. A benchmark never fails on its figures.
#   scripts/bench-worker.sh                                   # 1 16 64 256 conns, 3 x 10 s
#   CONNECTIONS=64 DURATION=30s scripts/bench-worker.sh       # one point
#   PAIRS=fanout CONNECTIONS="16 64" scripts/bench-worker.sh  # one pair
#   scripts/bench-worker.sh panic-cost                        # panic = "unwind" against "abort"
# panic-cost: both builds of the example app served at once (each its own workerd), wrk
# alternating between them on GET /fanout, ROUNDS rounds of DURATION at each of CONNECTIONS
# (default 64); prints each build's wasm size, req/s and p99 medians, and unwind / abort.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh bench
source scripts/lib/worker-env.sh
source scripts/lib/wrangler-server.sh
CONNECTIONS="${CONNECTIONS:-1 16 64 256}"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
PAIRS="${PAIRS:-fanout ingest}"
TARGET_CONNECTIONS="${TARGET_CONNECTIONS:-64}"
results="${CARGO_TARGET_DIR:-target}/bench-results"

to_ms() { # wrk latency (e.g. 812.00us, 12.34ms, 1.20s, 1.00m) -> ms
  awk -v v="$1" 'BEGIN{n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /m$/) n*=60000; else if (v ~ /s$/) n*=1000; printf "%.3f", n}'
}

if [ "${1:-}" = panic-cost ]; then
  CONNECTIONS="${CONNECTIONS/1 16 64 256/64}"
  work="$(mktemp -d "${TMPDIR:-/tmp}/worker-panic-cost.XXXXXX")"
  pids=()
  stop_all() { for pid in "${pids[@]}"; do WORKER_PID="$pid"; stop_worker_server; done; rm -rf "$work"; }
  trap stop_all EXIT
  trap 'exit 130' INT TERM
  # The abort build, served from a copy (its wrangler.toml without the build command).
  PANIC=abort scripts/build-worker.sh example
  mkdir -p "$work/abort"
  cp -r worker/build "$work/abort/build"
  sed '/^\[build\]/,/^$/d' worker/wrangler.toml >"$work/abort/wrangler.toml"
  export PANIC=unwind
  scripts/build-worker.sh example
  declare -A url size
  start_worker_server "$work/abort" "$work/abort-state" "$work/abort.log" --var DEV_ROUTES:true
  pids+=("$WORKER_PID"); url[abort]="$WORKER_URL"; size[abort]=$(stat -c %s "$work/abort/build/index_bg.wasm")
  start_worker_server worker "$work/unwind-state" "$work/unwind.log" --var DEV_ROUTES:true
  pids+=("$WORKER_PID"); url[unwind]="$WORKER_URL"; size[unwind]=$(stat -c %s worker/build/index_bg.wasm)
  echo "wasm (after wasm-opt): unwind ${size[unwind]} B, abort ${size[abort]} B," \
    "unwind / abort $(awk -v a="${size[unwind]}" -v b="${size[abort]}" 'BEGIN{printf "%.3f", a/b}')"
  for build in unwind abort; do wrk -t 2 -c 64 -d 3s "${url[$build]}/fanout" >/dev/null; done
  runs="$work/runs.tsv"
  : >"$runs"
  for connections in $CONNECTIONS; do
    threads=$(( connections < THREADS ? connections : THREADS ))
    for round in $(seq 1 "$ROUNDS"); do
      order="unwind abort"
      [ $(( round % 2 )) = 0 ] && order="abort unwind"
      for build in $order; do
        out="$(wrk -t "$threads" -c "$connections" -d "$DURATION" --latency "${url[$build]}/fanout")"
        rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
        p99=$(to_ms "$(awk '$1=="99%"{print $2}' <<<"$out")")
        bad=$(awk '/Non-2xx or 3xx responses:/{print $5}' <<<"$out")
        printf '%s\t%s\t%s\t%s\t%s\n' "$connections" "$round" "$build" "$rps" "$p99" >>"$runs"
        printf '%3s conns round %s %-6s %10s req/s  p99 %9s ms  non-2xx %s\n' \
          "$connections" "$round" "$build" "$rps" "$p99" "${bad:-0}"
      done
    done
  done
  # Medians per build, and unwind / abort of the medians and per round.
  awk -F'\t' '
    function median(list,   n, a, i, j, t) {
      n = split(list, a, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { rps[$1, $3] = rps[$1, $3] " " $4; p99[$1, $3] = p99[$1, $3] " " $5; r[$1, $2, $3] = $4; conns[$1] = 1; rounds[$2] = 1 }
    END {
      printf "%6s %14s %14s %14s %12s %12s %12s\n", "conns", "unwind req/s", "abort req/s", "req/s ratio", "unwind p99", "abort p99", "p99 ratio"
      for (c in conns) {
        u = median(rps[c, "unwind"]); a = median(rps[c, "abort"]); up = median(p99[c, "unwind"]); ap = median(p99[c, "abort"])
        per = ""; ratios = ""
        for (k in rounds) { x = r[c, k, "unwind"] / r[c, k, "abort"]; per = per sprintf(" %.3f", x); ratios = ratios " " x }
        printf "%6s %14.1f %14.1f %14.3f %9.2f ms %9.2f ms %12.3f\n", c, u, a, u / a, up, ap, up / ap
        printf "       req/s unwind / abort per round (each pair back to back):%s; median %.3f\n", per, median(ratios)
      }
    }' "$runs"
  exit 0
fi

scripts/build-worker.sh example
work="$(mktemp -d "${TMPDIR:-/tmp}/worker-bench.XXXXXX")"
trap 'stop_worker_server; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
# The benchmark routes (/fanout, /peer/..., /debug/bench) are dev routes: on, as in serve-worker.sh.
start_worker_server worker "$work/state" "$work/wrangler.log" --var DEV_ROUTES:true
echo "serving on $WORKER_URL; pairs: $PAIRS; connections: $CONNECTIONS; $ROUNDS x $DURATION per route"

export BENCH_TYPE="bench$(date +%s)"
report() { node worker/bench/report.mjs "$@"; }

path_of() { # pair route -> path
  case "$1/$2" in
    fanout/ours) echo /fanout ;; fanout/peer) echo /peer/fanout ;;
    ingest/ours) echo /events ;; ingest/peer) echo /peer/events ;;
  esac
}
run_wrk() { # pair route connections duration -> wrk output
  local threads=$(( $3 < THREADS ? $3 : THREADS ))
  local script=()
  [ "$1" = ingest ] && script=(-s worker/bench/post-event.lua)
  wrk -t "$threads" -c "$3" -d "$4" --latency "${script[@]}" "$WORKER_URL$(path_of "$1" "$2")"
}

echo "warm-up (not counted)"
for pair in $PAIRS; do
  for route in ours peer; do run_wrk "$pair" "$route" 64 3s >/dev/null; done
done
# Count from here on, once the warm-up's wait_until work has landed.
report settle "$WORKER_URL" "$BENCH_TYPE" "$work/base.json"

runs="$work/runs.tsv"
: >"$runs"
for connections in $CONNECTIONS; do
  for round in $(seq 1 "$ROUNDS"); do
    order="ours peer"
    [ $(( round % 2 )) = 0 ] && order="peer ours"
    for pair in $PAIRS; do
      for route in $order; do
        out="$(run_wrk "$pair" "$route" "$connections" "$DURATION")"
        rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
        p99=$(to_ms "$(awk '$1=="99%"{print $2}' <<<"$out")")
        total=$(awk '/requests in/{print $1}' <<<"$out")
        bad=$(awk '/Non-2xx or 3xx responses:/{print $5}' <<<"$out"); bad=${bad:-0}
        timeouts=$(sed -n 's/.*timeout \([0-9]*\).*/\1/p' <<<"$out"); timeouts=${timeouts:-0}
        errors=$(grep -E "Socket errors" <<<"$out" || true)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pair" "$connections" "$round" "$route" \
          "$rps" "$p99" "$total" "$bad" "$timeouts" >>"$runs"
        printf '%-6s %3s conns round %s %-4s %10s req/s  p99 %9s ms  %s requests, %s non-2xx %s\n' \
          "$pair" "$connections" "$round" "$route" "$rps" "$p99" "$total" "$bad" "$errors"
      done
    done
  done
done

echo "waiting for every wait_until job to land..."
report settle "$WORKER_URL" "$BENCH_TYPE" "$work/final.json"
report summarize "$runs" "$work/base.json" "$work/final.json" "$results" "$TARGET_CONNECTIONS"
echo
cargo run -q -p native-tests --example render_curves --locked -- "$results/worker-rps.csv" "$results/worker-p99.csv"
if [ -n "${CHARTS_DIR:-}" ]; then
  mkdir -p "$CHARTS_DIR" && cp "$results/worker.targets.csv" "$CHARTS_DIR/"
fi
cp "$runs" "$results/worker-runs.tsv"
if grep -aq "ERROR" "$work/wrangler.log"; then
  echo "errors in the wrangler log:"; grep -a "ERROR" "$work/wrangler.log" | sort | uniq -c | head
fi
