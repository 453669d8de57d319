#!/usr/bin/env bash
# Tiered routing end to end with real processes on loopback ports: a front
# `slm serve --config` with a local model, a second `slm serve` as the "mid"
# tier and a third as "frontier" (stories260K under other names), a closed
# port and tests/router/fake_upstream.py (500 / 429 / hang) as failing
# upstreams. Checks: local answers, escalation on low confidence (forced by
# a label set the model cannot meet), fallback, retry and cooldown, sensitive
# requests never sent out (the remote servers' request logs), budgets,
# streaming through a remote tier and buffered local streams, x-slm-*
# headers, /metrics, ledger rows after kill -9 mid-load (all but the last
# flush interval) and after SIGTERM (all), `slm usage`, and a
# bad slm.yaml refusing to start.
. "$(dirname "$0")/lib.sh"
FIX="$(cd "$(dirname "$0")/../router" && pwd)"
. "$FIX/e2e_lib.sh"
need_shared
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 0; }
M="$SHARED/models/stories260K.gguf"
LABELS=',"metadata":{"labels":["positive","negative"]}'

# ---- bad config ----
expect_fail "bad slm.yaml: serve refuses to start, names file:line" 1 "bad_timeout.yaml:6: timeout" -- \
  "$SLM" serve --port 0 --config "$FIX/bad_timeout.yaml" -m "$M"

# ---- the tiers ----
start_slm mid -m "mid-model=$M" || { fail "mid server"; finish; }
start_slm frontier -m "big-model=$M" || { fail "frontier server"; finish; }
start_fake || { fail "fake upstream"; finish; }
CLOSED=$(closed_port)

mkdir -p "$TMP/a"
cat >"$TMP/a/slm.yaml" <<EOF
tiers:
  - name: local
    models: [{name: small, path: '$M', context_window: 2048}]
  - name: mid
    models:
      - {name: mid-dead, base_url: 'http://127.0.0.1:$CLOSED/v1', timeout: 2}
      - {name: mid-a, base_url: 'http://127.0.0.1:$PORT_mid/v1', model: mid-model,
         input_cost_per_million: 1, output_cost_per_million: 2}
  - name: frontier
    models:
      - {name: big, base_url: 'http://127.0.0.1:$PORT_frontier/v1', model: big-model,
         input_cost_per_million: 10, output_cost_per_million: 30}
rules:
  - {name: narrow, task: [classify, extract], tier: local}
  - {name: code-mid, task: code, tier: mid}
  - {name: open, task: open_ended, tier: frontier}
confidence:
  check_labels: true
reliability: {retries: 1, backoff: 0.01, cooldown_failures: 1, cooldown: 600}
router: {stream: buffer, stream_buffer_bytes: 65536}
EOF
SLM_HOME="$TMP/a" start_slm front --parallel 4 || { fail "front server"; finish; }
A=$PORT_front
LEDGER="$TMP/a/ledger.db"

chat "$A" "$(msg 'Classify this ticket: the app crashes')"
check "classify answered locally" "$CODE $(hdr x-slm-tier) $(hdr x-slm-model) $(hdr x-slm-escalated)" "200 local small false"
check "local answer is a chat.completion" "$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["object"], j["model"])' "$TMP/body")" "chat.completion small"

chat "$A" "$(msg 'Classify this ticket: the app crashes' "$LABELS")"
check "answer outside the label set escalates to mid (closed port -> next model)" \
  "$CODE $(hdr x-slm-tier) $(hdr x-slm-model) $(hdr x-slm-escalated)" "200 mid mid-a true"
check "mid served it" "$(served mid)" 1
row=$(sql "$LEDGER" "SELECT tried FROM requests ORDER BY id DESC LIMIT 1")
echo "$row" | grep -q "local/small: escalated (answer outside the label set) > mid/mid-dead: Couldn't connect to server (1 tries) > mid/mid-a: ok" \
  && pass "ledger: escalation, closed port (refused: not retried), fallback" || fail "tried: $row"

chat "$A" "$(msg 'Classify this ticket: the app crashes' "$LABELS")"
row=$(sql "$LEDGER" "SELECT tried FROM requests ORDER BY id DESC LIMIT 1")
echo "$row" | grep -q "mid/mid-dead: cooling down > mid/mid-a: ok" && pass "closed port cools down" || fail "cooldown: $row"

chat "$A" "$(msg 'Write an essay about tides')"
check "open-ended goes to frontier" "$CODE $(hdr x-slm-tier) $(hdr x-slm-model)" "200 frontier big"
check "frontier served it" "$(served frontier)" 1
check "upstream model name in the answer" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model"])' "$TMP/body")" "big-model"

mid0=$(served mid); front0=$(served frontier)
chat "$A" "$(msg 'Write an essay about tides' "$LABELS")" "x-slm-sensitive: 1"
check "sensitive (header) stays local even when confidence fails" "$CODE $(hdr x-slm-tier) $(hdr x-slm-escalated)" "200 local false"
chat "$A" "$(msg 'Write an essay, mail it to jo@example.com' "$LABELS")"
check "email keeps it local" "$CODE $(hdr x-slm-tier)" "200 local"
chat "$A" "$(msg 'Fix this python code, card 4111 1111 1111 1111' "$LABELS")" "x-slm-task: code"
check "Luhn-valid card keeps it local" "$CODE $(hdr x-slm-tier)" "200 local"
chat "$A" '{"model":"big","max_tokens":8,"messages":[{"role":"user","content":"call me at jo@example.com"}]}'
check "sensitive request naming a remote model is refused" "$CODE" 403
check "nothing sensitive reached mid or frontier" "$(served mid) $(served frontier)" "$mid0 $front0"
n=$(sql "$LEDGER" "SELECT COUNT(*) FROM requests WHERE sensitive = 1 AND tier IN ('mid','frontier')")
check "ledger: no sensitive row on a remote tier" "$n" 0

# streaming: through a remote tier, escalated, and a buffered local answer
chat "$A" "$(msg 'Write an essay about tides' ',"stream":true')"
check "stream through frontier: headers" "$CODE $(hdr content-type) $(hdr x-slm-tier)" "200 text/event-stream frontier"
grep -q '"model":"big-model"' "$TMP/body" && tail -c 20 "$TMP/body" | grep -q 'data: \[DONE\]' \
  && pass "frontier SSE passed through to [DONE]" || fail "stream body: $(head -c 300 "$TMP/body")"
chat "$A" "$(msg 'Classify: great app' ',"stream":true'"$LABELS")"
check "streamed request escalated after the buffered local answer" "$CODE $(hdr x-slm-tier) $(hdr x-slm-escalated)" "200 mid true"
grep -q '"model":"mid-model"' "$TMP/body" && ! grep -q '"model":"small"' "$TMP/body" \
  && pass "the held local answer never reached the client" || fail "escalated stream: $(head -c 300 "$TMP/body")"
chat "$A" "$(msg 'Classify: great app' ',"stream":true')"
check "buffered local stream passes the check" "$CODE $(hdr x-slm-tier) $(hdr content-type)" "200 local text/event-stream"
grep -q '"model":"small"' "$TMP/body" && grep -q 'data: \[DONE\]' "$TMP/body" && pass "local SSE sent" \
  || fail "local stream: $(head -c 300 "$TMP/body")"

# a model not in slm.yaml keeps the old path; /metrics has per-tier counters
metrics=$(curl -s "http://127.0.0.1:$A/metrics")
echo "$metrics" | grep -q '^slm_router_requests_total{tier="frontier"} 2$' && \
  echo "$metrics" | grep -q '^slm_router_escalated_total{tier="mid"} 3$' && \
  echo "$metrics" | grep -q '^slm_router_refused_total 1$' && pass "/metrics per tier" \
  || fail "metrics: $(echo "$metrics" | grep slm_router)"

# ---- failing upstreams: 500, 429 and a hang, then fallback to the next tier ----
mkdir -p "$TMP/b"
cat >"$TMP/b/slm.yaml" <<EOF
tiers:
  - name: local
    models: [{name: small, path: '$M'}]
  - name: mid
    models:
      - {name: m500, base_url: 'http://127.0.0.1:$PORT_fake/v1', model: e500-b}
      - {name: m429, base_url: 'http://127.0.0.1:$PORT_fake/v1', model: e429-b}
      - {name: mhang, base_url: 'http://127.0.0.1:$PORT_fake/v1', model: hang-b, timeout: 1}
  - name: frontier
    models: [{name: fz, base_url: 'http://127.0.0.1:$PORT_fake/v1', model: ok-b}]
rules:
  - {name: everything-mid, tier: mid}
reliability: {retries: 1, backoff: 0.01, backoff_max: 0.05, cooldown_failures: 2, cooldown: 600}
EOF
SLM_HOME="$TMP/b" start_slm fb || { fail "front b"; finish; }
for i in 1 2; do
  chat "$PORT_fb" "$(msg 'hello')"
  check "failing mid tier -> frontier ($i)" "$CODE $(hdr x-slm-tier) $(hdr x-slm-model)" "200 frontier fz"
done
check "500 and 429 retried (2 tries each, 2 requests)" "$(fake_count e500-b) $(fake_count e429-b) $(fake_count hang-b)" "4 4 4"
t0=$(date +%s%N)
chat "$PORT_fb" "$(msg 'hello')"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "after 2 failures each upstream cools down (no new calls)" "$CODE $(fake_count e500-b) $(fake_count e429-b) $(fake_count hang-b)" "200 4 4 4"
[ "$ms" -lt 1000 ] && pass "cooled-down upstreams are skipped at once (${ms} ms)" || fail "third request took ${ms} ms"
row=$(sql "$TMP/b/ledger.db" "SELECT tried FROM requests ORDER BY id DESC LIMIT 1")
echo "$row" | grep -q "mid/m500: cooling down > mid/m429: cooling down > mid/mhang: cooling down > frontier/fz: ok" \
  && pass "ledger shows the cooldown" || fail "tried: $row"
chat "$PORT_fb" "$(msg 'hello' ',"stream":true')"
grep -q '"model": "ok-b"' "$TMP/body" && grep -q '"content": "answer "' "$TMP/body" && grep -q '\[DONE\]' "$TMP/body" \
  && check "stream via the fake upstream" "$(hdr x-slm-tier)" frontier \
  || fail "fake stream: $(head -c 300 "$TMP/body")"

# SIGTERM: the server stops, the ledger writer writes what it still holds
kill -TERM "$PID_fb"
wait "$PID_fb" 2>/dev/null
check "after SIGTERM every request to fb has its ledger row" "$(sql "$TMP/b/ledger.db" "SELECT COUNT(*) FROM requests")" 4

# ---- exact prompt tokens: the local tokenizer decides the long-context rule ----
mkdir -p "$TMP/d"
cat >"$TMP/d/slm.yaml" <<EOF
tiers:
  - name: local
    models: [{name: small, path: '$M', context_window: 300}]
  - name: long
    models: [{name: wide, base_url: 'http://127.0.0.1:$PORT_fake/v1', model: ok-d}]
rules:
  - {name: too-long, exceeds_local_context: true, tier: long}
EOF
SLM_HOME="$TMP/d" start_slm fd || { fail "front d"; finish; }
digits=$(printf '0123456789%.0s' $(seq 60)) # 600 characters: ~150 tokens by chars/4, ~600 by the tokenizer
chat "$PORT_fd" "$(msg "$digits")"
check "600 digits: counted with the local tokenizer, over the 300-token context -> long tier" "$CODE $(hdr x-slm-tier) $(fake_count ok-d)" "200 long 1"
chat "$PORT_fd" "$(msg 'Classify: fine')"
check "a short prompt stays local" "$CODE $(hdr x-slm-tier)" "200 local"

# ---- task classification by the local model (classifier:) ----
mkdir -p "$TMP/e"
cat >"$TMP/e/slm.yaml" <<EOF
tiers:
  - name: local
    models: [{name: small, path: '$M'}]
  - name: mid
    models: [{name: cm, base_url: 'http://127.0.0.1:$PORT_fake/v1', model: ok-e}]
rules:
  - {name: code-mid, task: code, tier: mid}
classifier: {model: small, labels: [code, summarize]}
EOF
SLM_HOME="$TMP/e" start_slm fe || { fail "front e"; finish; }
chat "$PORT_fe" "$(msg 'hello there')"
task=$(sql "$TMP/e/ledger.db" "SELECT task FROM requests ORDER BY id DESC LIMIT 1")
case "$task" in code|summarize) pass "the classifier picked a task from its labels ($task; inference would say chat)" ;;
  *) fail "classifier: task '$task'" ;; esac
want=local; [ "$task" = code ] && want=mid
check "and the rules routed on it" "$CODE $(hdr x-slm-tier)" "200 $want"
chat "$PORT_fe" "$(msg 'hello there')" "x-slm-task: code"
check "a named task skips the classifier" "$CODE $(hdr x-slm-tier) $(sql "$TMP/e/ledger.db" "SELECT task FROM requests ORDER BY id DESC LIMIT 1")" "200 mid code"

# ---- budget exhaustion ----
mkdir -p "$TMP/c"
cat >"$TMP/c/slm.yaml" <<EOF
tiers:
  - name: local
    models: [{name: small, path: '$M'}]
  - name: frontier
    models: [{name: pricey, base_url: 'http://127.0.0.1:$PORT_fake/v1', model: ok-c, input_cost_per_million: 100000}]
rules:
  - {name: open, task: open_ended, tier: frontier}
budgets: {daily_usd: 0.5, on_exceeded: fail}
EOF
SLM_HOME="$TMP/c" start_slm fc || { fail "front c"; finish; }
chat "$PORT_fc" "$(msg 'Write an essay about tides')"
check "under budget: frontier" "$CODE $(hdr x-slm-tier)" "200 frontier"
chat "$PORT_fc" "$(msg 'Write an essay about tides')"
check "over budget (on_exceeded: fail): 429" "$CODE $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["code"])' "$TMP/body")" "429 budget_exceeded"
check "the over-budget request was not sent" "$(fake_count ok-c)" 1
chat "$PORT_fc" "$(msg 'Classify: fine')"
check "local requests go on over budget" "$CODE $(hdr x-slm-tier)" "200 local"

# ---- kill -9 mid-load: every answer older than the flush interval has its row ----
# Rows are written by the ledger's writer thread in batches (flush interval
# 20 ms), so a kill -9 may lose the rows of the last interval; anything
# answered well before the kill (here 500 ms: the margin covers a writer
# thread kept off the CPU by a loaded machine) must be in the ledger.
before=$(sql "$LEDGER" "SELECT COUNT(*) FROM requests")
CURLS=()
launch() { # 80 requests, one every 20 ms: the kill lands in the middle
  for i in $(seq 80); do
    case $((i % 3)) in
      0) b=$(msg 'Write an essay about tides') ;;
      1) b=$(msg 'Classify this ticket' "$LABELS") ;;
      *) b=$(msg 'Classify this ticket') ;;
    esac
    (code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H 'Content-Type: application/json' \
       "http://127.0.0.1:$A/v1/chat/completions" -d "$b"); echo "$code $(date +%s%N)" >>"$TMP/codes") &
    sleep 0.02
  done
  wait
}
launch &
LAUNCHER=$!
sleep 1.5
killed_at=$(date +%s%N)
kill -9 "$PID_front"
wait "$PID_front" 2>/dev/null
wait "$LAUNCHER"
ok=$(grep -c '^200 ' "$TMP/codes")
early=$(awk -v k="$killed_at" '$1 == 200 && $2 < k - 500000000 {n++} END {print n + 0}' "$TMP/codes")
rows=$(( $(sql "$LEDGER" "SELECT COUNT(*) FROM requests") - before ))
[ "$ok" -lt 80 ] && pass "the kill landed mid-load ($ok of 80 answered)" || fail "kill -9 after the load: $ok of 80 answered"
[ "$early" -ge 1 ] && [ "$rows" -ge "$early" ] && [ "$rows" -le 80 ] \
  && pass "after kill -9: $rows new ledger rows >= $early requests answered 500 ms before the kill ($ok answered in all)" \
  || fail "kill -9: $early answered 500 ms before the kill, $ok in all, $rows rows"
check "ledger intact" "$(sql "$LEDGER" "PRAGMA integrity_check")" ok
bad=$(sql "$LEDGER" "SELECT COUNT(*) FROM requests WHERE status = 200 AND (tier IS NULL OR model IS NULL OR tried IS NULL OR tried = '' OR latency_ms <= 0 OR ts <= 0)")
check "answered rows are complete" "$bad" 0

# ---- slm usage on that ledger ----
out=$(SLM_HOME="$TMP/a" "$SLM" usage --json)
python3 - "$out" "$(sql "$LEDGER" "SELECT tier, COUNT(*) FROM requests WHERE tier IS NOT NULL GROUP BY tier")" <<'EOF' \
  && pass "slm usage: per-tier shares match the ledger" || fail "usage: $out"
import json, sys
u = json.loads(sys.argv[1])
want = dict(l.split("|") for l in sys.argv[2].splitlines())
text = json.dumps(u)
for tier, n in want.items():
    assert '"%s"' % tier in text, tier
assert set(want) >= {"local", "mid", "frontier"}, want
EOF
SLM_HOME="$TMP/a" "$SLM" usage | tee "$TMP/usage.txt" | grep -qE '^(local|mid|frontier) ' && pass "usage table" \
  || fail "usage table: $(cat "$TMP/usage.txt")"
finish
