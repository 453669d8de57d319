# slm run with sampling: the same seed gives the same text, another seed
# (almost surely) different text; --no-echo drops the prompt; the
# interactive mode answers each line.
. "$(dirname "$0")/lib.sh"
need_shared
m="$SHARED/models/stories260K.gguf"
a=$("$SLM" run "$m" "Once upon a time" -n 40 --temp 1.0 --seed 7 2>/dev/null)
b=$("$SLM" run "$m" "Once upon a time" -n 40 --temp 1.0 --seed 7 -t 1 2>/dev/null)
c=$("$SLM" run "$m" "Once upon a time" -n 40 --temp 1.0 --seed 8 2>/dev/null)
[ -n "$a" ] && [ "$a" == "$b" ] && pass "same seed, same text" || fail "same seed differs: '$a' vs '$b'"
[ "$a" != "$c" ] && pass "other seed, other text" || fail "seeds 7 and 8 gave the same text"
d=$("$SLM" run "$m" "Once upon a time" -n 10 --temp 0 --no-echo 2>/dev/null)
case "$d" in
  ", there was a little girl named Lily"*) pass "--no-echo" ;;
  *) fail "--no-echo printed '$d'" ;;
esac
out=$(printf 'Once upon a time\nThe cat\n' | "$SLM" run "$m" -n 8 --temp 0 2>/dev/null)
lines=$(printf '%s\n' "$out" | grep -c .)
[ "$lines" -eq 2 ] && pass "interactive: two answers" || fail "interactive gave $lines lines: '$out'"
finish
