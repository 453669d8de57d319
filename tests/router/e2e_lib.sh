# Helpers for tests/cli/router_e2e_test.sh (sourced after tests/cli/lib.sh):
# real processes on free loopback ports, requests with headers, ledger
# queries. Every process started here is killed on exit.
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$TMP"' EXIT

# start_slm NAME ARGS...: `slm serve --port 0 ARGS` with its logs in
# $TMP/NAME.{out,err}; sets PORT_<NAME> and PID_<NAME>. Returns 1 if it did
# not come up.
start_slm() {
  local name=$1; shift
  "$SLM" serve --port 0 -t 1 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  local pid=$! port=""
  PIDS+=("$pid")
  for _ in $(seq 200); do
    port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9][0-9]*\).*/\1/p' "$TMP/$name.out")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  printf -v "PORT_$name" '%s' "$port"
  printf -v "PID_$name" '%s' "$pid"
  [ -n "$port" ] || { echo "$name did not start: $(cat "$TMP/$name.err")" >&2; return 1; }
}

# start_fake: tests/router/fake_upstream.py logging to $TMP/fake.log; sets PORT_fake.
start_fake() {
  python3 "$FIX/fake_upstream.py" --log "$TMP/fake.log" >"$TMP/fake.port" 2>"$TMP/fake.err" &
  PIDS+=("$!")
  PORT_fake=""
  for _ in $(seq 100); do
    PORT_fake=$(head -1 "$TMP/fake.port" 2>/dev/null)
    [ -n "$PORT_fake" ] && break
    sleep 0.05
  done
  touch "$TMP/fake.log"
  [ -n "$PORT_fake" ]
}

# closed_port: a loopback port nothing listens on (bound, then released).
closed_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# chat PORT BODY [HEADER...]: POST /v1/chat/completions; body in $TMP/body,
# headers in $TMP/hdr, status in $CODE.
chat() {
  local port=$1 body=$2; shift 2
  local args=()
  for h in "$@"; do args+=(-H "$h"); done
  CODE=$(curl -s -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' --max-time 60 -H 'Content-Type: application/json' \
    "${args[@]}" "http://127.0.0.1:$port/v1/chat/completions" -d "$body")
}
# hdr NAME: a response header's value from the last chat.
hdr() { tr -d '\r' <"$TMP/hdr" | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" -F': ' 'tolower($1) == n {print $2}'; }
# msg TEXT [EXTRA_JSON_FIELDS]: a chat request body for "auto".
msg() { printf '{"model":"auto","max_tokens":8,"seed":1,"messages":[{"role":"user","content":"%s"}]%s}' "$1" "${2:-}"; }
# served NAME: chat requests a served slm answered (its log lines).
served() { grep -c 'path=/v1/chat/completions' "$TMP/$1.err"; }
# fake_count MODEL: requests the fake upstream got for a model.
fake_count() { grep -c "\"model\": \"$1\"" "$TMP/fake.log"; }
# sql DB QUERY
sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [print("|".join("" if v is None else str(v) for v in r)) for r in c.execute(sys.argv[2])]' "$1" "$2"; }
# check NAME ACTUAL EXPECTED
check() { if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: got '$2', expected '$3'"; fi; }
