# slm serve driven by the official OpenAI and Ollama JavaScript clients
# (tests/e2e/*.test.mjs under node's test runner; structured output and
# tool calls validated with ajv). Skips when node or the
# clients (npm ci --prefix tests/e2e) are not installed.
. "$(dirname "$0")/lib.sh"
E2E="$(cd "$(dirname "$0")/../e2e" && pwd)"
. "$E2E/serve_helpers.sh"
need_shared
need_curl
command -v node >/dev/null || { echo "SKIP: node is not installed"; exit 0; }
if [ ! -d "$E2E/node_modules/openai" ] || [ ! -d "$E2E/node_modules/ollama" ]; then
  echo "SKIP: the e2e clients are not installed (npm ci --prefix tests/e2e)"; exit 0
fi
want=$(awk '$0 == "== stories260K.gguf" {getline; print; exit}' "$SHARED/models/stories260K.greedy-reference.txt")
export SLM_REFERENCE=${want#"<s> Once upon a time"}
export SLM_MODEL=stories260K
start_server --model "$SHARED/models/stories260K.gguf" --parallel 4 -t 1 -q || { fail "start"; finish; }
export SLM_URL=$URL SLM_SHARED=$SHARED
TESTS=("$E2E/openai.test.mjs" "$E2E/ollama.test.mjs")
if [ -d "$E2E/node_modules/ajv" ]; then TESTS+=("$E2E/structured.test.mjs")
else echo "note: ajv is not installed (npm ci --prefix tests/e2e): structured-output tests skipped"; fi
if [ -d "$E2E/node_modules/ajv-formats" ] && [ -d "$SHARED/jsonschema/maskbench-dev" ]; then TESTS+=("$E2E/maskbench.test.mjs")
else echo "note: ajv-formats (npm ci --prefix tests/e2e) or ../shared/jsonschema/maskbench-dev is missing: MaskBench e2e skipped"; fi
if node --test --test-concurrency=1 "${TESTS[@]}"; then
  pass "openai + ollama clients, structured output, MaskBench sample"
else
  fail "openai + ollama clients, structured output, MaskBench sample (server log: $SERVER_LOG)"
  tail -20 "$SERVER_LOG"
fi
stop_server
check "server exits 0 on SIGTERM" "$?" 0
finish
