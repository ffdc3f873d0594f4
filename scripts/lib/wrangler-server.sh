# Sourced by the worker scripts (after worker-env.sh): start `wrangler dev` on a free loopback
# port in its own process group, wait until it answers (bounded), and stop it by its PID.
#   start_worker_server APP_DIR STATE_DIR LOG_FILE [ARGS...]  -> sets WORKER_PID and WORKER_URL
#   stop_worker_server                                        -> ends wrangler and its workerd children
# wrangler runs in APP_DIR (worker/ or templates/worker/), as in any Workers project: it reads
# that folder's wrangler.toml and runs its build command there. STATE_DIR and LOG_FILE must be
# absolute. ARGS go to `wrangler dev`: for the example app's dev server, `--var DEV_ROUTES:true`
# (its dev-only routes; see worker/wrangler.toml). WORKER_DEV_FLAGS adds more, e.g.
# `--compatibility-flags no_handle_cross_request_promise_resolution`: workerd then settles every
# promise in the context of the request that resolves it, never deferring to the promise's own
# (as it was seen to do on its own under sustained load); a promise handed to workerd and
# settled from another request's context is then logged "Promise will never complete" (see
# worker/src/dev/peer.rs).
WORKER_PID=""
WORKER_URL=""

free_loopback_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

start_worker_server() {
  local dir="$1" state="$2" log="$3" port inspector_port
  shift 3
  port="$(free_loopback_port)"
  inspector_port="$(free_loopback_port)"
  WORKER_URL="http://127.0.0.1:$port"
  (cd "$dir" && exec setsid wrangler dev --local --ip 127.0.0.1 --port "$port" \
    --inspector-ip 127.0.0.1 --inspector-port "$inspector_port" \
    --persist-to "$state" --show-interactive-dev-session=false ${WORKER_DEV_FLAGS:-} "$@" \
    >"$log" 2>&1 </dev/null) &
  WORKER_PID=$!
  # At most WORKER_READY_SECONDS (60): wrangler runs the Worker's build command first.
  for _ in $(seq 1 $(( ${WORKER_READY_SECONDS:-60} * 4 ))); do
    if ! kill -0 "$WORKER_PID" 2>/dev/null; then
      echo "wrangler dev exited before it was ready; log: $log" >&2; return 1
    fi
    # Ready once the Worker itself answers `/`: any 2xx to 4xx (404 for both Workers).
    case "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$WORKER_URL/" || true)" in
      [234]??) return 0 ;;
    esac
    sleep 0.25
  done
  echo "wrangler dev was not ready within ${WORKER_READY_SECONDS:-60} s; log: $log" >&2
  return 1
}

stop_worker_server() {
  if [ -n "$WORKER_PID" ] && kill -0 "$WORKER_PID" 2>/dev/null; then
    # setsid made wrangler a process-group leader: end the group (wrangler and workerd).
    kill -TERM -- "-$WORKER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$WORKER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$WORKER_PID" 2>/dev/null || true
  fi
  WORKER_PID=""
}
