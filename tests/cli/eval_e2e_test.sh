#!/usr/bin/env bash
# slm eval end to end with real processes on loopback ports: a "mid"
# `slm serve` (stories260K), tests/eval/fake_openai.py as a remote tier that
# fails some requests (HTTP 500), and a front `slm serve --config slm.yaml`
# routing local -> mid -> remote. One run over a small suite with targets
# local (in process), auto (the router in process), front (the server's
# router, seen through x-slm-* headers), mid and remote (slm.yaml tiers);
# checks success counts, the failing remote's errors counted as failures,
# tier shares and escalation for both auto targets. Then --calibrate
# --write (the file keeps its comments, gains one line and still loads),
# judge-check against scripted and local judges (agreement, kappa,
# --strict), and the HTML reports in headless Chromium when available.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
FIX="$HERE/../router"
. "$FIX/e2e_lib.sh" # start_slm, PIDS killed on exit
need_shared
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 0; }
M="$SHARED/models/stories260K.gguf"

start_slm mid -m "mid-model=$M" || { fail "mid server"; finish; }
python3 "$HERE/../eval/fake_openai.py" --port-file "$TMP/fake.port" >"$TMP/fake.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do [ -s "$TMP/fake.port" ] && break; sleep 0.05; done
[ -s "$TMP/fake.port" ] || { fail "fake remote did not start"; finish; }
FAKE=$(cat "$TMP/fake.port")

mkdir -p "$TMP/a"
cat >"$TMP/a/slm.yaml" <<EOF
# eval e2e: local -> mid -> remote
tiers:
  - name: local
    models: [{name: small, path: '$M'}]
  - name: mid
    models: [{name: mid-a, base_url: 'http://127.0.0.1:$PORT_mid/v1', model: mid-model}]
  - name: remote
    models:
      - {name: far, base_url: 'http://127.0.0.1:$FAKE/v1', model: fake,
         input_cost_per_million: 10, output_cost_per_million: 30}
rules:
  - {name: open, task: open_ended, tier: remote}
confidence:
  check_labels: true   # labels come from the request's metadata
reliability: {retries: 0, cooldown_failures: 100}
EOF
CFG="$TMP/a/slm.yaml"
SLM_HOME="$TMP/a" start_slm front --config "$CFG" -m "small=$M" || { fail "front server"; finish; }

# c1/c2: a label set the base model cannot meet -> escalated to mid; c3/c4
# stay local; c5/c6 open-ended -> remote (scripted answers); c7 -> remote 500.
cat >"$TMP/suite.yaml" <<'EOF'
name: e2e
defaults: {max_tokens: 8}
cases:
  - {id: c1, prompt: "Classify this ticket: I was charged twice", metadata: {labels: [billing, tech]}, expect: {regex: '\S'}}
  - {id: c2, prompt: "Classify this ticket: the app crashes", metadata: {labels: [billing, tech]}, expect: {regex: '\S'}}
  - {id: c3, prompt: "Classify this ticket: login fails", expect: {regex: '\S'}}
  - {id: c4, prompt: "Tell me about cats", expect: {regex: '\S'}}
  - {id: c5, prompt: "Write an essay about tides.\nANSWER: tides are great", expect: {contains: tides}}
  - {id: c6, prompt: "Write an essay about rivers.\nANSWER: tides and rivers", expect: {contains: tides}}
  - {id: c7, prompt: "Write an essay about storms.\nFAIL500", expect: {regex: '\S'}}
EOF
"$SLM" eval "$TMP/suite.yaml" --config "$CFG" -t "local=$M" -t auto -t "front=http://127.0.0.1:$PORT_front,model=auto" \
  -t mid -t remote --threads 1 --json "$TMP/r.json" --html "$TMP/r.html" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] && pass "eval over 5 targets exits 0" || fail "eval exit $rc: $(tail -3 "$TMP/err")"
python3 - "$TMP/r.json" <<'PY' && pass "success counts; remote 500 counted as a failed result" || fail "success counts"
import json, sys
r = json.load(open(sys.argv[1]))
t = {x["target"]: x for x in r["targets"]}
m = {k: v["metrics"] for k, v in t.items()}
res = {(x["target"], x["case"]): x for x in r["results"]}
for k in ("local", "auto", "front", "mid", "remote"):
    assert m[k]["n"] == 7, (k, m[k])
# base model: any text passes, 'tides' never appears
assert (m["local"]["n_success"], m["local"]["n_error"]) == (5, 0), m["local"]
assert (m["mid"]["n_success"], m["mid"]["n_error"]) == (5, 0), m["mid"]
assert (m["remote"]["n_success"], m["remote"]["n_error"]) == (6, 1), m["remote"]
assert res[("remote", "c7")]["error"].startswith("HTTP 500"), res[("remote", "c7")]
assert not res[("remote", "c7")]["success"]
for k in ("auto", "front"):
    assert (m[k]["n_success"], m[k]["n_error"]) == (6, 1), (k, m[k])
    assert res[(k, "c7")]["error"].startswith("HTTP 502"), res[(k, "c7")]
assert m["remote"]["cost"] > 0 and "routing" not in t["remote"] and "routing" not in t["local"]
PY
python3 - "$TMP/r.json" <<'PY' && pass "auto and front: tier shares and escalation rate" || fail "tier shares"
import json, sys
r = json.load(open(sys.argv[1]))
t = {x["target"]: x for x in r["targets"]}
res = {(x["target"], x["case"]): x for x in r["results"]}
for k in ("auto", "front"):
    ro = t[k]["routing"]
    shares = {tier: (v["n"], round(v["share_pct"], 1)) for tier, v in ro["tiers"].items()}
    assert shares == {"local": (2, 28.6), "mid": (2, 28.6), "remote": (2, 28.6), "(failed)": (1, 14.3)}, (k, shares)
    assert (ro["n_routed"], ro["n_escalated"]) == (6, 2), (k, ro)
    assert abs(ro["escalation_pct"] - 100 * 2 / 6) < 1e-9, ro
    assert res[(k, "c1")]["tier"] == "mid" and res[(k, "c1")]["escalated"] is True
    assert res[(k, "c3")]["tier"] == "local" and res[(k, "c3")]["escalated"] is False
    assert res[(k, "c5")]["tier"] == "remote" and "tier" not in res[(k, "c7")]
PY
grep -q "^auto routing: .*escalated 33.3% (2/6)" "$TMP/out" && grep -q "^front routing: " "$TMP/out" &&
  pass "table shows routing" || fail "table: $(grep routing "$TMP/out")"

# ---- calibration: the mid server is "local" (its token log-probabilities are the signals) ----
cp "$CFG" "$TMP/cal.yaml"
"$SLM" eval "$TMP/suite.yaml" --config "$TMP/cal.yaml" -t "small=http://127.0.0.1:$PORT_mid,model=mid-model" -t remote \
  --calibrate --target 98 --write "$TMP/cal.yaml" --json "$TMP/c.json" --html "$TMP/c.html" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] && grep -q "wrote confidence\." "$TMP/err" && pass "calibrate --write exits 0" ||
  fail "calibrate exit $rc: $(tail -3 "$TMP/err")"
grep -q "<- chosen" "$TMP/out" && grep -q "escalate all" "$TMP/out" && pass "curve table printed" ||
  fail "curve: $(tail -15 "$TMP/out")"
python3 - "$TMP/c.json" "$CFG" "$TMP/cal.yaml" <<'PY' && pass "chosen point: most local traffic within 98% of all-frontier; one line written" || fail "calibration"
import json, sys
r = json.load(open(sys.argv[1]))
c = r["calibration"]
curve, k = c["curve"], c["chosen"]
assert len(curve) >= 2 and curve[-1]["threshold"] is None and curve[-1]["local_share"] == 0
bar = 0.98 * c["frontier_success"] - 1e-12
ok = [p for p in curve if p["success"] >= bar]
assert curve[k]["success"] >= bar and curve[k]["local_share"] == max(p["local_share"] for p in ok), c
assert all("confidence" in x for x in r["results"] if x["target"] == "small")
old, new = open(sys.argv[2]).read().splitlines(), open(sys.argv[3]).read().splitlines()
added = [l for l in new if l not in old]
assert len(new) == len(old) + 1 and added == ["  %s: %s" % (c["key"], added[0].split(": ")[1])], added
assert float(added[0].split(": ")[1]) == c["value"]
assert "  check_labels: true   # labels come from the request's metadata" in new and new[0].startswith("# eval e2e")
PY
echo '{"model":"auto","messages":[{"role":"user","content":"Classify this ticket: hi"}]}' >"$TMP/req.json"
"$SLM" route --explain "$TMP/req.json" --config "$TMP/cal.yaml" >"$TMP/out" 2>"$TMP/err" &&
  pass "the written slm.yaml loads (slm route --config)" || fail "route --config: $(cat "$TMP/err")"
printf 'tiers:\n  - name: local\n    models: [{name: s, path: x.gguf}]\nconfidence: {check_labels: true}\n' >"$TMP/flow.yaml"
cp "$TMP/flow.yaml" "$TMP/flow.orig"
expect_fail "--write refuses a flow-style confidence section" 1 "not a block mapping" -- \
  "$SLM" eval "$TMP/suite.yaml" -t "small=http://127.0.0.1:$PORT_mid,model=mid-model" -t remote --config "$CFG" \
  --calibrate --write "$TMP/flow.yaml" -q
cmp -s "$TMP/flow.yaml" "$TMP/flow.orig" && pass "refused file unchanged" || fail "flow.yaml was changed"
expect_fail "--calibrate: the router is not a local model" 2 "not the router" -- \
  "$SLM" eval "$TMP/suite.yaml" -t auto -t remote --config "$CFG" --calibrate -q
# in process: the scheduler's log-probabilities are the signals too
"$SLM" eval "$TMP/suite.yaml" -t "small=$M" -t remote --config "$CFG" --calibrate --signal mean_logprob --threads 1 \
  --json "$TMP/c2.json" -q 2>"$TMP/err"
python3 - "$TMP/c2.json" <<'PY' && pass "calibrate an in-process model" || fail "in-process calibrate: $(cat "$TMP/err")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["calibration"]["signal"] == "mean_logprob" and r["calibration"]["n_cases"] == 7
assert all(x["confidence"]["mean_logprob"] < 0 for x in r["results"] if x["target"] == "small")
PY

# ---- judge ----
# The scripted judge answers the rubric's ANSWER line: j1/j2 agree with the
# human grade, j3/j4 disagree, j5 is not a grade: po 0.5, pe 0.5, kappa 0.
cat >"$TMP/judge.yaml" <<'EOF'
name: judge
cases:
  - {id: j1, prompt: "Summarise: the cat sat", output: "A cat sat.", human_grade: pass, expect: {rubric: 'ANSWER: {"pass": true, "score": 5, "reason": "faithful"}'}}
  - {id: j2, prompt: "Summarise: the dog ran", output: "A cat flew.", human_grade: {pass: false, score: 1}, expect: {rubric: 'ANSWER: {"pass": false, "score": 1, "reason": "invented"}'}}
  - {id: j3, prompt: "Summarise: rain fell", output: "Rain fell.", human_grade: 4, expect: {rubric: 'ANSWER: {"pass": false, "score": 2, "reason": "too short"}'}}
  - {id: j4, prompt: "Summarise: sun rose", output: "Sun rose.", human_grade: fail, expect: {rubric: 'ANSWER: {"pass": true, "score": 4}'}}
  - {id: j5, prompt: "Summarise: it snowed", output: "Snow.", human_grade: pass, expect: {rubric: 'ANSWER: not json'}}
EOF
"$SLM" eval judge-check "$TMP/judge.yaml" -j "http://127.0.0.1:$FAKE" --json "$TMP/j.json" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] && grep -q "do not trust" "$TMP/err" && pass "judge-check warns on kappa < 0.6" || fail "judge-check exit $rc: $(cat "$TMP/err")"
python3 - "$TMP/j.json" <<'PY' && pass "agreement, kappa, confusion, ungraded case" || fail "judge-check numbers"
import json, sys
r = json.load(open(sys.argv[1]))
assert (r["n_cases"], r["n_graded"], r["n_failed"]) == (5, 4, 1), r
assert r["pass"]["agreement"] == 0.5 and abs(r["pass"]["kappa"]) < 1e-12 and r["pass"]["confusion"] == [[1, 1], [1, 1]]
assert r["trusted"] is False
j5 = [c for c in r["cases"] if c["case"] == "j5"][0]
assert j5["judge"] is None and "rejected" in j5["reason"]
PY
"$SLM" eval judge-check "$TMP/judge.yaml" -j "http://127.0.0.1:$FAKE" --strict -q 2>/dev/null
[ $? -eq 3 ] && pass "judge-check --strict: exit 3" || fail "judge-check --strict exit"
head -4 "$TMP/judge.yaml" >"$TMP/judge2.yaml" # j1, j2: kappa 1
"$SLM" eval judge-check "$TMP/judge2.yaml" -j "http://127.0.0.1:$FAKE" --strict -q 2>"$TMP/err"
[ $? -eq 0 ] && ! grep -q "do not trust" "$TMP/err" && pass "agreeing judge is trusted (--strict exit 0)" ||
  fail "trusted judge: $(cat "$TMP/err")"
# rubric cases in a run: graded by a local judge decoding under the grade schema
printf '{"id":"r1","prompt":"ANSWER: a kind reply","expect":{"rubric":"be kind"}}\n' >"$TMP/rub.jsonl"
"$SLM" eval "$TMP/rub.jsonl" -t "far=http://127.0.0.1:$FAKE" -j "$M" --threads 1 --json "$TMP/g.json" -q 2>"$TMP/err"
python3 - "$TMP/g.json" <<'PY' && pass "local judge: schema-constrained grade" || fail "local judge: $(cat "$TMP/err")"
import json, sys
g = json.load(open(sys.argv[1]))["results"][0]["judge"]
assert isinstance(g["pass"], bool) and g["score"] in (1, 2, 3, 4, 5), g
PY
"$SLM" eval "$TMP/rub.jsonl" -t "far=http://127.0.0.1:$FAKE" --json "$TMP/g2.json" -q 2>/dev/null
python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results'][0]; assert not r['success'] and 'no judge' in r['why']" "$TMP/g2.json" &&
  pass "rubric without a judge fails with a reason" || fail "rubric without judge"

# ---- the HTML reports in headless Chromium (optional tooling) ----
if [ -d "$HERE/../eval/node_modules/playwright-core" ] && [ -x /usr/bin/chromium ] && command -v node >/dev/null; then
  EXPECT_CHARTS=chart-tiers node "$HERE/../eval/render_check.js" "$TMP/r.html" >/dev/null && pass "routing report renders in chromium" ||
    fail "chromium render (routing)"
  EXPECT_CHARTS=chart-calibration node "$HERE/../eval/render_check.js" "$TMP/c.html" >/dev/null &&
    pass "calibration report renders in chromium" || fail "chromium render (calibration)"
else
  echo "skip: chromium render check (needs tests/eval/node_modules, node and /usr/bin/chromium)"
fi
finish
