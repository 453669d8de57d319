// Structured output and tool calls through the official `openai` and
// `ollama` npm clients, checked with `ajv`: response_format json_schema
// over many seeds always parses and validates against the schema; tools
// with tool_choice required / named give tool_calls whose arguments
// validate against the function's parameters; a streamed call's deltas
// reassemble to the same call as the whole answer; Ollama's format schema
// and tools. The model (stories260K) is a base model: it never writes JSON
// by itself, so every valid output is the grammar's doing.
// Run by tests/cli/serve_e2e_test.sh with SLM_URL and SLM_MODEL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import Ajv from 'ajv';

const URL = process.env.SLM_URL;
const MODEL = process.env.SLM_MODEL;
const client = new OpenAI({ baseURL: `${URL}/v1`, apiKey: 'unused', maxRetries: 0 });
const ollama = new Ollama({ host: URL });
const ajv = new Ajv({ strict: false });
const messages = [{ role: 'user', content: 'Describe a pet.' }];

const PET = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    kind: { enum: ['cat', 'dog', 'bird'] },
    friendly: { type: 'boolean' },
    toys: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 2 },
    owner: { type: ['object', 'null'], properties: { city: { type: 'string', maxLength: 8 } }, required: ['city'] },
  },
  required: ['name', 'kind', 'friendly', 'toys', 'owner'],
  additionalProperties: false,
};

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 12 }, unit: { enum: ['celsius', 'fahrenheit'] } },
        required: ['city', 'unit'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'set_alarm',
      parameters: {
        type: 'object',
        properties: { label: { type: 'string', maxLength: 10 }, repeat: { type: 'boolean' } },
        required: ['label', 'repeat'],
        additionalProperties: false,
      },
    },
  },
];
const validators = Object.fromEntries(TOOLS.map((t) => [t.function.name, ajv.compile(t.function.parameters)]));

function checkCall(call, names) {
  assert.equal(call.type, 'function');
  assert.match(call.id, /^call_/);
  assert.ok(names.includes(call.function.name), `unexpected function ${call.function.name}`);
  const args = JSON.parse(call.function.arguments);
  const validate = validators[call.function.name];
  assert.ok(validate(args), `${call.function.arguments}: ${ajv.errorsText(validate.errors)}`);
}

test('response_format json_schema: every seed parses and validates', async () => {
  const validate = ajv.compile(PET);
  const runs = [];
  for (let seed = 1; seed <= 10; seed++) {
    runs.push(client.chat.completions.create({
      model: MODEL, messages, seed, temperature: 1, max_tokens: 300,
      response_format: { type: 'json_schema', json_schema: { name: 'pet', strict: true, schema: PET } },
    }));
  }
  for (const r of await Promise.all(runs)) {
    assert.equal(r.choices[0].finish_reason, 'stop');
    const value = JSON.parse(r.choices[0].message.content);
    assert.ok(validate(value), `${r.choices[0].message.content}: ${ajv.errorsText(validate.errors)}`);
  }
});

test('response_format json_schema with an unsupported feature is a 400 naming it', async () => {
  await assert.rejects(
    client.chat.completions.create({
      model: MODEL, messages,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', unevaluatedProperties: { type: 'string' } } } },
    }),
    (e) => e.status === 400 && /unevaluatedProperties/.test(e.message),
  );
});

test('tool_choice required: tool_calls with valid arguments', async () => {
  for (let seed = 1; seed <= 5; seed++) {
    const r = await client.chat.completions.create({
      model: MODEL, messages, seed, temperature: 1, max_tokens: 200, tools: TOOLS, tool_choice: 'required',
    });
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.ok(c.message.tool_calls.length >= 1);
    for (const call of c.message.tool_calls) checkCall(call, ['get_weather', 'set_alarm']);
  }
});

test('named tool_choice: one call of that function', async () => {
  for (let seed = 1; seed <= 3; seed++) {
    const r = await client.chat.completions.create({
      model: MODEL, messages, seed, temperature: 1, max_tokens: 200, tools: TOOLS, parallel_tool_calls: false,
      tool_choice: { type: 'function', function: { name: 'set_alarm' } },
    });
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.tool_calls.length, 1);
    checkCall(c.message.tool_calls[0], ['set_alarm']);
  }
});

test('streamed tool-call deltas reassemble to the whole answer', async () => {
  const params = {
    model: MODEL, messages, temperature: 0, max_tokens: 200, tools: TOOLS, parallel_tool_calls: false,
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  };
  const whole = await client.chat.completions.create(params);
  const want = whole.choices[0].message.tool_calls[0];
  const stream = await client.chat.completions.create({ ...params, stream: true });
  const calls = [];
  let finish = null;
  let content = '';
  for await (const chunk of stream) {
    const ch = chunk.choices[0];
    if (!ch) continue;
    if (ch.finish_reason) finish = ch.finish_reason;
    content += ch.delta.content ?? '';
    for (const d of ch.delta.tool_calls ?? []) {
      calls[d.index] ??= { id: '', name: '', arguments: '' };
      if (d.id) calls[d.index].id = d.id;
      calls[d.index].name += d.function?.name ?? '';
      calls[d.index].arguments += d.function?.arguments ?? '';
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(content, '');
  assert.equal(calls.length, 1);
  assert.match(calls[0].id, /^call_/);
  assert.equal(calls[0].name, want.function.name);
  assert.equal(calls[0].arguments, want.function.arguments);
  checkCall({ type: 'function', id: calls[0].id, function: calls[0] }, ['get_weather']);
});

test('unknown tool_choice name is a 400', async () => {
  await assert.rejects(
    client.chat.completions.create({
      model: MODEL, messages, tools: TOOLS, tool_choice: { type: 'function', function: { name: 'launch_rocket' } },
    }),
    (e) => e.status === 400 && e.param === 'tool_choice',
  );
});

test('ollama: format schema validates; tools are accepted', async () => {
  const validate = ajv.compile(PET);
  for (let seed = 1; seed <= 4; seed++) {
    const r = await ollama.chat({ model: MODEL, messages, format: PET, options: { seed, temperature: 1 } });
    const value = JSON.parse(r.message.content);
    assert.ok(validate(value), `${r.message.content}: ${ajv.errorsText(validate.errors)}`);
  }
  const r = await ollama.chat({ model: MODEL, messages, tools: TOOLS, options: { num_predict: 8 } });
  assert.equal(r.done, true);
});
