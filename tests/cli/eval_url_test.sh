# slm eval against an OpenAI-compatible URL: a fake server
# (tests/eval/fake_openai.py) that streams scripted answers and fails some
# requests (HTTP 500, dropped connection, 503 once). Checks bounded
# concurrency, failed requests as failed results, tool calls and schemas
# over SSE, resume retrying failed requests and surviving a cut-off log
# line, --min-success, diff regressions, and the HTML report in headless
# Chromium when tests/eval/node_modules and /usr/bin/chromium exist.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
python3 "$HERE/../eval/fake_openai.py" --port-file "$TMP/port" --delay 0.2 &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { fail "fake server did not start"; finish; }
URL="http://127.0.0.1:$(cat "$TMP/port")"
{
  for i in 1 2 3 4 5 6; do
    echo "{\"id\":\"ok$i\",\"prompt\":\"ANSWER: billing\",\"tags\":[\"label\"],\"expect\":{\"label\":\"billing\"}}"
  done
  echo '{"id":"inv","prompt":"ANSWER: {\"total\": 12.5, \"currency\": \"EUR\"}","tags":["json"],"expect":{"schema":{"type":"object","properties":{"currency":{"enum":["EUR","USD"]},"total":{"type":"number"}},"required":["total","currency"]}}}'
  echo '{"id":"badjson","prompt":"ANSWER: {\"total\": \"12\"}","tags":["json"],"expect":{"schema":{"type":"object","properties":{"total":{"type":"number"}},"required":["total"]}}}'
  echo '{"id":"tool","prompt":"TOOL: get_weather {\"city\": \"Oslo\", \"days\": 3}","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}}}],"expect":{"tool_call":{"name":"get_weather","arguments":{"city":"Oslo","days":3}}}}'
  echo '{"id":"e500","prompt":"FAIL500","tags":["flaky"],"expect":{"contains":"ok"}}'
  echo '{"id":"drop","prompt":"FAILDROP","tags":["flaky"],"expect":{"contains":"ok"}}'
  echo '{"id":"once","prompt":"FAILONCE then fine","tags":["flaky"],"expect":{"contains":"ok"}}'
} >"$TMP/suite.jsonl"
"$SLM" eval "$TMP/suite.jsonl" -t "fake=$URL,price=1000/2000" --concurrency 3 --json "$TMP/a.json" \
  --html "$TMP/a.html" --progress >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] && pass "run exits 0" || fail "run exit $rc: $(tail -3 "$TMP/err")"
grep -q "ETA" "$TMP/err" && grep -q "12/12 100%" "$TMP/err" && pass "progress lines with ETA" || fail "progress: $(tail -2 "$TMP/err")"
stats=$(curl -s "$URL/stats")
python3 -c "import json,sys; s=json.loads(sys.argv[1]); assert s['max_inflight']==3 and s['requests']==12, s" "$stats" &&
  pass "concurrency bounded at 3 ($stats)" || fail "concurrency: $stats"
python3 - "$TMP/a.json" <<'PY' && pass "metrics with failed requests" || fail "metrics"
import json, sys
r = json.load(open(sys.argv[1]))
m = r["targets"][0]["metrics"]
res = {x["case"]: x for x in r["results"]}
assert m["n"] == 12 and m["n_error"] == 3 and m["n_success"] == 8, m
assert m["exact_pct"] == 100.0 and m["schema_pct"] == 50.0 and m["call_pct"] == 100.0, m
assert res["e500"]["error"].startswith("HTTP 500: scripted failure"), res["e500"]
assert res["once"]["error"].startswith("HTTP 503"), res["once"]
assert res["drop"]["error"], res["drop"]
assert res["tool"]["tool_calls"][0]["function"]["arguments"] == '{"city": "Oslo", "days": 3}'
assert res["ok1"]["ttft_s"] > 0 and res["ok1"]["latency_s"] >= 0.2
# usage from the stream: prompt 2 words, answer 1 word; price per million tokens
assert res["ok1"]["prompt_tokens"] == 2 and res["ok1"]["completion_tokens"] == 1
assert abs(res["ok1"]["cost"] - (2 * 1000 + 1 * 2000) / 1e6) < 1e-12, res["ok1"]["cost"]
assert abs(m["cost_per_success"] - m["cost"] / 8) < 1e-12
assert r["targets"][0]["tags"]["flaky"]["success_pct"] == 0.0
PY
grep -q "e500: HTTP 500" "$TMP/out" && pass "table lists failed requests" || fail "table: $(cat "$TMP/out")"
# resume: a kill may leave half a line; failed requests are retried, answered ones are not
printf '{"target":"fake","case":"ok1","succ' >>"$TMP/a.json.results.jsonl"
"$SLM" eval "$TMP/suite.jsonl" -t "fake=$URL,price=1000/2000" --concurrency 3 --json "$TMP/b.json" \
  --results "$TMP/a.json.results.jsonl" --min-success 75 -q 2>"$TMP/err"
rc=$?
grep -q "resumed 9 results" "$TMP/err" && pass "resume skips answered cases" || fail "resume: $(cat "$TMP/err")"
python3 -c "import json,sys; s=json.loads(sys.argv[1]); assert s['requests']==15, s" "$(curl -s "$URL/stats")" &&
  pass "only the 3 failed requests were sent again" || fail "requests after resume: $(curl -s "$URL/stats")"
python3 - "$TMP/b.json" <<'PY' && pass "retried FAILONCE now succeeds" || fail "resumed report"
import json, sys
r = json.load(open(sys.argv[1]))
res = {x["case"]: x for x in r["results"]}
assert res["once"]["success"] and r["targets"][0]["metrics"]["n_success"] == 9
PY
[ "$rc" -eq 0 ] && pass "--min-success 75 met by 9/12: exit 0" || fail "--min-success 75: exit $rc"
"$SLM" eval "$TMP/suite.jsonl" -t "fake=$URL" --results "$TMP/a.json.results.jsonl" --min-success 80 -q 2>/dev/null
rc=$?
[ "$rc" -eq 3 ] && pass "--min-success 80 missed: exit 3" || fail "--min-success 80: exit $rc"
"$SLM" eval diff "$TMP/a.json" "$TMP/b.json" >"$TMP/out"
[ $? -eq 0 ] && pass "diff a->b: improvement, exit 0" || fail "diff a->b: $(cat "$TMP/out")"
"$SLM" eval diff "$TMP/b.json" "$TMP/a.json" >"$TMP/out"
rc=$?
[ "$rc" -eq 3 ] && grep -q "newly failing: once" "$TMP/out" && pass "diff b->a: regression, exit 3" ||
  fail "diff b->a exit $rc: $(cat "$TMP/out")"
# an unreachable target: every request fails, the run still reports
"$SLM" eval "$TMP/suite.jsonl" -t "dead=http://127.0.0.1:1" --json "$TMP/c.json" -q 2>/dev/null
python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['targets'][0]['metrics']; assert m['n_error']==12 and m['success_pct']==0.0" "$TMP/c.json" &&
  pass "unreachable URL: all failed, reported" || fail "unreachable URL"
# the HTML report renders in headless Chromium (optional tooling)
if [ -d "$HERE/../eval/node_modules/playwright-core" ] && [ -x /usr/bin/chromium ]; then
  node "$HERE/../eval/render_check.js" "$TMP/a.html" && pass "html renders in chromium" || fail "chromium render"
else
  echo "skip: chromium render check (needs tests/eval/node_modules and /usr/bin/chromium)"
fi
finish
