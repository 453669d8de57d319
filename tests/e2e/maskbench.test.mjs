// Structured output over real-world schemas: a fixed sample of 300
// MaskBench schemas (../shared/jsonschema/maskbench-dev, every k-th file
// in name order) sent to a real `slm serve` as OpenAI response_format
// json_schema, one request each, with stories260K (a base model that never
// writes JSON by itself). Every answer must be either
//  - 200 with content that parses and validates against the schema (ajv,
//    with ajv-formats, the draft the schema declares; for drafts 04-07,
//    siblings of $ref are ignored as those drafts say, which ajv 8 does not
//    do by itself). The schema compiler's formats are the validators' own
//    languages (an email domain with a dot, a URI with something after
//    "scheme:"), so no output may fail a format check, or
//  - 400 whose message names what the schema compiler does not support.
// max_tokens is small on purpose: budget-aware completion must close every
// output validly before the limit. A schema whose shortest valid output
// cannot fit in max_tokens ends by length (as documented); such a request
// is asked again with LONG_TOKENS, and that answer must be valid. The
// server must be healthy at the end.
// Counts are printed. Run by tests/cli/serve_e2e_test.sh (SLM_URL,
// SLM_MODEL, SLM_SHARED).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import Ajv2019 from 'ajv/dist/2019.js';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const URL = process.env.SLM_URL;
const MODEL = process.env.SLM_MODEL;
const DIR = join(process.env.SLM_SHARED || '../shared', 'jsonschema', 'maskbench-dev');
const N_SCHEMAS = 300;
const MAX_TOKENS = Number(process.env.SLM_MASKBENCH_MAX_TOKENS || 256);
const LONG_TOKENS = 1024;
const PARALLEL = 4; // the server runs --parallel 4

function sample() {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
  const out = [];
  for (let i = 0; i < N_SCHEMAS; i++) out.push(files[Math.floor((i * files.length) / N_SCHEMAS)]);
  return out;
}

// Draft-04 schemas name their id `id`, which ajv 8 refuses: drop string
// ids (not inside enum/const/default/examples values, which are data).
function dropDraft4Ids(v) {
  if (Array.isArray(v)) return v.map(dropDraft4Ids);
  if (!v || typeof v !== 'object') return v;
  const out = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'id' && typeof x === 'string') continue;
    out[k] = ['enum', 'const', 'default', 'examples'].includes(k) ? x : dropDraft4Ids(x);
  }
  return out;
}

// Drafts 04-07: "All other properties in a "$ref" object MUST be ignored"
// (draft-07 section 8.3); ajv 8 applies them anyway. For a schema that
// declares such a draft (as the schema compiler reads it: $schema names a
// draft-0x), keep only $ref and the definitions it may point into.
function refIgnoresSiblings(v) {
  if (Array.isArray(v)) return v.map(refIgnoresSiblings);
  if (!v || typeof v !== 'object') return v;
  const out = {};
  const onlyRef = typeof v.$ref === 'string';
  for (const [k, x] of Object.entries(v)) {
    if (onlyRef && !['$ref', 'definitions', '$defs'].includes(k)) continue;
    out[k] = ['enum', 'const', 'default', 'examples'].includes(k) ? x : refIgnoresSiblings(x);
  }
  return out;
}

// A validator for the draft the schema declares (draft-07 rules otherwise).
function validator(schema) {
  const d = typeof schema === 'object' && schema ? String(schema.$schema || '') : '';
  schema = dropDraft4Ids(schema);
  if (d.includes('draft-0')) schema = refIgnoresSiblings(schema);
  const A = d.includes('2020-12') ? Ajv2020 : d.includes('2019-09') ? Ajv2019 : Ajv;
  const ajv = new A({ strict: false, validateSchema: false, logger: false });
  addFormats(ajv);
  return ajv.compile(schema);
}

async function ask(schema, seed, maxTokens = MAX_TOKENS) {
  const body = {
    model: MODEL,
    messages: [{ role: 'user', content: 'Answer with JSON.' }],
    max_tokens: maxTokens,
    temperature: 1,
    seed,
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
  };
  const r = await fetch(`${URL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

test(`MaskBench sample: ${N_SCHEMAS} schemas, every output valid or a clear 400`, async () => {
  const names = sample();
  const counts = { valid: 0, unsupported: 0, length: 0, stop: 0, nearLimit: 0, retried: 0 };
  const failures = [];
  const reasons = new Map();
  let next = 0;
  async function worker() {
    while (next < names.length) {
      const i = next++;
      const name = names[i];
      const schema = JSON.parse(readFileSync(join(DIR, name), 'utf8')).schema;
      let { status, json } = await ask(schema, i + 1);
      if (status === 200 && json.choices[0].finish_reason === 'length' && !parsesAndValidates(schema, json)) {
        counts.retried++; // the shortest valid output does not fit: ask with more room
        ({ status, json } = await ask(schema, i + 1, LONG_TOKENS));
      }
      if (status === 400) {
        const msg = json?.error?.message || '';
        // "response_format.json_schema.schema: <what is not supported>"
        const why = msg.replace(/^response_format\.json_schema\.schema:\s*/, '');
        if (!why || why === msg) failures.push(`${name}: 400 without a reason: ${msg}`);
        const key = why.replace(/'[^']*'/g, (s) => (s.length > 24 ? "'...'" : s)).slice(0, 60);
        reasons.set(key, (reasons.get(key) || 0) + 1);
        counts.unsupported++;
        continue;
      }
      if (status !== 200) {
        failures.push(`${name}: HTTP ${status} ${JSON.stringify(json).slice(0, 200)}`);
        continue;
      }
      const choice = json.choices[0];
      counts[choice.finish_reason] = (counts[choice.finish_reason] || 0) + 1;
      // closed in the last tenth of the budget: budget-aware completion at work
      const used = json.usage?.completion_tokens;
      if (used >= MAX_TOKENS * 0.9 && used <= MAX_TOKENS) counts.nearLimit++;
      let value;
      try {
        value = JSON.parse(choice.message.content);
      } catch (e) {
        failures.push(`${name}: not JSON (finish ${choice.finish_reason}): ${choice.message.content.slice(0, 200)}`);
        continue;
      }
      let validate;
      try {
        validate = validator(schema);
      } catch (e) {
        failures.push(`${name}: ajv cannot compile the schema: ${e.message}`);
        continue;
      }
      if (validate(value)) counts.valid++;
      else failures.push(`${name}: invalid (${ajvText(validate.errors)}): ${choice.message.content.slice(0, 200)}`);
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const supported = names.length - counts.unsupported;
  console.log(
    `maskbench e2e: ${names.length} schemas, ${supported} compiled, ${counts.valid} valid outputs ` +
      `(finish stop ${counts.stop}, length ${counts.length}; ${counts.nearLimit} ended in the last 10% ` +
      `of max_tokens ${MAX_TOKENS}; ${counts.retried} too long for it, asked again with ${LONG_TOKENS}), ` +
      `${counts.unsupported} answered 400, ` +
      `${failures.length} failures`,
  );
  const top = [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
  for (const [k, v] of top) console.log(`  400 x${v}: ${k}`);
  for (const f of failures.slice(0, 20)) console.log(`  FAIL ${f}`);
  assert.equal(failures.length, 0, failures.slice(0, 5).join('\n'));
  assert.equal(counts.valid, supported);
  assert.ok(supported >= names.length / 2, `only ${supported} of ${names.length} schemas compiled`);
  // the tiny model rambles: many outputs must have been closed by the budget
  assert.ok(counts.nearLimit > 0);
  const health = await fetch(`${URL}/health`);
  assert.equal(health.status, 200);
});

function parsesAndValidates(schema, json) {
  try {
    return validator(schema)(JSON.parse(json.choices[0].message.content));
  } catch {
    return false;
  }
}

function ajvText(errors) {
  return (errors || []).slice(0, 2).map((e) => `${e.instancePath} ${e.message}`).join('; ');
}
