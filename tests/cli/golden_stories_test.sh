# slm run on every stories260K file must print exactly llama.cpp's greedy
# output (../shared/models/stories260K.greedy-reference.txt), with 1 and 2
# threads.
. "$(dirname "$0")/lib.sh"
need_shared
ref="$SHARED/models/stories260K.greedy-reference.txt"
for f in stories260K stories260K-F16 stories260K-BF16 stories260K-mixQ5_0-from-Q4_K_M stories260K-mixQ8_0-from-Q6_K; do
  want=$(awk -v h="== $f.gguf" '$0 == h {getline; print; exit}' "$ref")
  [ -n "$want" ] || { fail "$f: no reference text"; continue; }
  for t in 1 2; do
    got=$("$SLM" run "$SHARED/models/$f.gguf" "Once upon a time" -n 48 --temp 0 -t $t 2>"$TMP/err")
    rc=$?
    if [ $rc -ne 0 ]; then fail "$f -t $t: exit $rc: $(cat "$TMP/err")"; continue; fi
    if [ "$got" == "$want" ]; then pass "$f -t $t"; else fail "$f -t $t:
   got: $got
  want: $want"; fi
  done
done
finish
