# slm run --json-schema / --grammar: every output is valid against the
# schema (checked by Python's json + a structural check, across seeds, on a
# base model that knows nothing of JSON), a GBNF choice gives exactly one
# label, and bad schemas/grammars fail closed with a clear error.
. "$(dirname "$0")/lib.sh"
need_shared
m="$SHARED/models/stories260K.gguf"
cat >"$TMP/person.json" <<'JSON'
{"type":"object","properties":{"name":{"type":"string","maxLength":20},
 "age":{"type":"integer","minimum":0,"maximum":120},
 "tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":3}},
 "required":["name","age","tags"],"additionalProperties":false}
JSON
for seed in 1 2 3 4 5 6; do
  "$SLM" run "$m" "Once upon a time" --no-echo --json-schema "$TMP/person.json" --temp 1 --seed $seed -n 300 \
    >"$TMP/out$seed" 2>"$TMP/err" || { fail "seed $seed: exit $?: $(cat "$TMP/err")"; continue; }
  python3 - "$TMP/out$seed" <<'PY' && pass "seed $seed: valid JSON for the schema" || fail "seed $seed: $(cat "$TMP/out$seed")"
import json, sys
d = json.loads(open(sys.argv[1]).read())
assert set(d) == {"name", "age", "tags"}, d
assert isinstance(d["name"], str) and len(d["name"]) <= 20, d
assert float(d["age"]).is_integer() and 0 <= d["age"] <= 120, d
assert isinstance(d["tags"], list) and len(d["tags"]) <= 3 and all(t in ("a", "b") for t in d["tags"]), d
PY
done
# A tight token budget: the output still closes (budget-aware completion)
# with the exact token count in --stats, instead of stopping mid-string.
for seed in 1 2 3 4; do
  "$SLM" run "$m" "Once upon a time" --no-echo --json-schema "$TMP/person.json" --temp 1.5 --seed $seed -n 40 \
    >"$TMP/tight$seed" 2>"$TMP/err" || { fail "tight seed $seed: exit $?: $(cat "$TMP/err")"; continue; }
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert set(d) == {"name","age","tags"}' "$TMP/tight$seed" \
    && pass "tight budget seed $seed: closes validly in 40 tokens" || fail "tight budget seed $seed: $(cat "$TMP/tight$seed")"
done
printf 'root ::= "yes" | "no" | "maybe"\n' >"$TMP/choice.gbnf"
for seed in 1 2 3; do
  out=$("$SLM" run "$m" "Is it" --no-echo --grammar "$TMP/choice.gbnf" --temp 1 --seed $seed 2>"$TMP/err")
  case "$out" in yes|no|maybe) pass "choice seed $seed: $out" ;; *) fail "choice seed $seed: '$out' $(cat "$TMP/err")" ;; esac
done
echo '{"type":"array","uniqueItems":true}' >"$TMP/unsupported.json"
expect_fail "unsupported keyword named" 1 "uniqueItems" -- "$SLM" run "$m" "x" --json-schema "$TMP/unsupported.json"
echo '{"type":' >"$TMP/broken.json"
expect_fail "malformed schema" 1 "broken.json" -- "$SLM" run "$m" "x" --json-schema "$TMP/broken.json"
printf 'root ::= foo\n' >"$TMP/bad.gbnf"
expect_fail "undefined rule" 1 "undefined rule 'foo'" -- "$SLM" run "$m" "x" --grammar "$TMP/bad.gbnf"
expect_fail "missing grammar file" 1 "cannot open" -- "$SLM" run "$m" "x" --grammar "$TMP/none.gbnf"
expect_fail "both flags" 1 "not both" -- "$SLM" run "$m" "x" --grammar "$TMP/choice.gbnf" --json-schema "$TMP/person.json"
finish
