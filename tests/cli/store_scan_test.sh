# slm scan on the real binary: verdicts and exit codes (0 SAFE, 3 UNSAFE,
# 4 UNSUPPORTED, 1 error, 2 usage), format from bytes not names, --json.
. "$(dirname "$0")/lib.sh"
need_shared
m="$SHARED/models/stories260K.gguf"
expect_rc() { # NAME RC PATTERN -- command...: exit status RC and PATTERN on stdout
  local name=$1 want=$2 pattern=$3; shift 4
  "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
  if [ "$rc" -ne "$want" ]; then fail "$name: exit $rc, expected $want: $(head -c 300 "$TMP/err")"; return; fi
  if ! grep -qE "$pattern" "$TMP/out"; then fail "$name: stdout lacks /$pattern/: $(head -c 300 "$TMP/out")"; return; fi
  pass "$name"
}
for f in "$SHARED"/models/*.gguf; do
  expect_rc "safe: $(basename "$f")" 0 "SAFE \(gguf\)" -- "$SLM" scan "$f"
done
printf '\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.' >"$TMP/evil.gguf"
expect_rc "pickle named .gguf" 4 "never unpickles" -- "$SLM" scan "$TMP/evil.gguf"
printf 'PK\003\004\024\000\000\000archive/data.pkl' >"$TMP/pytorch_model.bin"
expect_rc "pytorch zip" 4 "UNSUPPORTED \(pytorch-zip\)" -- "$SLM" scan "$TMP/pytorch_model.bin"
printf '\017\000\000\000\000\000\000\000{"__metadata__"}' >"$TMP/model.safetensors"
expect_rc "safetensors" 4 "UNSUPPORTED \(safetensors\)" -- "$SLM" scan "$TMP/model.safetensors"
head -c 300000 "$m" >"$TMP/trunc.gguf"
expect_rc "truncated gguf" 3 "UNSAFE \(gguf\)" -- "$SLM" scan "$TMP/trunc.gguf"
expect_rc "json output" 0 '"verdict": "SAFE"' -- "$SLM" scan "$m" --json
expect_rc "json unsafe" 3 '"verdict": "UNSAFE"' -- "$SLM" scan "$TMP/trunc.gguf" --json
expect_fail "missing file" 1 "no-such" -- "$SLM" scan "$TMP/no-such.gguf"
expect_fail "directory" 1 "not a regular file" -- "$SLM" scan "$TMP"
expect_fail "no argument" 2 "usage" -- "$SLM" scan
expect_fail "unknown option" 2 "unknown option" -- "$SLM" scan "$m" --frob
SLM_HOME="$TMP/home" expect_fail "unknown store name" 1 "not in the store" -- "$SLM" scan nosuch:model
finish
