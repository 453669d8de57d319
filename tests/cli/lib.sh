# Helpers for the CLI tests (sourced). $1 of the test: slm binary, $2: shared dir.
SLM=${SLM:-$1}
SHARED=${SHARED:-$2}
TMP=$(mktemp -d "${SLM_TEST_TMP:-/tmp}/slm-cli.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }
need_shared() {
  if [ ! -d "$SHARED/models" ]; then echo "SKIP: $SHARED/models is absent"; exit 0; fi
}
# expect_fail NAME EXPECTED_RC PATTERN -- command...: non-zero exit, message on stderr
expect_fail() {
  local name=$1 want_rc=$2 pattern=$3; shift 4
  "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
  if [ "$rc" -eq 0 ]; then fail "$name: exit 0, expected failure"; return; fi
  if [ "$want_rc" != any ] && [ "$rc" -ne "$want_rc" ]; then fail "$name: exit $rc, expected $want_rc"; return; fi
  if [ "$rc" -ge 128 ]; then fail "$name: crashed with signal $((rc - 128))"; return; fi
  if ! grep -qE "$pattern" "$TMP/err"; then fail "$name: stderr lacks /$pattern/: $(head -c 300 "$TMP/err")"; return; fi
  pass "$name"
}
finish() { if [ "$FAILS" -gt 0 ]; then echo "$FAILS failure(s)"; exit 1; fi; echo "all passed"; }
