# slm serve structured output and tools with curl on stories260K (a base
# model: whatever it writes is the grammar's doing): response_format
# json_schema over many seeds gives JSON valid for the schema, finish
# "stop"; a GBNF `grammar` gives one of its sentences; tool_choice required
# and named give tool_calls of a declared function with arguments valid for
# its parameters, finish "tool_calls"; a streamed call's deltas reassemble
# to the whole answer's call; Ollama format (schema), tools and
# tool_choice (an extension Ollama lacks); grammar
# timings in /metrics; and the error paths: schemas with unsupported
# features (400 naming the feature), bad GBNF (400 with line:col), unknown
# tool_choice name, tool_choice without tools, tools on completions, two
# constraints at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../e2e/serve_helpers.sh"
need_shared
need_curl
start_server --model "$SHARED/models/stories260K.gguf" --parallel 4 -t 1 || { fail "start"; finish; }
MSG='"model":"stories260K","messages":[{"role":"user","content":"Tell me about a cat."}]'
SCHEMA='{"type":"object","properties":{"name":{"type":"string","maxLength":12},"mood":{"enum":["happy","sad"]},"tags":{"type":"array","items":{"type":"boolean"},"maxItems":3},"pet":{"type":"object","properties":{"kind":{"const":"cat"}},"required":["kind"]}},"required":["name","mood","tags","pet"]}'
# valid_person FILE: the message content is JSON valid for SCHEMA
valid_person() {
  python3 - "$1" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["choices"][0]
v = json.loads(c["message"]["content"])
ok = (c["finish_reason"] == "stop" and set(v) == {"name", "mood", "tags", "pet"} and isinstance(v["name"], str)
      and len(v["name"]) <= 12 and v["mood"] in ("happy", "sad") and isinstance(v["tags"], list) and len(v["tags"]) <= 3
      and all(isinstance(t, bool) for t in v["tags"]) and v["pet"] == {"kind": "cat"})
print("ok" if ok else "bad: " + c["message"]["content"])
EOF
}

good=0
for seed in 1 2 3 4 5 6 7 8 9 10 11 12; do
  post /v1/chat/completions "{$MSG,\"seed\":$seed,\"temperature\":1,\"max_tokens\":300,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"person\",\"strict\":true,\"schema\":$SCHEMA}}}"
  r=$(valid_person "$TMP/body" 2>&1)
  if [ "$CODE" = 200 ] && [ "$r" = ok ]; then good=$((good + 1)); else echo "seed $seed: $CODE $r $(head -c 300 "$TMP/body")"; fi
done
check "json_schema: 12 seeds, 12 valid" "$good" 12

post /v1/chat/completions "{$MSG,\"max_tokens\":8,\"response_format\":{\"type\":\"json_object\"}}"
check "json_object: output starts an object" "$CODE:$(jget "$TMP/body" 'j["choices"][0]["message"]["content"][:2]')" '200:{"'

post /v1/chat/completions "{$MSG,\"grammar\":\"root ::= (\\\"yes\\\" | \\\"no\\\") \\\".\\\"\"}"
check "grammar (GBNF): one of its sentences" "$CODE:$(jget "$TMP/body" 'j["choices"][0]["message"]["content"] in ("yes.", "no.")'):$(jget "$TMP/body" 'j["choices"][0]["finish_reason"]')" "200:True:stop"

post /v1/completions '{"model":"stories260K","prompt":"The cat was","temperature":1,"seed":5,"response_format":{"type":"json_schema","json_schema":{"name":"c","schema":{"enum":["red","green","blue"]}}}}'
check "completions honour response_format" "$CODE:$(jget "$TMP/body" 'j["choices"][0]["text"] in ("\"red\"", "\"green\"", "\"blue\"")')" "200:True"

# ---- tools ----
TOOLS='[{"type":"function","function":{"name":"get_weather","description":"Weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":12},"unit":{"enum":["c","f"]}},"required":["city","unit"]}}},{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"tz":{"type":"string","maxLength":6}},"required":["tz"]}}}]'
# valid_calls FILE ALLOWED_NAMES: every call is a declared function with valid arguments
valid_calls() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["choices"][0]
calls = c["message"].get("tool_calls") or []
ok = c["finish_reason"] == "tool_calls" and len(calls) >= 1
for t in calls:
    a = json.loads(t["function"]["arguments"])
    n = t["function"]["name"]
    ok = ok and t["type"] == "function" and t["id"].startswith("call_") and n in sys.argv[2].split(",")
    if n == "get_weather":
        ok = ok and set(a) == {"city", "unit"} and len(a["city"]) <= 12 and a["unit"] in ("c", "f")
    else:
        ok = ok and set(a) == {"tz"} and len(a["tz"]) <= 6
print("ok" if ok else "bad: " + json.dumps(c))
EOF
}
good=0
for seed in 1 2 3 4 5 6; do
  post /v1/chat/completions "{$MSG,\"seed\":$seed,\"temperature\":1,\"max_tokens\":200,\"tools\":$TOOLS,\"tool_choice\":\"required\"}"
  r=$(valid_calls "$TMP/body" get_weather,get_time 2>&1)
  if [ "$CODE" = 200 ] && [ "$r" = ok ]; then good=$((good + 1)); else echo "seed $seed: $CODE $r"; fi
done
check "tool_choice required: 6 seeds, 6 valid calls" "$good" 6
good=0
for seed in 1 2 3; do
  post /v1/chat/completions "{$MSG,\"seed\":$seed,\"temperature\":1,\"max_tokens\":200,\"tools\":$TOOLS,\"parallel_tool_calls\":false,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}}"
  r=$(valid_calls "$TMP/body" get_weather 2>&1)
  n=$(jget "$TMP/body" 'len(j["choices"][0]["message"]["tool_calls"])')
  if [ "$CODE" = 200 ] && [ "$r" = ok ] && [ "$n" = 1 ]; then good=$((good + 1)); else echo "seed $seed: $CODE $r n=$n"; fi
done
check "named tool_choice, parallel_tool_calls false: one get_weather call" "$good" 3

FUNCS=$(python3 -c 'import json,sys; print(json.dumps([t["function"] for t in json.loads(sys.argv[1])]))' "$TOOLS")
post /v1/chat/completions "{$MSG,\"seed\":4,\"max_tokens\":200,\"functions\":$FUNCS,\"function_call\":{\"name\":\"get_time\"},\"parallel_tool_calls\":false}"
check "legacy functions + function_call: a get_time call" "$CODE:$(valid_calls "$TMP/body" get_time)" "200:ok"

BODY="{$MSG,\"temperature\":0,\"max_tokens\":200,\"tools\":$TOOLS,\"tool_choice\":\"required\""
post /v1/chat/completions "$BODY}"
whole=$(jget "$TMP/body" '[(t["function"]["name"], t["function"]["arguments"]) for t in j["choices"][0]["message"]["tool_calls"]]')
curl -sN "$URL/v1/chat/completions" -d "$BODY,\"stream\":true}" >"$TMP/sse"
streamed=$(python3 - "$TMP/sse" <<'EOF'
import json, sys
calls, finish, content = {}, None, ""
for line in open(sys.argv[1]):
    if not line.startswith("data: ") or line.strip() == "data: [DONE]":
        continue
    ch = json.loads(line[6:])["choices"][0]
    finish = ch["finish_reason"] or finish
    content += ch["delta"].get("content") or ""
    for d in ch["delta"].get("tool_calls") or []:
        c = calls.setdefault(d["index"], {"name": "", "arguments": ""})
        c["name"] += d.get("function", {}).get("name", "")
        c["arguments"] += d.get("function", {}).get("arguments", "")
print([(calls[i]["name"], calls[i]["arguments"]) for i in sorted(calls)], finish, repr(content))
EOF
)
check "streamed tool-call deltas = whole answer's calls" "$streamed" "$whole tool_calls ''"

post /v1/chat/completions "{$MSG,\"seed\":3,\"max_tokens\":30,\"tools\":$TOOLS}"
check "tool_choice auto: 200, plain text from a base model" "$CODE:$(jget "$TMP/body" 'j["choices"][0]["finish_reason"] in ("stop", "length")')" "200:True"
BODY="{$MSG,\"temperature\":0,\"max_tokens\":40,\"tools\":$TOOLS"
post /v1/chat/completions "$BODY}"
whole=$(jget "$TMP/body" 'j["choices"][0]["message"]["content"]')
curl -sN "$URL/v1/chat/completions" -d "$BODY,\"stream\":true}" >"$TMP/sse"
check "tool_choice auto streamed: the same text as whole" "$(python3 -c 'import json,sys; print("".join((json.loads(l[6:])["choices"][0]["delta"].get("content") or "") for l in open(sys.argv[1]) if l.startswith("data: {")))' "$TMP/sse")" "$whole"
post /v1/chat/completions "{$MSG,\"seed\":3,\"max_tokens\":30,\"tools\":$TOOLS,\"tool_choice\":\"none\"}"
check "tool_choice none: no tool_calls" "$CODE:$(jget "$TMP/body" '"tool_calls" in j["choices"][0]["message"]')" "200:False"

# ---- Ollama ----
post /api/chat "{$MSG,\"stream\":false,\"options\":{\"seed\":4,\"temperature\":1},\"format\":$SCHEMA}"
check "ollama format schema: valid JSON" "$CODE:$(jget "$TMP/body" 'sorted(json.loads(j["message"]["content"]))')" "200:['mood', 'name', 'pet', 'tags']"
post /api/chat "{$MSG,\"stream\":false,\"options\":{\"num_predict\":10},\"tools\":$TOOLS}"
check "ollama tools accepted" "$CODE:$(jget "$TMP/body" 'j["done"]')" "200:True"
post /api/chat "{$MSG,\"stream\":false,\"options\":{\"seed\":2,\"temperature\":1},\"tools\":$TOOLS,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}}"
check "ollama tool_choice (extension): message.tool_calls with an arguments object" "$CODE:$(jget "$TMP/body" '[(t["function"]["name"], sorted(t["function"]["arguments"])) for t in j["message"]["tool_calls"]][:1]'):$(jget "$TMP/body" 'j["done_reason"]')" "200:[('get_time', ['tz'])]:stop"
curl -sN "$URL/api/chat" -d "{$MSG,\"options\":{\"temperature\":0},\"tools\":$TOOLS,\"tool_choice\":\"required\"}" >"$TMP/nd"
check "ollama streamed tool_calls" "$(python3 -c 'import json,sys; L=[json.loads(l) for l in open(sys.argv[1])]; t=[c for l in L for c in l.get("message",{}).get("tool_calls",[])]; print(len(t) >= 1, all(isinstance(c["function"]["arguments"], dict) for c in t), L[-1]["done"], "".join(l.get("message",{}).get("content","") for l in L))' "$TMP/nd")" "True True True "
post /api/generate '{"model":"stories260K","prompt":"x","stream":false,"tools":[{"type":"function","function":{"name":"f"}}]}'
check "ollama tools on generate -> 400" "$CODE" 400

# ---- errors: fail closed ----
post /v1/chat/completions "{$MSG,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\",\"unevaluatedProperties\":{\"type\":\"string\"}}}}}"
check "unsupported keyword -> 400" "$CODE:$(jget "$TMP/body" 'j["error"]["param"]')" "400:response_format.json_schema.schema"
case "$(jget "$TMP/body" 'j["error"]["message"]')" in *unevaluatedProperties*) pass "400 names the keyword";; *) fail "400 names the keyword: $(cat "$TMP/body")";; esac
post /v1/chat/completions "{$MSG,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"string\",\"pattern\":\"(?=a)b\"}}}}"
check "regex lookaround -> 400" "$CODE:$(jget "$TMP/body" '"lookaround" in j["error"]["message"]')" "400:True"
post /v1/chat/completions "{$MSG,\"max_tokens\":40,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"number\",\"multipleOf\":0.5,\"minimum\":-3.5,\"maximum\":10}}}}"
check "multipleOf 0.5 in [-3.5, 10]: a number that is one" "$CODE:$(jget "$TMP/body" '(lambda v: not isinstance(v, bool) and -3.5 <= v <= 10 and v * 2 == int(v * 2))(json.loads(j["choices"][0]["message"]["content"]))')" "200:True"
post /v1/chat/completions "{$MSG,\"grammar\":\"root ::= \\\"a\\\" undefined-rule\"}"
check "GBNF with an undefined rule -> 400" "$CODE:$(jget "$TMP/body" 'j["error"]["param"]')" "400:grammar"
post /v1/chat/completions "{$MSG,\"tools\":$TOOLS,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"launch\"}}}"
check "unknown tool_choice name -> 400" "$CODE:$(jget "$TMP/body" 'j["error"]["param"]'):$(jget "$TMP/body" '"launch" in j["error"]["message"]')" "400:tool_choice:True"
post /v1/chat/completions "{$MSG,\"tool_choice\":\"required\"}"
check "tool_choice required without tools -> 400" "$CODE:$(jget "$TMP/body" 'j["error"]["param"]')" "400:tool_choice"
post /v1/chat/completions "{$MSG,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"unevaluatedProperties\":false}}}],\"tool_choice\":\"required\"}"
check "tool parameters with an unsupported keyword -> 400" "$CODE:$(jget "$TMP/body" '"tools[0].function.parameters" in j["error"]["message"] and "unevaluatedProperties" in j["error"]["message"]')" "400:True"
post /v1/chat/completions "{$MSG,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"not\":{}}}}}"
check "a schema nothing satisfies: the request fails, no output" "$CODE:$(jget "$TMP/body" '"grammar" in j["error"]["message"]')" "400:True"
post /v1/chat/completions "{$MSG,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"bad name!\"}}]}"
check "bad function name -> 400" "$CODE:$(jget "$TMP/body" 'j["error"]["param"]')" "400:tools"
post /v1/completions "{\"model\":\"stories260K\",\"prompt\":\"x\",\"tools\":$TOOLS}"
check "tools on /v1/completions -> 400" "$CODE" 400
post /v1/chat/completions "{$MSG,\"grammar\":\"root ::= \\\"a\\\"\",\"response_format\":{\"type\":\"json_object\"}}"
check "grammar + response_format -> 400" "$CODE" 400
post /api/chat "{$MSG,\"stream\":false,\"format\":{\"type\":\"object\",\"unevaluatedProperties\":false}}"
check "ollama unsupported schema -> 400 naming it" "$CODE:$(jget "$TMP/body" '"unevaluatedProperties" in j["error"]')" "400:True"

masked=$(metric 'slm_grammar_masked_tokens_total{model="stories260K"}')
check "grammar mask timings in /metrics" "$([ "${masked:-0}" -gt 100 ] && echo yes)" yes
stop_server
check "server exits 0 on SIGTERM" "$?" 0
finish
