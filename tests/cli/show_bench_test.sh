# slm show (text and --json) and slm bench --json on a real model.
. "$(dirname "$0")/lib.sh"
need_shared
m="$SHARED/models/stories260K.gguf"

if "$SLM" show "$m" >"$TMP/show.txt" 2>"$TMP/err" && grep -q "architecture     llama" "$TMP/show.txt" &&
   grep -q "chat template" "$TMP/show.txt"; then pass "show text"; else fail "show text: $(cat "$TMP/show.txt" "$TMP/err")"; fi

"$SLM" show "$m" --json --ctx 128 >"$TMP/show.json" 2>"$TMP/err" || fail "show --json exit: $(cat "$TMP/err")"
python3 - "$TMP/show.json" <<'PY' && pass "show --json" || fail "show --json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["architecture"] == "llama", d
assert d["layers"] == 5 and d["embedding_length"] == 64 and d["heads"] == 8 and d["kv_heads"] == 4, d
assert d["vocab_size"] == 512 and d["tokenizer"]["model"] == "llama" and d["tokenizer"]["vocab_size"] == 512, d
assert 200_000 < d["parameters"] < 400_000, d["parameters"]
assert d["quantization"]["F32"]["tensors"] > 0, d
assert d["memory"]["context"] == 128 and d["memory"]["total_bytes"] > d["memory"]["weights_bytes"] > 0, d
PY

"$SLM" show "$SHARED/models/stories260K-mixQ8_0-from-Q6_K.gguf" --json >"$TMP/q.json" 2>"$TMP/err"
python3 - "$TMP/q.json" <<'PY' && pass "show quant mix" || fail "show quant mix"
import json, sys
d = json.load(open(sys.argv[1]))
assert "Q8_0" in d["quantization"] and "F32" in d["quantization"], d["quantization"]
PY

"$SLM" bench "$m" -p 32 -n 8 -r 2 -t 1,2 --json >"$TMP/bench.json" 2>"$TMP/err" || fail "bench exit: $(cat "$TMP/err")"
python3 - "$TMP/bench.json" <<'PY' && pass "bench --json" || fail "bench --json content"
import json, sys
rows = json.load(open(sys.argv[1]))
assert [r["threads"] for r in rows] == [1, 2], rows
for r in rows:
    assert r["pp_tokens_per_s"] > 0 and r["tg_tokens_per_s"] > 0 and r["ttft_s"] > 0 and r["peak_rss_mib"] > 0, r
    assert r["n_prompt"] == 32 and r["n_gen"] == 8, r
PY
finish
