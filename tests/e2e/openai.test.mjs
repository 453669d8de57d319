// slm serve through the official `openai` npm client (base URL .../v1):
// models, chat and completions (whole and streamed), seeds, stop
// sequences, logprobs, 8 concurrent streams, the prefix cache on a second
// turn, an aborted stream freeing its slot, and API errors.
// Run by tests/cli/serve_e2e_test.sh with SLM_URL, SLM_MODEL, SLM_REFERENCE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const URL = process.env.SLM_URL;
const MODEL = process.env.SLM_MODEL;
const REFERENCE = process.env.SLM_REFERENCE;
const client = new OpenAI({ baseURL: `${URL}/v1`, apiKey: 'unused', maxRetries: 0 });
const hi = [{ role: 'user', content: 'Tell me a story about a dog.' }];

async function metric(name) {
  const text = await (await fetch(`${URL}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ')[1]) : NaN;
}

async function streamText(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { text, finish };
}

test('models.list names the model', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, [MODEL]);
  const one = await client.models.retrieve(MODEL);
  assert.equal(one.object, 'model');
});

test('chat, whole and streamed, agree under greedy decoding', async () => {
  const whole = await client.chat.completions.create({ model: MODEL, messages: hi, max_tokens: 24, temperature: 0 });
  assert.match(whole.id, /^chatcmpl-/);
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices[0].message.role, 'assistant');
  assert.equal(whole.choices[0].finish_reason, 'length');
  assert.equal(whole.usage.completion_tokens, 24);
  assert.equal(whole.usage.total_tokens, whole.usage.prompt_tokens + 24);
  assert.ok(whole.choices[0].message.content.length > 0);
  const streamed = await streamText({ model: MODEL, messages: hi, max_tokens: 24, temperature: 0 });
  assert.equal(streamed.text, whole.choices[0].message.content);
  assert.equal(streamed.finish, 'length');
});

test('stream_options.include_usage sends a final usage chunk', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL, messages: hi, max_tokens: 5, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let usage = null;
  for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
  assert.equal(usage.completion_tokens, 5);
  assert.ok(usage.prompt_tokens > 0);
});

test('completions: greedy output equals llama.cpp', async () => {
  const r = await client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 48, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, REFERENCE);
  const s = await client.completions.create({
    model: MODEL, prompt: 'Once upon a time', max_tokens: 48, temperature: 0, stream: true,
  });
  let text = '';
  for await (const chunk of s) text += chunk.choices[0]?.text ?? '';
  assert.equal(text, REFERENCE);
});

test('a seed makes sampling reproducible', async () => {
  const p = { model: MODEL, prompt: 'Once upon a time', max_tokens: 32, temperature: 1, seed: 1234 };
  const a = await client.completions.create(p);
  const b = await client.completions.create(p);
  assert.equal(a.choices[0].text, b.choices[0].text);
  const runs = await Promise.all([1, 2, 3].map((s) => client.completions.create({ ...p, seed: s })));
  assert.ok(new Set(runs.map((r) => r.choices[0].text)).size > 1, 'different seeds should differ');
});

test('stop sequences end the output before the match', async () => {
  const r = await client.completions.create({
    model: MODEL, prompt: 'Once upon a time', max_tokens: 48, temperature: 0, stop: [' girl', 'zzz'],
  });
  assert.equal(r.choices[0].text, REFERENCE.slice(0, REFERENCE.indexOf(' girl')));
  assert.equal(r.choices[0].finish_reason, 'stop');
});

test('logprobs and top_logprobs', async () => {
  const r = await client.chat.completions.create({
    model: MODEL, messages: hi, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3,
  });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, 6);
  for (const e of content) {
    assert.ok(e.logprob <= 0);
    assert.equal(e.top_logprobs.length, 3);
    assert.equal(e.top_logprobs[0].token, e.token); // greedy takes the most probable
    assert.ok(Array.isArray(e.bytes));
  }
  const joined = content.map((e) => e.token).join('');
  assert.equal(joined, r.choices[0].message.content);
});

test('8 concurrent streams give the same greedy text', async () => {
  const p = { model: MODEL, messages: hi, max_tokens: 32, temperature: 0 };
  const single = await streamText(p);
  const many = await Promise.all(Array.from({ length: 8 }, () => streamText(p)));
  for (const m of many) assert.equal(m.text, single.text);
});

test('a second turn reuses the cached prefix', async () => {
  const first = await client.chat.completions.create({ model: MODEL, messages: hi, max_tokens: 16, temperature: 0 });
  const history = [...hi, first.choices[0].message, { role: 'user', content: 'And then?' }];
  const second = await client.chat.completions.create({ model: MODEL, messages: history, max_tokens: 8, temperature: 0 });
  const cached = second.usage.prompt_tokens_details.cached_tokens;
  assert.ok(cached >= first.usage.prompt_tokens, `cached ${cached} < first prompt ${first.usage.prompt_tokens}`);
  assert.ok(cached < second.usage.prompt_tokens);
});

test('aborting a stream frees its slot', async () => {
  const ac = new AbortController();
  const stream = await client.completions.create(
    { model: MODEL, prompt: 'Once upon a time', max_tokens: 1500, temperature: 1, stream: true, logit_bias: { 2: -100 } },
    { signal: ac.signal },
  );
  let n = 0;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'text_completion');
    if (++n === 3) {
      ac.abort(); // closes the connection mid-stream
      break;
    }
  }
  assert.equal(n, 3);
  let busy = NaN;
  for (let i = 0; i < 60; i++) {
    busy = await metric(`slm_slots_busy{model="${MODEL}"}`);
    if (busy === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(busy, 0);
});

test('errors: unknown model 404, bad parameters 400 with the field', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'nope', messages: hi }), (e) => {
    assert.equal(e.status, 404);
    assert.match(e.message, new RegExp(MODEL));
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: hi, temperature: 9 }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.param, 'temperature');
    return true;
  });
  await assert.rejects(
    client.chat.completions.create({
      model: MODEL, messages: hi, tools: [{ type: 'function', function: { name: 'f' } }],
      tool_choice: { type: 'function', function: { name: 'g' } },
    }),
    (e) => e.status === 400 && e.param === 'tool_choice',
  );
});
