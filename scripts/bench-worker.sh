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
to_ms() { # wrk latency (e.g. 812.00us, 12.34ms, 1.20s, 1.00m) -> ms
  awk -v v="$1" 'BEGIN{n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /m$/) n*=60000; else if (v ~ /s$/) n*=1000; printf "%.3f", n}'
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
