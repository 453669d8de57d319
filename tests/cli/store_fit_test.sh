# slm fit: the plan's fields, verdicts against --available, the largest
# context, --parallel, other quantizations, the --params rule of thumb, and
# the plan against the real peak RSS of slm run.
#
# How RSS is compared: a tiny model's peak RSS is dominated by the binary,
# libc/libcurl/... and thread stacks (about 12 MB against 1 MB of weights),
# which fit only estimates. So the test compares differences between runs of
# the same binary, where that baseline cancels: peak RSS of slm run with the
# F32 model at a 4096-token context minus that of the F16 model at 1024
# tokens measures weights + KV cache + attention scratch (the prompt fills
# each context, so every KV page is written), and fit's totals for the two
# must differ by the same amount within 10%. The same with one model (KV
# alone). Each run is repeated and the larger peak kept. Sanitizer builds
# skip the RSS part (shadow memory inflates RSS by about 1/8).
. "$(dirname "$0")/lib.sh"
need_shared
M="$SHARED/models"
F32="$M/stories260K.gguf"
F16="$M/stories260K-F16.gguf"
check() { if eval "$2"; then pass "$1"; else fail "$1: ($2) is false"; fi; }
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# ---- the plan -------------------------------------------------------------
"$SLM" fit "$F32" --ctx 512 --available 8G --json >"$TMP/p.json" || fail "fit --json"
check "weights are the tensor bytes" "[ \$(jget '$TMP/p.json' 'd[\"weights\"]') -eq 1171200 ]"
check "by type" "[ \"\$(jget '$TMP/p.json' 'd[\"weights_by_type\"]')\" = \"{'F32': 1171200}\" ]"
# KV: 2 (K,V) x 5 layers x 512 tokens x 4 kv heads x 8 dims x 2 bytes (F16)
check "KV cache exact" "[ \$(jget '$TMP/p.json' 'd[\"kv_cache\"]') -eq $((2 * 5 * 512 * 32 * 2)) ]"
"$SLM" fit "$F32" --ctx 512 --parallel 4 --available 8G --json >"$TMP/p4.json"
check "--parallel multiplies the KV cache" "[ \$(jget '$TMP/p4.json' 'd[\"kv_cache\"]') -eq $((4 * 2 * 5 * 512 * 32 * 2)) ]"
check "verdict fits" "[ \"\$(jget '$TMP/p.json' 'd[\"verdict\"]')\" = fits ]"
check "seven other quantizations" "[ \$(jget '$TMP/p.json' 'len(d[\"quantizations\"])') -eq 7 ]"
total=$(jget "$TMP/p.json" 'd["total"]')
"$SLM" fit "$F32" --ctx 512 --available $((total + total / 20)) >"$TMP/out"
check "tight with 5% to spare" "grep -q '^verdict: tight' '$TMP/out'"
expect_fail_rc() { "$@" >"$TMP/out" 2>"$TMP/err"; echo $?; }
rc=$(expect_fail_rc "$SLM" fit "$F32" --ctx 512 --available 10M)
check "does not fit: exit 3" "[ $rc -eq 3 ] && grep -q '^verdict: does not fit' '$TMP/out' && grep -q 'no context fits' '$TMP/out'"
"$SLM" fit "$F32" --available $((total + 640 * 1000)) --ctx 512 --json >"$TMP/m.json"
max=$(jget "$TMP/m.json" 'd["max_ctx"]')
check "largest context uses the spare memory ($max)" "[ $max -gt 1400 ] && [ $max -lt 1600 ]"
"$SLM" fit --params 8B --quant Q4_K_M --available 16G >"$TMP/out" || fail "rule of thumb"
check "rule of thumb labelled an estimate" "grep -q 'estimate (rule of thumb' '$TMP/out' && grep -q ': 5.9 - 10.4 GB' '$TMP/out'"
expect_fail "unknown quantization" 2 "unknown quantization" -- "$SLM" fit --params 8B --quant Q9_X
expect_fail "bad params" 2 "bad value for --params" -- "$SLM" fit --params lots
expect_fail "model and params" 2 "not both" -- "$SLM" fit "$F32" --params 8B
expect_fail "not a model" 1 "bad magic" -- "$SLM" fit "$M/stories260K.greedy-reference.txt"

# ---- against the peak RSS of slm run ------------------------------------------
if ldd "$SLM" 2>/dev/null | grep -q 'libasan\|libubsan'; then
  echo "note: sanitizer build: RSS comparison skipped"; finish; exit
fi
[ -x /usr/bin/time ] || { echo "note: /usr/bin/time absent: RSS comparison skipped"; finish; exit; }
peak() { # MODEL CTX: the larger peak RSS (bytes) of two runs with the context filled
  local best=0 reps=$((($2 - 20) / 12)) p kb
  p=$(python3 -c "print('Once upon a time there was a little girl. ' * $reps)")
  for _ in 1 2; do
    kb=$(/usr/bin/time -f '%M' "$SLM" run "$1" "$p" -c "$2" -n 1 --temp 0 --raw -t 1 2>&1 >/dev/null | tail -1)
    [ "$kb" -gt "$best" ] && best=$kb
  done
  echo $((best * 1024))
}
plan() { "$SLM" fit "$1" --ctx "$2" -t 1 --json | python3 -c "import json,sys; print(json.load(sys.stdin)['total'])"; }
within10() { python3 -c "import sys; m, f = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if abs(m - f) <= 0.1 * m else 1)" "$1" "$2"; }
# A large context makes the planned part (MBs) dominate the page-level noise
# of file-backed mappings (fault-around), which is a few hundred KB.
BIG=12288
big=$(peak "$F32" $BIG); small=$(peak "$F16" 1024); small32=$(peak "$F32" 1024)
d_fit=$(( $(plan "$F32" $BIG) - $(plan "$F16" 1024) ))
d_rss=$((big - small))
check "weights+KV+scratch: fit $d_fit vs RSS $d_rss bytes (within 10%)" "within10 $d_rss $d_fit"
d_fit=$(( $(plan "$F32" $BIG) - $(plan "$F32" 1024) ))
d_rss=$((big - small32))
check "KV+scratch alone: fit $d_fit vs RSS $d_rss bytes (within 10%)" "within10 $d_rss $d_fit"
finish
