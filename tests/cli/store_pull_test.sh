# slm pull/list/rm against a fake registry on loopback (tests/store/fake_registry.py)
# speaking the Ollama registry and Hugging Face protocols: success paths, pins,
# resume after a cut and after a killed process, hash mismatch, 404/401,
# malformed manifests, traversal names and digests, unsafe redirects, disk space.
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
sha() { sha256sum "$1" | cut -d' ' -f1; }
F32=$(sha "$M/stories260K.gguf"); F16=$(sha "$M/stories260K-F16.gguf")
Q4=$(sha "$M/stories260K-mixQ5_0-from-Q4_K_M.gguf"); Q6=$(sha "$M/stories260K-mixQ8_0-from-Q6_K.gguf")
blob() { echo "$SLM_HOME/blobs/sha256-$1"; }
# expect_ok NAME -- command...: exit 0
expect_ok() {
  local name=$1; shift 2
  if "$@" >"$TMP/out" 2>"$TMP/err"; then pass "$name"; else fail "$name: exit $?: $(head -c 400 "$TMP/err")"; fi
}
check() { if eval "$2"; then pass "$1"; else fail "$1: ($2) is false"; fi; }
# A fresh store for tests whose blobs are already in the main one.
N=0
fresh() { N=$((N + 1)); export SLM_HOME="$TMP/fresh$N"; }
main_home() { export SLM_HOME="$TMP/home"; }
listed() { "$SLM" list --json | python3 -c "import json,sys; print(' '.join(e['name'] for e in json.load(sys.stdin)))"; }

# ---- Ollama registry: success paths ----
expect_ok "pull by name" -- "$SLM" pull stories
check "blob stored under its sha256" "cmp -s $(blob "$F32") '$M/stories260K.gguf'"
check "template/params/license layers stored" "[ \$(ls '$SLM_HOME/blobs' | wc -l) -eq 4 ]"
check "result line names digest" "grep -q 'stories:latest  sha256:$F32' '$TMP/out'"
expect_ok "pull by tag" -- "$SLM" pull stories:f16 --quiet
expect_ok "pull namespaced" -- "$SLM" pull someone/tiny:v1 --json
check "json progress events" "grep -q '\"phase\":\"download\"' '$TMP/out' && grep -q '\"phase\":\"result\"' '$TMP/out'"
"$SLM" list >"$TMP/list.txt"
check "list shows quantizations" "grep -q '^stories:latest .* F32' '$TMP/list.txt' && grep -q '^stories:f16 .* F16' '$TMP/list.txt'"
check "list --json names" "[ \"\$(listed)\" = 'someone/tiny:v1 stories:f16 stories:latest' ]"
want=$(awk '$0 == "== stories260K.gguf" {getline; print; exit}' "$M/stories260K.greedy-reference.txt")
got=$("$SLM" run stories "Once upon a time" -n 48 --temp 0 2>"$TMP/err")
check "run by store name gives llama.cpp's text" "[ \"\$got\" = \"\$want\" ]"
check "show by store name" "\"$SLM\" show stories:f16 --json | grep -q '\"F16\"'"
expect_fail "run unknown name" 1 "nosuchmodel" -- "$SLM" run nosuchmodel "hi"
expect_ok "pull again is a no-op" -- "$SLM" pull stories --quiet
check "no second download" "[ \$(grep 'cdn/blobs/$F32' '$LOG' | grep -vc 'range=bytes=0-[0-9]') -eq 1 ]"

# ---- pins ----
expect_fail "wrong pin refused" 1 "version pinning" -- "$SLM" pull "stories:q4@sha256:$F32"
check "wrong pin downloads nothing" "[ ! -e $(blob "$Q4") ]"
expect_ok "pull by digest pin" -- "$SLM" pull "stories:q4@sha256:$Q4"
check "pinned in list" "$SLM list | grep -q '^stories:q4 .*pinned'"
expect_ok "scan resolves a pinned store name" -- "$SLM" scan "stories:q4@sha256:$Q4"

# ---- Hugging Face ----
fresh
expect_ok "hf default quant" -- "$SLM" pull hf.co/tinystories/stories260K-GGUF
check "hf picked Q4_K_M, not IQ4_K_M" "grep -q 'sha256:$Q4' '$TMP/out'"
expect_ok "hf quant, case-insensitive" -- "$SLM" pull hf.co/tinystories/stories260K-GGUF:q6_k
check "hf q6_k file" "grep -q 'hf.co/tinystories/stories260K-GGUF:Q6_K  sha256:$Q6' '$TMP/out'"
expect_ok "hf by file name" -- "$SLM" pull hf.co/tinystories/stories260K-GGUF/stories260K-F16.gguf
expect_ok "hf by URL" -- "$SLM" pull https://huggingface.co/tinystories/stories260K-GGUF/resolve/main/stories260K-F32.gguf
check "resolve redirected to the CDN" "grep -q 'GET /tinystories/stories260K-GGUF/resolve/main/stories260K-F16.gguf' '$LOG'"
expect_fail "hf missing quant" 1 "no GGUF file for quantization Q2_K.*stories260K-F32.gguf" -- "$SLM" pull hf.co/tinystories/stories260K-GGUF:Q2_K
expect_fail "hf gated without token" 1 "HTTP 401.*access denied" -- "$SLM" pull hf.co/gated/stories
HF_TOKEN=test-token expect_ok "hf gated with HF_TOKEN" -- "$SLM" pull hf.co/gated/stories
check "token sent as Bearer" "grep -q 'tree/main range=- auth=Bearer test-token' '$LOG'"
expect_fail "hf repo 404" 1 "HTTP 404.*not found" -- "$SLM" pull hf.co/nobody/nothing
expect_fail "hf traversal file name" 1 "unsafe file name '../../escape" -- "$SLM" pull hf.co/evil/repo
expect_fail "hf absolute file name" 1 "unsafe file name '/tmp/abs" -- "$SLM" pull hf.co/evilabs/repo
expect_fail "hf without lfs sha256" 1 "no valid LFS sha256" -- "$SLM" pull hf.co/nolfs/repo
expect_fail "hf malformed listing" 1 "malformed repository listing" -- "$SLM" pull hf.co/malformed/repo
fresh
expect_fail "hf X-Linked-Etag mismatch" 1 "X-Linked-Etag" -- "$SLM" pull hf.co/etag/mismatch

# ---- failures: 404, malformed, traversal, hash, format ----
expect_fail "ollama 404" 1 "HTTP 404.*not found" -- "$SLM" pull nosuchmodel:1b
main_home
expect_fail "traversal digest" 1 "unsafe or invalid digest 'sha256:\\.\\./" -- "$SLM" pull evil
expect_fail "absolute digest" 1 "unsafe or invalid digest '/etc/passwd'" -- "$SLM" pull evilabs
check "nothing written outside the store" "[ -z \"\$(find '$TMP' -name 'pwned*')\" ]"
expect_fail "malformed manifest json" 1 "malformed JSON" -- "$SLM" pull badjson
expect_fail "manifest without layers" 1 "no layers" -- "$SLM" pull nolayers
expect_fail "manifest without model layer" 1 "0 model layers" -- "$SLM" pull nomodel
expect_fail "manifest with two model layers" 1 "2 model layers" -- "$SLM" pull twomodels
expect_fail "corrupted blob rejected" 1 "hash mismatch" -- "$SLM" pull corrupt
check "corrupted blob not stored" "! listed | grep -q corrupt"
check "corrupt partial removed" "[ -z \"\$(ls '$SLM_HOME/partial')\" ]"
expect_fail "pickle refused" 1 "not a GGUF file.*slm scan" -- "$SLM" pull pickle
check "pickle not stored" "! listed | grep -q pickle"
fresh
expect_fail "redirect to http refused" 1 "non-HTTPS" -- "$SLM" pull httpredir
expect_fail "redirect to loopback https refused" 1 "loopback/private" -- "$SLM" pull privredir
main_home
expect_fail "bad name" 1 "bad (model name|namespace)" -- "$SLM" pull "../../etc:passwd"
expect_fail "bad pin syntax" 1 "bad pin" -- "$SLM" pull "stories@sha256:xyz"
fresh
expect_fail "disk check before download" 1 "not enough disk space" -- "$SLM" pull stories:f16 --min-free 1000000000000000000
check "disk check left no partial" "[ -z \"\$(ls '$SLM_HOME/partial')\" ]"

# ---- resume ----
fresh
expect_ok "transfer cut once, resumed by retry" -- "$SLM" pull cut
check "resume used Range" "grep -q 'range=bytes=300000-' '$LOG'"
check "resumed blob correct" "[ \"\$(sha $(blob "$F32"))\" = $F32 ]"
SLM_HOME="$TMP/home2" timeout -s KILL 4 "$SLM" pull stall --quiet >/dev/null 2>&1
check "killed pull leaves only a partial file" "[ -f '$TMP/home2/partial/sha256-$F16.partial' ] && [ ! -e '$TMP/home2/blobs/sha256-$F16' ]"
check "killed pull not listed" "[ -z \"\$(SLM_HOME='$TMP/home2' listed)\" ]"
SLM_HOME="$TMP/home2" expect_ok "pull resumes after a kill" -- "$SLM" pull stall
check "resume after kill used Range" "grep -q 'range=bytes=200000-' '$LOG'"
check "resumed-after-kill blob correct" "[ \"\$(sha '$TMP/home2/blobs/sha256-$F16')\" = $F16 ]"
fresh
expect_fail "503 without retries" 1 "HTTP 503.*server error" -- "$SLM" pull flaky --retries 0
expect_ok "503 then retry succeeds" -- "$SLM" pull flaky

# ---- rm and garbage collection, verify ----
main_home
before=$(grep -c "cdn/blobs/$F16" "$LOG")
expect_ok "same blob under an HF name" -- "$SLM" pull hf.co/tinystories/stories260K-GGUF/stories260K-F16.gguf
check "blob in the store is not downloaded again" "[ \$(grep -c 'cdn/blobs/$F16' '$LOG') -eq $before ]"
expect_ok "rm one name" -- "$SLM" rm stories:f16
check "shared blob kept while referenced" "[ -f $(blob "$F16") ]"
expect_ok "rm the other names" -- "$SLM" rm hf.co/tinystories/stories260K-GGUF/stories260K-F16.gguf
check "unreferenced blob removed" "[ ! -e $(blob "$F16") ]"
expect_fail "rm unknown" 1 "not in the store" -- "$SLM" rm nothing:here
printf 'X' | dd of="$(blob "$Q4")" bs=1 seek=1000 conv=notrunc 2>/dev/null
expect_fail "list --verify finds corruption" 1 "no longer matches" -- "$SLM" list --verify
expect_fail "pinned name refuses a changed blob" 1 "version pinning" -- "$SLM" scan stories:q4
finish
