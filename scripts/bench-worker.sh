#!/usr/bin/env bash
# Worker load benchmark (not part of the test run): the ingest handler on the WasmScheduler
# (POST /events) against the same handler on plain wasm_bindgen_futures::spawn_local
# (POST /peer/events), in one run on one workerd (wrangler dev, loopback), with wrk:
# CONNECTIONS connections, ROUNDS rounds of DURATION per route, interleaved (ours, peer, ours,
# peer...) after an uncounted warm-up. Prints req/s, p99 latency and their ratios, then waits
# for the wait_until work to finish and compares the stored summaries (KV keys, listed by
# GET /debug/stored) and the per-type counter increments with the 202 answers.
#   scripts/bench-worker.sh                         # 64 connections, 2 x 15 s per route
#   CONNECTIONS=64 ROUNDS=1 DURATION=30s scripts/bench-worker.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh bench
source scripts/lib/worker-env.sh
source scripts/lib/wrangler-server.sh
CONNECTIONS="${CONNECTIONS:-64}"
ROUNDS="${ROUNDS:-2}"
DURATION="${DURATION:-15s}"
THREADS="${THREADS:-2}"

scripts/build-worker.sh
work="$(mktemp -d "${TMPDIR:-/tmp}/worker-bench.XXXXXX")"
trap 'stop_worker_server; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
start_worker_server "$work/state" "$work/wrangler.log"
echo "serving on $WORKER_URL; $CONNECTIONS connections, $ROUNDS x $DURATION per route"

export BENCH_TYPE="bench$(date +%s)"
declare -A requests=([ours]=0 [peer]=0) non2xx=([ours]=0 [peer]=0)
declare -A rps_list=([ours]="" [peer]="") p99_list=([ours]="" [peer]="")
path_of() { [ "$1" = ours ] && echo /events || echo /peer/events; }

run_wrk() { # route duration -> wrk output
  wrk -t "$THREADS" -c "$CONNECTIONS" -d "$2" --latency -s worker/bench/post-event.lua \
    "$WORKER_URL$(path_of "$1")"
}
to_ms() { # wrk latency (e.g. 812.00us, 12.34ms, 1.20s) -> ms
  awk -v v="$1" 'BEGIN{n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /s$/ && v !~ /ms$/) n*=1000; printf "%.2f", n}'
}

stored_count() { curl -sf "$WORKER_URL$1/counts/$BENCH_TYPE" | sed 's/.*"count":\([0-9]*\).*/\1/'; }
wait_until_counters_settle() { # until both counters stop moving for 1 s (at most ~2 min)
  local previous=-1 now
  for _ in $(seq 1 120); do
    now="$(stored_count "")/$(stored_count /peer)"
    [ "$now" = "$previous" ] && return 0
    previous="$now"; sleep 1
  done
}

echo "warm-up (not counted)"
for route in ours peer; do run_wrk "$route" 3s >/dev/null; done
# The warm-up also stored events of BENCH_TYPE: count from here on, once its work is done.
wait_until_counters_settle
base_ours=$(stored_count "")
base_peer=$(stored_count /peer)
stored_summaries() { curl -sf -m 120 "$WORKER_URL/debug/stored" | sed "s/.*\"$1\":\([0-9]*\).*/\1/"; }
base_summaries_ours=$(stored_summaries ours)
base_summaries_peer=$(stored_summaries peer)

for round in $(seq 1 "$ROUNDS"); do
  for route in ours peer; do
    out="$(run_wrk "$route" "$DURATION")"
    rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
    p99=$(to_ms "$(awk '$1=="99%"{print $2}' <<<"$out")")
    total=$(awk '/requests in/{print $1}' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses:/{print $5}' <<<"$out"); bad=${bad:-0}
    errors=$(grep -E "Socket errors" <<<"$out" || true)
    requests[$route]=$(( ${requests[$route]} + total ))
    non2xx[$route]=$(( ${non2xx[$route]} + bad ))
    rps_list[$route]+="$rps "
    p99_list[$route]+="$p99 "
    printf 'round %s %-4s %10s req/s  p99 %8s ms  %s requests, %s non-2xx %s\n' \
      "$round" "$route" "$rps" "$p99" "$total" "$bad" "$errors"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ours_rps=$(median <<<"${rps_list[ours]}"); peer_rps=$(median <<<"${rps_list[peer]}")
ours_p99=$(median <<<"${p99_list[ours]}"); peer_p99=$(median <<<"${p99_list[peer]}")
echo
printf 'median req/s: ours %s, spawn_local %s, ratio ours/peer %s (target >= 1.0)\n' \
  "$ours_rps" "$peer_rps" "$(awk -v a="$ours_rps" -v b="$peer_rps" 'BEGIN{printf "%.3f", a/b}')"
printf 'median p99:   ours %s ms, spawn_local %s ms, ratio ours/peer %s\n' \
  "$ours_p99" "$peer_p99" "$(awk -v a="$ours_p99" -v b="$peer_p99" 'BEGIN{printf "%.3f", a/b}')"

echo "waiting for the wait_until work to finish..."
wait_until_counters_settle
for route in ours peer; do
  prefix=""; base=$base_ours; base_summaries=$base_summaries_ours
  [ "$route" = peer ] && { prefix=/peer; base=$base_peer; base_summaries=$base_summaries_peer; }
  counted=$(( $(stored_count "$prefix") - base ))
  summaries=$(( $(stored_summaries "$route") - base_summaries ))
  accepted=$(( ${requests[$route]} - ${non2xx[$route]} ))
  lost=$(( accepted > summaries ? accepted - summaries : 0 ))
  unfinished=$(( accepted > counted ? accepted - counted : 0 ))
  printf '%-4s 202 answers %s | summaries stored %s, lost %s | counter increments %s, missing %s\n' \
    "$route" "$accepted" "$summaries" "$lost" "$counted" "$unfinished"
done
curl -sf "$WORKER_URL/stats" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log("ours /stats: tasks", JSON.stringify(j.tasks), "wait_until", JSON.stringify(j.wait_until), "leaked", j.leaked_tasks, "sessions open", j.sessions.length)})'
echo "(processed may exceed the 202s by up to $CONNECTIONS per round: wrk does not count the"
echo " requests in flight when it stops)"
if grep -aq "ERROR" "$work/wrangler.log"; then
  echo "errors in the wrangler log:"; grep -a "ERROR" "$work/wrangler.log" | sort | uniq -c | head
fi
