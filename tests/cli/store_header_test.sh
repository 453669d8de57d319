# The remote GGUF header before a download, against the fake registry
# (tests/store/fake_registry.py): slm pull reads the first bytes with a
# bounded Range request and reports size, architecture, quantization and
# whether it fits before downloading; a header longer than the first read is
# fetched again larger; slm fit on a name not yet pulled plans from the
# remote header alone (nothing stored) and agrees with the plan of the file.
. "$(dirname "$0")/lib.sh"
need_shared
command -v python3 >/dev/null || { echo "SKIP: python3 is needed for the fake registry"; exit 0; }
M="$SHARED/models"
LOG="$TMP/requests.log"
python3 "$(dirname "$0")/../store/fake_registry.py" "$M" "$TMP/port" "$LOG" &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { echo "FAIL: fake registry did not start"; exit 1; }
URL="http://127.0.0.1:$(cat "$TMP/port")"
export SLM_HOME="$TMP/home" SLM_REGISTRY="$URL" HF_ENDPOINT="$URL" SLM_RETRY_DELAY_MS=50
unset HF_TOKEN
check() { if eval "$2"; then pass "$1"; else fail "$1: ($2) is false"; fi; }
size=$(stat -c %s "$M/stories260K.gguf")

# pull: the header line comes before the download, from a bounded Range read
SLM_HEADER_BYTES=4096 "$SLM" pull stories >"$TMP/out" 2>"$TMP/err" || fail "pull: $(head -c 300 "$TMP/err")"
check "header reported before the download" \
  "grep -n '^header stories:latest: llama, F32, 1.13 MiB, 0.29M parameters; at 2048 tokens.*: fits$' '$TMP/err' | grep -q '^2:'"
check "first header read is a bounded Range" "grep -q 'range=bytes=0-4095 ' '$LOG'"
check "a longer header is read again larger (x8)" "grep -q 'range=bytes=0-32767 ' '$LOG'"
F32=$(sha256sum "$M/stories260K.gguf" | cut -d' ' -f1)
check "the full file is still downloaded once" "[ \$(grep 'cdn/blobs/$F32' '$LOG' | grep -c 'range=- ') -eq 1 ]"
"$SLM" pull hf.co/tinystories/stories260K-GGUF:F16 --json >"$TMP/out" 2>"$TMP/err"
check "json header event" "grep -q '\"phase\":\"header\".*\"detail\":\"llama, F16' '$TMP/out'"
"$SLM" pull pickle >"$TMP/out" 2>"$TMP/err"
check "a pickle is refused by its header" "grep -q 'not a GGUF file' '$TMP/err' && ! ls '$SLM_HOME/partial' 2>/dev/null | grep -q ."

# fit on names that are not downloaded: planned from the remote header
export SLM_HOME="$TMP/empty"
"$SLM" fit stories:f16 --ctx 256 --available 8G --json >"$TMP/remote.json" 2>"$TMP/err" || fail "remote fit: $(cat "$TMP/err")"
"$SLM" fit "$M/stories260K-F16.gguf" --ctx 256 --available 8G --json >"$TMP/local.json" 2>"$TMP/err"
same=$(python3 - "$TMP/remote.json" "$TMP/local.json" <<'PY'
import json, sys
r, l = (json.load(open(f)) for f in sys.argv[1:3])
keys = ["weights", "kv_cache", "compute", "total", "params", "quant", "arch", "max_ctx"]
print("yes" if r["remote"] and all(r[k] == l[k] for k in keys) else "no: " + str([(k, r[k], l[k]) for k in keys]))
PY
)
check "remote plan equals the plan of the file ($same)" "[ '$same' = yes ]"
check "nothing stored by a remote fit" "[ -z \"\$(ls '$SLM_HOME/blobs' 2>/dev/null)\" ]"
SLM_HEADER_BYTES=4096 "$SLM" fit hf.co/tinystories/stories260K-GGUF:Q4_K_M --available 1M >"$TMP/out" 2>"$TMP/err"
rc=$?
check "remote fit that does not fit exits 3" "[ $rc -eq 3 ] && grep -q 'not downloaded' '$TMP/out' && grep -q '^verdict: does not fit' '$TMP/out'"
expect_fail "remote fit of an unknown name" 1 "not found|404|unknown" -- "$SLM" fit nosuch:model
finish
