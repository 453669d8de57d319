# slm ps against a real slm serve started here on a free loopback port:
# nothing loaded at first, the model listed with size, quantization and an
# expiry after a request, --json, the API key, and a clear error when no
# server answers.
. "$(dirname "$0")/lib.sh"
need_shared
command -v curl >/dev/null || { echo "SKIP: curl is needed to send a request"; exit 0; }
M="$SHARED/models/stories260K.gguf"
"$SLM" serve --model "stories=$M" --port 0 --keep-alive 600 --api-key sekrit -t 1 -q >"$TMP/serve.out" 2>"$TMP/serve.err" &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$TMP/serve.out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$TMP/serve.out")
[ -n "$URL" ] || { echo "FAIL: slm serve did not start: $(cat "$TMP/serve.err")"; exit 1; }
export SLM_API_KEY=sekrit
check() { if eval "$2"; then pass "$1"; else fail "$1: ($2) is false"; fi; }

"$SLM" ps --host "$URL" >"$TMP/out" 2>"$TMP/err" || fail "ps: $(cat "$TMP/err")"
check "nothing loaded before the first request" "grep -q '^no models loaded' '$TMP/out'"
curl -s -H "Authorization: Bearer sekrit" "$URL/api/generate" \
  -d '{"model":"stories","prompt":"Once upon a time","stream":false,"options":{"num_predict":4}}' >"$TMP/gen" ||
  fail "generate request failed"
"$SLM" ps --host "$URL" >"$TMP/out" 2>"$TMP/err" || fail "ps: $(cat "$TMP/err")"
check "loaded model listed with size, quantization, expiry" \
  "grep -Eq '^stories +1\.13 MiB +[^ ]+ +292.8K +[0-9]+ (minutes|seconds) from now' '$TMP/out'"
"$SLM" ps --host "${URL#http://}/" --json >"$TMP/out" 2>"$TMP/err" || fail "ps --json: $(cat "$TMP/err")"
check "--json (host without scheme, trailing slash)" \
  "python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m[0][\"name\"]==\"stories\" and m[0][\"expires_at\"]' '$TMP/out'"
SLM_API_KEY= expect_fail "wrong key" 1 "HTTP 401" -- "$SLM" ps --host "$URL" --api-key wrong
expect_fail "no server" 1 "cannot reach.*slm serve running" -- "$SLM" ps --host http://127.0.0.1:9
expect_fail "unknown option" 2 "unknown option" -- "$SLM" ps --frob
finish
