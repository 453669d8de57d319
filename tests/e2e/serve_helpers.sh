# Helpers for the `slm serve` tests (sourced after tests/cli/lib.sh): start
# a real server on a free loopback port, read its JSON answers, stop it.
# start_server ARGS...: sets SERVER_PID, PORT and URL (empty PORT on failure).
SERVER_PID=""
start_server() {
  local out="$TMP/serve.$$.$RANDOM"
  "$SLM" serve --port 0 "$@" >"$out.out" 2>"$out.err" &
  SERVER_PID=$!
  SERVER_LOG="$out.err"
  PORT=""
  for _ in $(seq 200); do
    PORT=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9][0-9]*\).*/\1/p' "$out.out")
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  URL="http://127.0.0.1:$PORT"
  [ -n "$PORT" ] || { echo "server did not start: $(cat "$out.err")" >&2; return 1; }
}
# stop_server: SIGTERM, then wait; returns the exit status.
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID"
  local rc=$?
  SERVER_PID=""
  return $rc
}
trap 'if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null; fi; rm -rf "$TMP"' EXIT
need_curl() {
  command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }
  command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 0; }
}
# jget FILE EXPR: evaluates a Python expression over the JSON in FILE (as j).
jget() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
# post PATH BODY: POSTs JSON; body in $TMP/body, status in $CODE.
post() { CODE=$(curl -s -o "$TMP/body" -w '%{http_code}' -H 'Content-Type: application/json' "$URL$1" -d "$2"); }
# metric NAME: the value of one /metrics line starting with NAME.
metric() { curl -s "$URL/metrics" | awk -v n="$1" 'index($0, n) == 1 {print $2; exit}'; }
# check NAME ACTUAL EXPECTED
check() { if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: got '$2', expected '$3'"; fi; }
