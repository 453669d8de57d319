# slm serve operations: CORS when configured (preflight and headers),
# /metrics counters, Ollama error shapes, n > 1 choices, token-id prompts,
# models unloading after --keep-alive, and SIGTERM letting an in-flight
# request finish within the grace period.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../e2e/serve_helpers.sh"
need_shared
need_curl
MODEL="$SHARED/models/stories260K.gguf"

start_server --model "tiny=$MODEL" --cors-origin http://app.example --keep-alive 3 -t 1 -q || { fail "start"; finish; }
curl -s -o /dev/null -D "$TMP/hdr" -X OPTIONS -H 'Origin: http://app.example' \
  -H 'Access-Control-Request-Method: POST' "$URL/v1/chat/completions"
check "preflight -> 204" "$(awk 'NR==1 {print $2}' "$TMP/hdr")" 204
grep -qi '^Access-Control-Allow-Origin: http://app.example' "$TMP/hdr" && pass "preflight allows the origin" || fail "preflight allows the origin"
check "configured Origin -> 200" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://app.example' "$URL/v1/models")" 200
check "other Origin -> 403" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' "$URL/v1/models")" 403

post /api/generate '{"model":"tiny", "prompt": 3}'
check "ollama wrong type -> 400" "$CODE" 400
check "ollama error shape" "$(jget "$TMP/body" 'list(j.keys())')" "['error']"
post /api/chat '{not json'
check "ollama malformed JSON -> 400" "$CODE:$(jget "$TMP/body" '"error" in j')" "400:True"
post /api/generate '{"model":"tiny:latest","prompt":"Once upon a time","stream":false,"options":{"num_predict":4,"temperature":0}}'
check "name:latest resolves" "$CODE:$(jget "$TMP/body" 'j["eval_count"]')" "200:4"
post /api/generate '{"model":"tiny","prompt":"Once upon a time","stream":false,"format":"json","options":{"num_predict":6}}'
check "ollama format json -> 200, output starts an object" "$CODE:$(jget "$TMP/body" 'j["response"][:1]')" "200:{"
post /api/generate '{"model":"tiny","prompt":"Once upon a time","stream":false,"format":"xml"}'
check "ollama format xml -> 400" "$CODE:$(jget "$TMP/body" '"format" in j["error"]')" "400:True"

post /v1/completions '{"model":"tiny","prompt":"Once upon a time","max_tokens":8,"temperature":1,"seed":7,"n":3}'
check "n=3 choices" "$CODE:$(jget "$TMP/body" '[c["index"] for c in j["choices"]]')" "200:[0, 1, 2]"
check "n=3 usage counts all" "$(jget "$TMP/body" 'j["usage"]["completion_tokens"]')" 24
post /v1/completions '{"model":"tiny","prompt":"Once","max_tokens":8,"n":2,"stream":true}'
check "n=2 with stream -> 400" "$CODE:$(jget "$TMP/body" 'j["error"]["param"]')" "400:n"
post /v1/completions '{"model":"tiny","prompt":[1,403,407,261,378],"max_tokens":6,"temperature":0}'
check "token-id prompt" "$CODE:$(jget "$TMP/body" 'j["choices"][0]["text"]')" "200:, there was a little g"

# Byte tokens that never form a character: valid JSON with U+FFFD each.
post /v1/completions '{"model":"tiny","prompt":"Once","max_tokens":2,"temperature":0,"logit_bias":{"229":100},"logprobs":0}'
check "invalid UTF-8 -> U+FFFD" "$CODE:$(jget "$TMP/body" 'j["choices"][0]["text"] == "\ufffd\ufffd"')" "200:True"
check "logprob tokens are U+FFFD" "$(jget "$TMP/body" 'j["choices"][0]["logprobs"]["tokens"] == ["\ufffd"] * 2')" True

gen=$(metric slm_generated_tokens_total)
[ "${gen:-0}" -ge 36 ] && pass "metrics count generated tokens ($gen)" || fail "metrics count generated tokens: $gen"
curl -s "$URL/metrics" | grep -q '^slm_ttft_seconds_bucket{le="+Inf"}' && pass "ttft histogram" || fail "ttft histogram"

# a request right before, so a loaded machine cannot outlast the keep-alive
post /v1/completions '{"model":"tiny","prompt":"Once","max_tokens":1,"temperature":0}'
check "model loaded" "$(curl -s "$URL/api/ps" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["models"]))')" 1
loaded=1
for _ in $(seq 150); do
  loaded=$(curl -s "$URL/api/ps" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["models"]))')
  [ "$loaded" == 0 ] && break
  sleep 0.1
done
check "model unloaded after --keep-alive 3" "$loaded" 0
post /v1/completions '{"model":"tiny","prompt":"Once upon a time","max_tokens":6,"temperature":0}'
check "reloads on the next request" "$CODE:$(jget "$TMP/body" 'j["choices"][0]["text"]')" "200:, there was a little g"
stop_server
check "exit 0" "$?" 0

# SIGTERM with a request in flight: it completes, then the server exits 0.
start_server --model "$MODEL" --grace 20 -t 1 -q || { fail "start"; finish; }
curl -s -o "$TMP/inflight" -w '%{http_code}' "$URL/v1/completions" \
  -d '{"model":"stories260K","prompt":"Once upon a time","max_tokens":400,"temperature":1,"logit_bias":{"2":-100}}' >"$TMP/code" &
client=$!
for _ in $(seq 40); do [ "$(metric 'slm_slots_busy{model="stories260K"}')" == 1 ] && break; sleep 0.05; done
stop_server
check "graceful exit 0" "$?" 0
wait "$client"
check "in-flight request finished" "$(cat "$TMP/code"):$(jget "$TMP/inflight" 'j["usage"]["completion_tokens"]')" "200:400"
finish
