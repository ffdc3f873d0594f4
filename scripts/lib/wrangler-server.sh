# Sourced by the worker scripts (after worker-env.sh): start `wrangler dev` on a free loopback
# port in its own process group, wait until it answers (bounded), and stop it by its PID.
#   start_worker_server STATE_DIR LOG_FILE   -> sets WORKER_PID and WORKER_URL
#   stop_worker_server                       -> ends wrangler and its workerd children
# WORKER_DEV_FLAGS adds `wrangler dev` flags, e.g. `--compatibility-flags
# no_handle_cross_request_promise_resolution`: workerd then settles every promise in the context
# of the request that resolves it, never deferring to the promise's own (as it was seen to do
# on its own under sustained load); a promise handed to workerd and settled from another
# request's context is then logged "Promise will never complete" (see worker/src/peer.rs).
WORKER_PID=""
WORKER_URL=""

free_loopback_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

start_worker_server() {
  local state="$1" log="$2" port inspector_port
  port="$(free_loopback_port)"
  inspector_port="$(free_loopback_port)"
  WORKER_URL="http://127.0.0.1:$port"
  setsid wrangler dev --local --ip 127.0.0.1 --port "$port" \
    --inspector-ip 127.0.0.1 --inspector-port "$inspector_port" \
    --persist-to "$state" --show-interactive-dev-session=false ${WORKER_DEV_FLAGS:-} \
    >"$log" 2>&1 </dev/null &
  WORKER_PID=$!
  for _ in $(seq 1 240); do   # at most ~60 s
    if ! kill -0 "$WORKER_PID" 2>/dev/null; then
      echo "wrangler dev exited before it was ready; log: $log" >&2; return 1
    fi
    if curl -sf -m 2 -o /dev/null "$WORKER_URL/stats"; then return 0; fi
    sleep 0.25
  done
  echo "wrangler dev was not ready within 60 s; log: $log" >&2
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
