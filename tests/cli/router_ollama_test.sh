#!/usr/bin/env bash
# Ollama's /api/chat and /api/generate through the tiered router, with real
# processes: a front `slm serve --config` (stories260K as the local tier)
# and tests/router/fake_upstream.py as the remote tier. Checks: a routed
# chat answered locally (Ollama object: message, done, done_reason, counts),
# one escalated to the remote tier, streaming NDJSON (local and remote),
# /api/generate both ways, the request translation the upstream receives
# (options, format, tool calls with ids and string arguments, images as
# content parts), x-slm-* headers, and
# sensitive requests refused from remote tiers and never sent out, and the
# official ollama JavaScript client (when installed) against the routes.
. "$(dirname "$0")/lib.sh"
FIX="$(cd "$(dirname "$0")/../router" && pwd)"
. "$FIX/e2e_lib.sh"
need_shared
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 0; }
M="$SHARED/models/stories260K.gguf"

start_fake || { fail "fake upstream"; finish; }
mkdir -p "$TMP/o"
cat >"$TMP/o/slm.yaml" <<EOF
tiers:
  - name: local
    models: [{name: small, path: '$M'}]
  - name: mid
    models: [{name: remote-m, base_url: 'http://127.0.0.1:$PORT_fake/v1', model: ok-m}]
rules:
  - {name: narrow, task: [classify, extract], tier: local}
  - {name: open, task: open_ended, tier: mid}
confidence:
  check_labels: true
router: {stream: buffer}
EOF
SLM_HOME="$TMP/o" start_slm front --parallel 2 || { fail "front server"; finish; }
A=$PORT_front

# ol PATH BODY [HEADER...]: POST to the Ollama API; body, headers, $CODE as chat() does.
ol() {
  local path=$1 body=$2; shift 2
  local args=()
  for h in "$@"; do args+=(-H "$h"); done
  CODE=$(curl -s -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' --max-time 60 -H 'Content-Type: application/json' \
    "${args[@]}" "http://127.0.0.1:$A$path" -d "$body")
}
# py EXPR: evaluates a Python expression with j = the JSON body (or lines = its NDJSON lines).
py() { python3 -c "import json,sys; raw=open(sys.argv[1]).read(); lines=[json.loads(l) for l in raw.splitlines() if l.strip()]; j=lines[-1] if lines else None; print($1)" "$TMP/body"; }
chatmsg() { printf '{"model":"auto","stream":false,"options":{"num_predict":8,"seed":1},"messages":[{"role":"user","content":"%s"}]%s}' "$1" "${2:-}"; }
LABELS=',"metadata":{"labels":["positive","negative"]}'

# ---- answered locally ----
ol /api/chat "$(chatmsg 'Classify this ticket: the app crashes')"
check "chat routed to the local tier" "$CODE $(hdr x-slm-tier) $(hdr x-slm-model) $(hdr x-slm-escalated)" "200 local small false"
check "Ollama chat object" "$(py 'j["model"], j["message"]["role"], type(j["message"]["content"]).__name__, j["done"], j["done_reason"] in ("stop","length")')" \
  "auto assistant str True True"
check "counts from the local engine" "$(py 'j["prompt_eval_count"] > 0 and 0 < j["eval_count"] <= 8 and j["total_duration"] > 0')" True

# ---- escalated to the remote tier ----
ol /api/chat "$(chatmsg 'Classify this ticket: the app crashes' "$LABELS")"
check "answer outside the label set escalates" "$CODE $(hdr x-slm-tier) $(hdr x-slm-model) $(hdr x-slm-escalated)" "200 mid remote-m true"
check "remote answer in Ollama's shape" "$(py 'j["message"]["content"], j["done"], j["prompt_eval_count"], j["eval_count"]')" \
  "answer from ok-m True 10 3"

# ---- what the upstream received ----
ol /api/chat '{"model":"auto","stream":false,"format":"json","options":{"num_predict":5,"temperature":0.3,"top_k":7,"stop":["x"]},"messages":[{"role":"user","content":"Write an essay about tides","images":["iVBORw0KGgo="]},{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]},{"role":"tool","content":"42","tool_name":"f"}]}' \
  "x-slm-task: open_ended"
check "task header: open-ended chat goes to mid" "$CODE $(hdr x-slm-tier) $(hdr x-slm-escalated)" "200 mid false"
python3 - "$TMP/fake.log" <<'EOF' && pass "translated request: options, format, tool calls and their answers, images" || fail "upstream got: $(tail -1 "$TMP/fake.log")"
import json, sys
b = json.loads(open(sys.argv[1]).read().splitlines()[-1])["body"]
assert b["model"] == "ok-m" and b["stream"] is False, b
assert b["max_tokens"] == 5 and b["temperature"] == 0.3 and b["top_k"] == 7 and b["stop"] == ["x"], b
assert b["response_format"] == {"type": "json_object"}, b
call = b["messages"][1]["tool_calls"][0]
assert call["type"] == "function" and call["function"]["name"] == "f" and json.loads(call["function"]["arguments"]) == {"a": 1}, call
tool = b["messages"][2]
assert tool["tool_call_id"] == call["id"] and "tool_name" not in tool, tool
user = b["messages"][0]
assert user["content"] == [{"type": "text", "text": "Write an essay about tides"},
                           {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}], user
assert "images" not in user, user
assert "options" not in b and "format" not in b, b
EOF

# ---- streaming (Ollama streams by default) ----
ol /api/chat '{"model":"auto","messages":[{"role":"user","content":"Write an essay about tides"}]}'
check "remote stream: headers" "$CODE $(hdr content-type) $(hdr x-slm-tier)" "200 application/x-ndjson mid"
check "remote stream: NDJSON pieces, then done with counts" \
  "$(py '"".join(l["message"]["content"] for l in lines), [l["done"] for l in lines].count(True), lines[-1]["done"], j["done_reason"], j["prompt_eval_count"], j["eval_count"], len(lines) > 2')" \
  "answer from ok-m  1 True stop 7 3 True"
ol /api/chat "$(printf '{"model":"auto","options":{"num_predict":8,"seed":1},"messages":[{"role":"user","content":"Classify: great app"}]}')"
check "local stream: headers" "$CODE $(hdr content-type) $(hdr x-slm-tier)" "200 application/x-ndjson local"
check "local stream: last line done with counts" "$(py 'lines[-1]["done"], all(not l["done"] for l in lines[:-1]), j["eval_count"] > 0, j["prompt_eval_count"] > 0')" \
  "True True True True"
ol /api/chat "$(printf '{"model":"auto","options":{"num_predict":8,"seed":1},"messages":[{"role":"user","content":"Classify: great app"}]%s}' "$LABELS")"
check "escalated stream: the held local answer is replaced" "$CODE $(hdr x-slm-tier) $(hdr x-slm-escalated) $(py '"".join(l["message"]["content"] for l in lines)')" \
  "200 mid true answer from ok-m "

# ---- /api/generate ----
ol /api/generate '{"model":"auto","stream":false,"system":"Be brief.","prompt":"Write an essay about tides"}'
check "generate routed to mid" "$CODE $(hdr x-slm-tier) $(py 'j["response"], j["done"], "message" in j')" "200 mid answer from ok-m True False"
python3 - "$TMP/fake.log" <<'EOF' && pass "generate becomes system + user messages" || fail "upstream got: $(tail -1 "$TMP/fake.log")"
import json, sys
b = json.loads(open(sys.argv[1]).read().splitlines()[-1])["body"]
assert b["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Write an essay about tides"}], b
EOF
ol /api/generate '{"model":"auto","prompt":"Classify: great app","options":{"num_predict":6,"seed":2}}'
check "generate stream answered locally" "$CODE $(hdr content-type) $(hdr x-slm-tier) $(py 'all("response" in l for l in lines), lines[-1]["done"], j["eval_count"] > 0')" \
  "200 application/x-ndjson local True True True"

# ---- sensitive data ----
sent=$(wc -l <"$TMP/fake.log")
ol /api/chat "$(chatmsg 'Write an essay, then mail it to jo@example.com')"
check "open-ended but sensitive: stays local" "$CODE $(hdr x-slm-tier)" "200 local"
ol /api/chat '{"model":"remote-m","stream":false,"messages":[{"role":"user","content":"my card is 4111 1111 1111 1111"}]}'
check "sensitive request naming the remote model: refused in Ollama's error shape" "$CODE $(py '"error" in j and "sensitive" in j["error"]')" "403 True"
ol /api/generate '{"model":"auto","prompt":"Write an essay about tides"}' "x-slm-sensitive: 1"
check "sensitive header on generate: local" "$CODE $(hdr x-slm-tier)" "200 local"
check "nothing sensitive reached the remote tier" "$(wc -l <"$TMP/fake.log")" "$sent"

# ---- the official ollama JavaScript client against the routed endpoints ----
E2E="$(cd "$(dirname "$0")/../e2e" && pwd)"
if command -v node >/dev/null && [ -f "$E2E/node_modules/ollama/dist/index.mjs" ]; then
  cat >"$TMP/client.mjs" <<'EOF'
const { Ollama } = await import(process.env.OLLAMA_JS);
const ollama = new Ollama({ host: process.env.SLM_URL });
const msgs = (text) => [{ role: 'user', content: text }];
const whole = await ollama.chat({ model: 'auto', messages: msgs('Write an essay about tides'), stream: false });
if (whole.message.content !== 'answer from ok-m' || !whole.done || whole.eval_count !== 3) throw new Error('whole: ' + JSON.stringify(whole));
let text = '', last = null;
for await (const part of await ollama.chat({ model: 'auto', messages: msgs('Write an essay about tides'), stream: true })) {
  text += part.message.content;
  last = part;
}
if (text !== 'answer from ok-m ' || !last.done || last.done_reason !== 'stop') throw new Error('stream: ' + text + ' ' + JSON.stringify(last));
const local = await ollama.generate({ model: 'auto', prompt: 'Classify: great app', options: { num_predict: 6, seed: 3 } });
if (typeof local.response !== 'string' || !local.done || !(local.eval_count > 0)) throw new Error('generate: ' + JSON.stringify(local));
console.log('client ok');
EOF
  out=$(OLLAMA_JS="$E2E/node_modules/ollama/dist/index.mjs" SLM_URL="http://127.0.0.1:$A" node "$TMP/client.mjs" 2>&1)
  [ "$out" = "client ok" ] && pass "ollama JS client: routed chat (whole, streamed) and generate" || fail "ollama JS client: $out"
else
  echo "note: node or the ollama client (npm ci --prefix tests/e2e) is missing: client check skipped"
fi

# ---- bad requests ----
ol /api/chat '{"model":"auto","messages":"hi"}'
check "bad messages: 400 in Ollama's shape" "$CODE $(py '"error" in j')" "400 True"
ol /api/chat '{"model":"auto","format":42,"messages":[{"role":"user","content":"hi"}]}'
check "bad format: 400" "$CODE" 400
finish
