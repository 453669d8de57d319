# slm pull's parallel chunk download against the fake registry
# (tests/store/fake_registry.py), with chunks made small by the environment:
# concurrent Range requests, the bytes summed in progress, resume of only
# the missing chunk tails after a killed pull, a dropped connection mid-chunk,
# a corrupted file rejected after the chunks, and a server without Range.
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
# Files of 100 kB or more go in chunks of 128 KiB; the header read is a
# different range (0-99999) than the first chunk (0-131071).
export SLM_REGISTRY="$URL" SLM_RETRY_DELAY_MS=50 SLM_PULL_PARALLEL_MIN=100000 SLM_PULL_CHUNK_BYTES=131072
export SLM_HEADER_BYTES=100000
unset HF_TOKEN
sha() { sha256sum "$1" | cut -d' ' -f1; }
F32=$(sha "$M/stories260K.gguf"); F16=$(sha "$M/stories260K-F16.gguf")
Q4=$(sha "$M/stories260K-mixQ5_0-from-Q4_K_M.gguf"); Q6=$(sha "$M/stories260K-mixQ8_0-from-Q6_K.gguf")
expect_ok() {
  local name=$1; shift 2
  if "$@" >"$TMP/out" 2>"$TMP/err"; then pass "$name"; else fail "$name: exit $?: $(head -c 400 "$TMP/err")"; fi
}
check() { if eval "$2"; then pass "$1"; else fail "$1: ($2) is false"; fi; }
home() { export SLM_HOME="$TMP/$1"; }
# chunk_reqs HEX: the ranged CDN requests for a blob, one "START-END" a line
chunk_reqs() { grep "GET /cdn/blobs/$1" "$LOG" | sed -n 's/.*range=bytes=\([0-9]*-[0-9]*\) .*/\1/p'; }
max_active() { curl -s "$URL/stats" 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['max_active'])"; }

# ---- parallel download: 10 chunks of the F32 file over 4 connections ----
home par
expect_ok "parallel pull" -- "$SLM" pull par --json --connections 4
check "blob correct" "cmp -s '$SLM_HOME/blobs/sha256-$F32' '$M/stories260K.gguf'"
n=$(chunk_reqs "$F32" | grep -vc '^0-99999$')
check "one ranged request per chunk (10), got $n" "[ $n -eq 10 ]"
check "last chunk range ends at the file's last byte" "chunk_reqs $F32 | grep -qx '1179648-1185375'"
if command -v curl >/dev/null; then
  a=$(max_active)
  check "chunks were fetched concurrently (max $a at once)" "[ '$a' -ge 2 ]"
fi
python3 - "$TMP/out" 1185376 >"$TMP/prog" <<'EOF'
import json, sys
done = [e["done"] for e in map(json.loads, open(sys.argv[1])) if e.get("phase") == "download" and e["total"] == int(sys.argv[2])]
ok = done and all(a <= b for a, b in zip(done, done[1:])) and done[-1] == int(sys.argv[2]) and max(done) <= int(sys.argv[2])
print("ok" if ok else "bad %s" % done)
EOF
check "progress sums the chunks, rises to the total: $(cat "$TMP/prog")" "[ \"\$(cat '$TMP/prog')\" = ok ]"
check "no chunk state left" "[ -z \"\$(ls '$SLM_HOME/partial')\" ]"
got=$("$SLM" run par "Once upon a time" -n 16 --temp 0 2>/dev/null)
want=$("$SLM" run "$M/stories260K.gguf" "Once upon a time" -n 16 --temp 0 2>/dev/null)
check "the pulled model runs like the original" "[ -n \"\$got\" ] && [ \"\$got\" = \"\$want\" ]"

# ---- --connections 1 keeps one stream ----
home one
expect_ok "pull --connections 1" -- "$SLM" pull stories:f16 --quiet --connections 1
check "one plain request for the blob" "[ \$(chunk_reqs $F16 | grep -vc '^0-99999$') -eq 0 ] && [ -f '$SLM_HOME/blobs/sha256-$F16' ]"

# ---- killed mid-download, then resumed: only the missing tails ----
home stall
timeout -s KILL 4 "$SLM" pull parstall --quiet >/dev/null 2>&1
check "killed pull leaves a partial file and a chunk state" "[ -f '$SLM_HOME/partial/sha256-$F16.partial' ] && [ -f '$SLM_HOME/partial/sha256-$F16.chunks' ]"
check "killed pull stored nothing" "[ ! -e '$SLM_HOME/blobs/sha256-$F16' ] && [ -z \"\$(\"$SLM\" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin) or \"\")')\" ]"
before=$(wc -l <"$LOG")
expect_ok "pull resumes after the kill" -- "$SLM" pull parstall --quiet
check "resumed blob correct" "[ \"\$(sha '$SLM_HOME/blobs/sha256-$F16')\" = $F16 ]"
tail -n +"$((before + 1))" "$LOG" | grep "GET /cdn/blobs/$F16" | grep -v 'range=bytes=0-99999 ' |
  sed -n 's/.*range=bytes=\([0-9]*\)-.*/\1/p' >"$TMP/resumed"
check "finished chunk 0 was not fetched again" "! grep -qx 0 '$TMP/resumed'"
check "a stalled chunk resumed past its start ($(tr '\n' ' ' <"$TMP/resumed"))" "awk '\$1 % 65536 != 0 {f=1} END {exit !f}' '$TMP/resumed'"
check "chunk state removed after success" "[ -z \"\$(ls '$SLM_HOME/partial')\" ]"

# ---- a partial file from a one-stream pull is continued in chunks ----
home serial
SLM_PULL_PARALLEL_MIN=1000000000 timeout -s KILL 3 "$SLM" pull stall --quiet >/dev/null 2>&1
check "one-stream pull killed after 200000 bytes" "[ \$(stat -c %s '$SLM_HOME/partial/sha256-$F16.partial') -eq 200000 ]"
before=$(wc -l <"$LOG")
expect_ok "continued as a chunked pull" -- "$SLM" pull stall --quiet
tail -n +"$((before + 1))" "$LOG" | grep "GET /cdn/blobs/$F16" | grep -v 'range=bytes=0-99999 ' |
  sed -n 's/.*range=bytes=\([0-9]*-[0-9]*\) .*/\1/p' | sort -n >"$TMP/cont"
check "only the missing ranges were asked for ($(tr '\n' ' ' <"$TMP/cont"))" "[ \"\$(tr '\n' ' ' <'$TMP/cont')\" = '200000-262143 262144-393215 393216-524287 524288-601247 ' ]"
check "continued blob correct" "[ \"\$(sha '$SLM_HOME/blobs/sha256-$F16')\" = $F16 ]"

# ---- a connection dropped mid-chunk is retried from where it stopped ----
home drop
expect_ok "dropped chunk retried" -- "$SLM" pull pardrop --quiet
check "dropped chunk resumed at +30000" "chunk_reqs $Q4 | grep -q '^161072-262143$'"
check "dropped-chunk blob correct" "[ \"\$(sha '$SLM_HOME/blobs/sha256-$Q4')\" = $Q4 ]"

# ---- corrupted data: every chunk arrives, the whole-file hash rejects it ----
home corrupt
expect_fail "corrupt chunked blob rejected" 1 "hash mismatch" -- "$SLM" pull corrupt
check "corrupt blob not stored, partial and state removed" "[ -z \"\$(ls '$SLM_HOME/blobs')\" ] && [ -z \"\$(ls '$SLM_HOME/partial')\" ]"

# ---- a server that ignores Range: one plain download instead ----
home norange
expect_ok "server without Range support" -- "$SLM" pull norange --quiet
check "no-range blob correct" "[ \"\$(sha '$SLM_HOME/blobs/sha256-$Q6')\" = $Q6 ]"
finish
