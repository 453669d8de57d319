# slm run with a model that has a chat template (stories260K plus a
# template added by tests/cli/tools/gguf_set_str.py): the prompt goes
# through the template, the interactive session keeps the conversation,
# --raw skips the template, slm show reports it, and a broken template is
# a clear error.
. "$(dirname "$0")/lib.sh"
need_shared
m="$SHARED/models/stories260K.gguf"
add_key() { python3 "$(dirname "$0")/tools/gguf_set_str.py" "$m" "$1" tokenizer.chat_template "$2"; }
# The template ignores the user's words except for the turn count, so the
# expected text is the model's greedy continuation of a known prompt.
add_key "$TMP/chat.gguf" "{{ bos_token }}{% if messages|length > 1 %}The cat{% else %}Once upon a time{% endif %}"

"$SLM" show "$TMP/chat.gguf" >"$TMP/show" 2>&1 && grep -q "chat template    the model's own" "$TMP/show" \
  && pass "show: the model's own template" || fail "show: $(cat "$TMP/show")"

want1=$("$SLM" run "$m" "Once upon a time" --no-echo -n 8 --temp 0 2>/dev/null)
got1=$("$SLM" run "$TMP/chat.gguf" "anything at all" -n 8 --temp 0 2>/dev/null)
[ -n "$want1" ] && [ "$got1" == "$want1" ] && pass "one-shot prompt rendered by the template" \
  || fail "one-shot: got '$got1' want '$want1'"

raw=$("$SLM" run "$TMP/chat.gguf" "The cat" -n 8 --temp 0 --raw --no-echo 2>/dev/null)
[ "$raw" != "$got1" ] && [ "$raw" == "$("$SLM" run "$m" "The cat" -n 8 --temp 0 --no-echo 2>/dev/null)" ] \
  && pass "--raw skips the template" || fail "--raw gave '$raw'"

want2=$("$SLM" run "$m" "The cat" --no-echo -n 8 --temp 0 2>/dev/null)
printf 'hello\nand then?\n' | "$SLM" run "$TMP/chat.gguf" -n 8 --temp 0 >"$TMP/chat.out" 2>"$TMP/chat.err"
mapfile -t lines < <(grep . "$TMP/chat.out")
[ "${lines[0]}" == "$want1" ] && [ "${lines[1]}" == "$want2" ] \
  && pass "interactive: the second turn sees the conversation" \
  || fail "interactive: got '${lines[*]}', want '$want1' then '$want2'"
grep -q "chat session" "$TMP/chat.err" && pass "interactive says it is a chat session" || fail "no chat-session notice"

add_key "$TMP/broken.gguf" "{% for m in messages %}{{ m.content "
expect_fail "broken template" 1 "chat template" -- "$SLM" run "$TMP/broken.gguf" "hi" -n 4
finish
