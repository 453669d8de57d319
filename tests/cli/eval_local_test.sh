# slm eval against a local model (stories260K, greedy, no chat template so
# the prompt is plain text): table, --json and --html outputs, resume from
# the results log, --min-success exit codes, diff/report subcommands and
# errors with file:line.
. "$(dirname "$0")/lib.sh"
need_shared
m="$SHARED/models/stories260K.gguf"
cat >"$TMP/s.yaml" <<'YAML'
name: stories
defaults:
  max_tokens: 10
cases:
  - id: lily
    prompt: "Once upon a time"
    tags: [story]
    expect:
      icontains: lily
  - id: dragon
    prompt: "Once upon a time"
    tags: [story, hard]
    expect:
      contains: dragon
YAML
"$SLM" eval "$TMP/s.yaml" -t "tiny=$m" --json "$TMP/r.json" --html "$TMP/r.html" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] && pass "run exits 0" || fail "run exit $rc: $(cat "$TMP/err")"
grep -q "tiny .* 50.0%" "$TMP/out" && pass "table shows 50% success" || fail "table: $(cat "$TMP/out")"
grep -q "dragon: does not contain 'dragon'" "$TMP/out" && pass "failed case listed with reason" || fail "no failure line"
python3 - "$TMP/r.json" <<'PY' && pass "json report" || fail "json report content"
import json, sys
r = json.load(open(sys.argv[1]))
t = r["targets"][0]
m = t["metrics"]
assert r["format"] == "slm-eval/1" and r["suite"] == "stories", r
assert t["target"] == "tiny" and m["n"] == 2 and m["n_success"] == 1 and m["success_pct"] == 50.0, m
assert m["latency_p50_s"] > 0 and m["ttft_p50_s"] > 0 and m["tokens_per_s"] > 0, m
assert t["tags"]["hard"]["n"] == 1 and t["tags"]["hard"]["success_pct"] == 0.0, t["tags"]
res = {x["case"]: x for x in r["results"]}
assert res["lily"]["success"] and not res["dragon"]["success"]
assert "Lily" in res["lily"]["output"] and res["lily"]["completion_tokens"] == 10, res["lily"]
assert res["dragon"]["input"] == "Once upon a time"
PY
grep -q '<svg class="chart" id="chart-latency"' "$TMP/r.html" && ! grep -q '<script' "$TMP/r.html" &&
  pass "html report with inline charts, no scripts" || fail "html report"
[ "$(wc -l <"$TMP/r.json.results.jsonl")" -eq 2 ] && pass "results log has 2 lines" || fail "results log"
# resume: nothing left to run, same report; --min-success gates
"$SLM" eval "$TMP/s.yaml" -t "tiny=$m" --json "$TMP/r2.json" --results "$TMP/r.json.results.jsonl" \
  --min-success 60 -q 2>"$TMP/err"
rc=$?
[ "$rc" -eq 3 ] && pass "--min-success 60 misses: exit 3" || fail "--min-success exit $rc"
grep -q "resumed 2 results" "$TMP/err" && pass "resumed from the log" || fail "no resume: $(cat "$TMP/err")"
grep -q "below --min-success" "$TMP/err" && pass "bar message" || fail "bar message missing"
"$SLM" eval "$TMP/s.yaml" -t "tiny=$m" --results "$TMP/r.json.results.jsonl" --min-success 50 -q 2>/dev/null &&
  pass "--min-success 50 met: exit 0" || fail "--min-success 50 failed"
[ "$(wc -l <"$TMP/r.json.results.jsonl")" -eq 2 ] && pass "resume ran nothing again" || fail "log grew on resume"
"$SLM" eval diff "$TMP/r.json" "$TMP/r2.json" >"$TMP/out" && grep -q "0 regression" "$TMP/out" &&
  pass "diff of equal runs" || fail "diff: $(cat "$TMP/out")"
"$SLM" eval report "$TMP/r.json" --html "$TMP/again.html" && grep -q "chart-success-cost" "$TMP/again.html" &&
  pass "report re-renders html" || fail "eval report"
# errors
printf 'cases:\n  - prompt: p\n    expect: {colour: red}\n' >"$TMP/bad.yaml"
expect_fail "unknown expectation names file:line" 1 "bad.yaml:3: case 'case-1': colour" -- "$SLM" eval "$TMP/bad.yaml" -t "$m"
expect_fail "missing model" 1 "nope.gguf" -- "$SLM" eval "$TMP/s.yaml" -t "$TMP/nope.gguf"
expect_fail "no target" 2 "no target" -- "$SLM" eval "$TMP/s.yaml"
expect_fail "bad option" 2 "unknown option" -- "$SLM" eval "$TMP/s.yaml" -t "$m" --frobnicate 1
expect_fail "bad --min-success" 2 "bad value for --min-success" -- "$SLM" eval "$TMP/s.yaml" -t "$m" --min-success 101
echo "{\"a\": 1}" >"$TMP/notreport.json"
expect_fail "diff of a non-report" 1 "not an slm eval report" -- "$SLM" eval diff "$TMP/notreport.json" "$TMP/r.json"
expect_fail "diff of a non-JSON file" 1 "s.yaml:1:" -- "$SLM" eval diff "$TMP/s.yaml" "$TMP/r.json"
"$SLM" help eval | grep -q "min-success" && pass "help" || fail "help"
finish
