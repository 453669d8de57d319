#!/usr/bin/env bash
# slm route --explain and slm usage: decisions with reasons, sensitive
# requests kept local, refusals, bad config named by file:line, usage report
# from a ledger written by a real process (does not need ../shared).
. "$(dirname "$0")/lib.sh"
FIX="$(cd "$(dirname "$0")/../router" && pwd)"
export SLM_HOME="$TMP/home"

req() { printf '{"model":"auto","messages":[{"role":"user","content":"%s"}]}' "$1" > "$TMP/req.json"; }

req "Classify this ticket: the app crashes"
out=$("$SLM" route --explain "$TMP/req.json" --config "$FIX/three_tiers.yaml")
echo "$out" | grep -q "rule:      narrow-local -> tier local" && echo "$out" | grep -q "plan:      local/small > mid/mid-a > frontier/big" \
  && pass "classify goes local, escalation plan" || fail "classify: $out"

req "Write an essay about tides"
out=$("$SLM" route --explain "$TMP/req.json" --config "$FIX/three_tiers.yaml" --json)
echo "$out" | grep -q '"rule": "open-ended"' && echo "$out" | grep -q '"tier": "frontier"' \
  && pass "open-ended goes to frontier" || fail "open-ended: $out"

req "Write an essay about tides, reply to jo@example.com"
out=$("$SLM" route --explain "$TMP/req.json" --config "$FIX/three_tiers.yaml")
echo "$out" | grep -q "sensitive: yes (pii:email)" && echo "$out" | grep -q "plan:      local/small$" \
  && pass "PII keeps the request local" || fail "pii: $out"

out=$("$SLM" route --explain "$TMP/req.json" --config "$FIX/three_tiers.yaml" --header "x-slm-task: code")
echo "$out" | grep -q "task:      code (header)" && pass "x-slm-task header" || fail "header: $out"

printf '{"model":"big","messages":[{"role":"user","content":"hi"}]}' > "$TMP/named.json"
"$SLM" route --explain "$TMP/named.json" --config "$FIX/three_tiers.yaml" --header "x-slm-sensitive: 1" > "$TMP/o" 2>&1
rc=$?
[ "$rc" -eq 3 ] && grep -q "refused:   HTTP 403" "$TMP/o" && pass "sensitive + named remote model refused (exit 3)" \
  || fail "refusal rc=$rc: $(cat "$TMP/o")"

req "hello"
out=$("$SLM" route --explain "$TMP/req.json")
echo "$out" | grep -q "plan:      local/local" && pass "no config: one local tier" || fail "default: $out"

expect_fail "bad config names file:line" 1 "bad_timeout.yaml:6: timeout: 'soon' is not a number" -- \
  "$SLM" route --explain "$TMP/req.json" --config "$FIX/bad_timeout.yaml"
expect_fail "missing config" 1 "nope.yaml" -- "$SLM" route --explain "$TMP/req.json" --config "$TMP/nope.yaml"
echo "{" > "$TMP/broken.json"
expect_fail "bad request json" 1 "broken.json:" -- "$SLM" route --explain "$TMP/broken.json"
expect_fail "no --explain" 2 "required" -- "$SLM" route
expect_fail "bad --since" 2 "bad value for --since" -- "$SLM" usage --since yesterday

out=$("$SLM" usage --json)
echo "$out" | grep -q '"requests": 0' && [ -f "$SLM_HOME/ledger.db" ] && pass "empty ledger report" || fail "usage empty: $out"
if command -v sqlite3 >/dev/null; then
  now=$(date +%s)
  for i in 1 2 3 4 5 6 7; do sqlite3 "$SLM_HOME/ledger.db" "INSERT INTO requests(ts,tier,tokens_in,tokens_out,latency_ms,cost_usd,frontier_cost_usd) VALUES($now,'local',10,5,$i,0,1)"; done
  sqlite3 "$SLM_HOME/ledger.db" "INSERT INTO requests(ts,tier,tokens_in,tokens_out,latency_ms,cost_usd,frontier_cost_usd,escalated,escalation_reason) VALUES($now,'mid',10,5,50,0.1,1,1,'refusal')"
  out=$("$SLM" usage --since 1h)
  echo "$out" | grep -qE "^local +7 +87.5%" && echo "$out" | grep -q "refusal" && pass "usage table" || fail "usage: $out"
fi
finish
