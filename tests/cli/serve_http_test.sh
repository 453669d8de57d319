# slm serve driven with curl: health, golden greedy completion, OpenAI error
# shapes (malformed JSON, wrong types, bad tools and response_format, unknown
# model and endpoint), 413 on a huge body, Host/Origin refusals, 8 concurrent
# identical greedy requests, a client that disconnects mid-stream (its slot
# is freed), 429 + Retry-After with a full queue, API keys, refusing a
# non-loopback bind without a key, and a clean SIGTERM exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../e2e/serve_helpers.sh"
need_shared
need_curl
MODEL="$SHARED/models/stories260K.gguf"
want=$(awk '$0 == "== stories260K.gguf" {getline; print; exit}' "$SHARED/models/stories260K.greedy-reference.txt")
want=${want#"<s> Once upon a time"}

start_server --model "$MODEL" --parallel 4 -t 1 || { fail "start"; finish; }
check "health" "$(curl -s "$URL/health")" '{"status":"ok"}'

post /v1/completions '{"model":"stories260K","prompt":"Once upon a time","max_tokens":48,"temperature":0}'
check "greedy completion = llama.cpp reference" "$(jget "$TMP/body" 'j["choices"][0]["text"]')" "$want"
check "completion finish_reason" "$(jget "$TMP/body" 'j["choices"][0]["finish_reason"]')" "length"
check "completion usage" "$(jget "$TMP/body" '(j["usage"]["prompt_tokens"], j["usage"]["completion_tokens"])')" "(5, 48)"

post /v1/chat/completions '{bad json'
check "malformed JSON -> 400" "$CODE" 400
check "malformed JSON error shape" "$(jget "$TMP/body" 'sorted(j["error"].keys())')" "['code', 'message', 'param', 'type']"
post /v1/chat/completions '{"model":"stories260K","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}'
check "wrong type -> 400" "$CODE" 400
check "wrong type names the field" "$(jget "$TMP/body" 'j["error"]["param"]')" "temperature"
post /v1/chat/completions '{"model":"stories260K","messages":[{"role":"user","content":"hi"}],"tools":"x"}'
check "tools not an array -> 400" "$CODE:$(jget "$TMP/body" 'j["error"]["param"]')" "400:tools"
post /v1/chat/completions '{"model":"stories260K","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"xml"}}'
check "unknown response_format -> 400" "$CODE:$(jget "$TMP/body" 'j["error"]["param"]')" "400:response_format"
post /v1/chat/completions '{"model":"stories260K","messages":"hi"}'
check "messages not an array -> 400" "$CODE" 400
post /v1/chat/completions '{"model":"nope","messages":[{"role":"user","content":"hi"}]}'
check "unknown model -> 404" "$CODE" 404
case "$(jget "$TMP/body" 'j["error"]["message"]')" in *stories260K*) pass "404 lists the models";; *) fail "404 lists the models";; esac
post /v1/nothing '{}'
check "unknown endpoint -> 404" "$CODE" 404
post /v1/embeddings '{"model":"stories260K","input":"x"}'
check "embeddings -> 501" "$CODE" 501

head -c 9000000 /dev/zero | tr '\0' 'a' >"$TMP/big"
CODE=$(curl -s -o "$TMP/body" -w '%{http_code}' -H 'Content-Type: application/json' "$URL/v1/completions" --data-binary @"$TMP/big")
check "huge body -> 413" "$CODE" 413
check "Host evil.example -> 403" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "$URL/v1/models")" 403
check "Host localhost:port -> 200" "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: localhost:$PORT" "$URL/v1/models")" 200
check "foreign Origin -> 403" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' "$URL/v1/models")" 403

# 8 concurrent greedy requests: all equal the single-request answer.
for i in 1 2 3 4 5 6 7 8; do
  curl -s -o "$TMP/c$i" "$URL/v1/completions" -d '{"model":"stories260K","prompt":"Once upon a time","max_tokens":48,"temperature":0}' &
done
wait $(jobs -p | grep -v "^$SERVER_PID\$")
same=0
for i in 1 2 3 4 5 6 7 8; do [ "$(jget "$TMP/c$i" 'j["choices"][0]["text"]')" == "$want" ] && same=$((same + 1)); done
check "8 concurrent greedy = reference" "$same" 8

# A streaming client that hangs up: its slot is freed.
curl -sN --max-time 0.5 "$URL/v1/completions" -d '{"model":"stories260K","prompt":"Once upon a time","max_tokens":2000,"temperature":1,"stream":true,"logit_bias":{"2":-100}}' >"$TMP/partial"
grep -q '^data: {' "$TMP/partial" && pass "stream started" || fail "stream started"
busy=1
for _ in $(seq 40); do busy=$(metric 'slm_slots_busy{model="stories260K"}'); [ "$busy" == 0 ] && break; sleep 0.05; done
check "disconnect frees the slot" "$busy" 0
grep -q 'path=/v1/completions model=stories260K status=499' "$SERVER_LOG" && pass "disconnect logged as 499" || fail "disconnect logged as 499"

stop_server
check "SIGTERM exits 0" "$?" 0

# A full queue: one slot busy, one request waiting, the next gets 429.
start_server --model "$MODEL" --parallel 1 --queue 1 -t 1 || { fail "start"; finish; }
long='{"model":"stories260K","prompt":"Once upon a time","max_tokens":1500,"temperature":1,"stream":true,"logit_bias":{"2":-100}}'
curl -sN --max-time 20 "$URL/v1/completions" -d "$long" >/dev/null &
c1=$!
for _ in $(seq 40); do [ "$(metric 'slm_slots_busy{model="stories260K"}')" == 1 ] && break; sleep 0.05; done
curl -sN --max-time 20 "$URL/v1/completions" -d "$long" >/dev/null &
c2=$!
for _ in $(seq 40); do [ "$(metric 'slm_queue_depth{model="stories260K"}')" == 1 ] && break; sleep 0.05; done
curl -s -D "$TMP/hdr" -o "$TMP/body" "$URL/v1/completions" -d '{"model":"stories260K","prompt":"Once","max_tokens":2}'
check "full queue -> 429" "$(awk 'NR==1 {print $2}' "$TMP/hdr")" 429
grep -qi '^Retry-After: 1' "$TMP/hdr" && pass "429 has Retry-After" || fail "429 has Retry-After"
check "429 error code" "$(jget "$TMP/body" 'j["error"]["code"]')" "queue_full"
kill "$c1" "$c2" 2>/dev/null
wait "$c1" "$c2" 2>/dev/null
stop_server
check "exit 0 after the queue test" "$?" 0

# API key: required everywhere but /health.
start_server --model "$MODEL" --api-key s3cret -t 1 || { fail "start"; finish; }
check "no key -> 401" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/models")" 401
check "wrong key -> 401" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$URL/v1/models")" 401
check "right key -> 200" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret' "$URL/v1/models")" 200
check "health needs no key" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" 200
stop_server
check "exit 0 after the key test" "$?" 0

expect_fail "non-loopback bind needs a key" 1 "requires --api-key" -- "$SLM" serve --model "$MODEL" --host 0.0.0.0 --port 0
expect_fail "no model" 2 "no model given" -- "$SLM" serve --port 0
expect_fail "missing model file" 1 "not a readable model file" -- "$SLM" serve --model /nonexistent.gguf --port 0
finish
