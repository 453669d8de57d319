# slm scan on the real binary: verdicts and exit codes (0 SAFE, 3 UNSAFE,
# 4 UNSUPPORTED, 1 error, 2 usage), format from bytes not names, --json;
# pickles of every protocol, the broken-pickle trick, PyTorch zips (stored,
# deflated, ZIP64) and safetensors written by Python, never loaded.
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
expect_rc "pickle named .gguf" 3 "UNSAFE \(pickle\)" -- "$SLM" scan "$TMP/evil.gguf"
grep -q "dangerous import posix.system" "$TMP/out" && pass "pickle import listed" || fail "pickle import not listed"
printf 'PK\003\004\024\000\000\000archive/data.pkl' >"$TMP/pytorch_model.bin"
expect_rc "zip without a directory" 3 "UNSAFE \(zip\)" -- "$SLM" scan "$TMP/pytorch_model.bin"
printf '\002\000\000\000\000\000\000\000{}' >"$TMP/model.safetensors"
expect_rc "safetensors" 4 "UNSUPPORTED \(safetensors\)" -- "$SLM" scan "$TMP/model.safetensors"
printf '\377\377\377\377\377\377\377\177{}' >"$TMP/huge.safetensors"
expect_rc "safetensors huge header length" 4 "UNSUPPORTED \(unknown\)" -- "$SLM" scan "$TMP/huge.safetensors"

# Files written by Python's own pickle/zipfile (generated, never loaded).
if command -v python3 >/dev/null; then
  python3 - "$TMP" <<'PY'
import collections, json, os, pickle, struct, sys, zipfile
d = sys.argv[1]
class Evil:  # unpickling this would run a shell command
    def __reduce__(self): return (os.system, ("touch " + d + "/PWNED",))
evil = pickle.dumps(Evil(), protocol=4)
good = pickle.dumps(collections.OrderedDict(w=[1.5, 2, "x"], b=b"\0\1"), protocol=2)
for proto in range(6):
    open(f"{d}/evil{proto}.pkl", "wb").write(pickle.dumps(Evil(), protocol=proto))
open(f"{d}/good.pkl", "wb").write(good)
# nullifAI: the payload, then a broken stream instead of STOP
open(f"{d}/broken.pkl", "wb").write(evil[:-1] + b"\xff\xfe garbage")
open(f"{d}/truncated.pkl", "wb").write(evil[:-3])
for name, method in (("stored", zipfile.ZIP_STORED), ("deflated", zipfile.ZIP_DEFLATED)):
    with zipfile.ZipFile(f"{d}/{name}-evil.pt", "w", method) as z:
        z.writestr("archive/version", "3\n"); z.writestr("archive/data.pkl", evil)
        z.writestr("archive/data/0", b"\0" * 64)
    with zipfile.ZipFile(f"{d}/{name}-good.pth", "w", method) as z:
        z.writestr("archive/data.pkl", good); z.writestr("archive/version", "3\n")
with zipfile.ZipFile(f"{d}/zip64.ckpt", "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("archive/data.pkl", "w", force_zip64=True) as f: f.write(evil)
def st(name, header, data):
    h = json.dumps(header).encode()
    open(f"{d}/{name}.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + data)
t = lambda dt, shape, a, b: {"dtype": dt, "shape": shape, "data_offsets": [a, b]}
st("good", {"__metadata__": {"format": "pt"}, "w": t("F32", [2, 2], 0, 16), "b": t("BF16", [4], 16, 24)}, b"\0" * 24)
st("overlap", {"w": t("F32", [2, 2], 0, 16), "b": t("F32", [2], 8, 16)}, b"\0" * 16)
st("past-end", {"w": t("F32", [2, 2], 0, 16)}, b"\0" * 8)
st("bad-dtype", {"w": t("F33", [1], 0, 4)}, b"\0" * 4)
PY
  for p in 0 1 2 3 4 5; do
    expect_rc "malicious pickle protocol $p" 3 "UNSAFE \(pickle\)" -- "$SLM" scan "$TMP/evil$p.pkl"
    grep -q "dangerous import posix.system\|dangerous import os.system" "$TMP/out" || fail "protocol $p: import not named"
  done
  expect_rc "benign pickle" 4 "UNSUPPORTED \(pickle\)" -- "$SLM" scan "$TMP/good.pkl"
  expect_rc "broken pickle (nullifAI)" 3 "broken pickle stream" -- "$SLM" scan "$TMP/broken.pkl"
  grep -q "dangerous import" "$TMP/out" || fail "broken pickle: payload before the break not reported"
  expect_rc "truncated pickle" 3 "UNSAFE" -- "$SLM" scan "$TMP/truncated.pkl"
  for z in stored deflated; do
    expect_rc "$z pytorch zip, malicious" 3 "archive/data.pkl: dangerous import" -- "$SLM" scan "$TMP/$z-evil.pt"
    expect_rc "$z pytorch zip, benign" 4 "UNSUPPORTED \(pytorch-zip\)" -- "$SLM" scan "$TMP/$z-good.pth"
  done
  expect_rc "zip64 archive" 3 "dangerous import" -- "$SLM" scan "$TMP/zip64.ckpt"
  expect_rc "json imports" 3 '"imports": \[' -- "$SLM" scan "$TMP/evil4.pkl" --json
  expect_rc "safetensors valid" 4 "UNSUPPORTED \(safetensors\)" -- "$SLM" scan "$TMP/good.safetensors"
  expect_rc "safetensors overlap" 3 "overlaps" -- "$SLM" scan "$TMP/overlap.safetensors"
  expect_rc "safetensors past the end" 3 "outside the data" -- "$SLM" scan "$TMP/past-end.safetensors"
  expect_rc "safetensors bad dtype" 3 "unknown dtype" -- "$SLM" scan "$TMP/bad-dtype.safetensors"
  [ -e "$TMP/PWNED" ] && fail "a pickle was executed" || pass "nothing was executed"
  # the loader refuses them and points at slm scan
  expect_fail "run refuses a pickle" 1 "pickle.*slm scan" -- "$SLM" run "$TMP/evil4.pkl" hi
  expect_fail "run refuses a PyTorch zip" 1 "zip archive.*slm scan" -- "$SLM" run "$TMP/stored-good.pth" hi
  expect_fail "run refuses safetensors" 1 "safetensors.*slm scan" -- "$SLM" run "$TMP/good.safetensors" hi
else
  echo "note: python3 absent, Python-written pickles and archives not tested"
fi
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
