// slm serve through the official `ollama` npm client: tags, show, ps,
// version, generate and chat (whole and streamed, NDJSON), options, and
// an unknown model. Run by tests/cli/serve_e2e_test.sh with SLM_URL,
// SLM_MODEL and SLM_REFERENCE. The pull case runs only with
// SLM_PULL_MODEL (tests/cli/serve_pull_test.sh, against a fake registry).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';

const MODEL = process.env.SLM_MODEL;
const REFERENCE = process.env.SLM_REFERENCE;
const ollama = new Ollama({ host: process.env.SLM_URL });
const greedy = { temperature: 0, num_predict: 48 };
const PULL = process.env.SLM_PULL_MODEL;

test('list, version', async () => {
  const tags = await ollama.list();
  // the --model first; then the store's models, if $SLM_HOME has any
  assert.equal(tags.models[0].name, MODEL);
  assert.equal(new Set(tags.models.map((m) => m.name)).size, tags.models.length);
  assert.ok(tags.models[0].size > 0);
  const v = await ollama.version();
  assert.match(v.version, /^\d+\.\d+\.\d+$/);
});

test('generate: whole and streamed equal llama.cpp greedy output', async () => {
  const r = await ollama.generate({ model: MODEL, prompt: 'Once upon a time', options: greedy });
  assert.equal(r.response, REFERENCE);
  assert.equal(r.done, true);
  assert.equal(r.done_reason, 'length');
  assert.equal(r.eval_count, 48);
  assert.equal(r.prompt_eval_count + 0 >= 0, true);
  let text = '';
  let last = null;
  for await (const part of await ollama.generate({ model: MODEL, prompt: 'Once upon a time', options: greedy, stream: true })) {
    text += part.response;
    last = part;
  }
  assert.equal(text, REFERENCE);
  assert.equal(last.done, true);
  assert.ok(last.total_duration > 0);
});

test('generate: stop option and num_predict', async () => {
  const r = await ollama.generate({
    model: MODEL, prompt: 'Once upon a time', options: { temperature: 0, num_predict: 48, stop: [' girl'] },
  });
  assert.equal(r.response, REFERENCE.slice(0, REFERENCE.indexOf(' girl')));
  assert.equal(r.done_reason, 'stop');
  const short = await ollama.generate({ model: MODEL, prompt: 'Once upon a time', options: { temperature: 0, num_predict: 3 } });
  assert.equal(short.eval_count, 3);
});

test('chat: whole and streamed agree', async () => {
  const messages = [{ role: 'user', content: 'Tell me a story.' }];
  const whole = await ollama.chat({ model: MODEL, messages, options: { temperature: 0, num_predict: 20 } });
  assert.equal(whole.message.role, 'assistant');
  assert.ok(whole.message.content.length > 0);
  let text = '';
  for await (const part of await ollama.chat({ model: MODEL, messages, options: { temperature: 0, num_predict: 20 }, stream: true }))
    text += part.message.content;
  assert.equal(text, whole.message.content);
});

test('show and ps describe the loaded model', async () => {
  const s = await ollama.show({ model: MODEL });
  assert.equal(s.details.format, 'gguf');
  assert.equal(s.details.family, 'llama');
  assert.equal(s.model_info['general.architecture'], 'llama');
  const ps = await ollama.ps();
  assert.deepEqual(ps.models.map((m) => m.name), [MODEL]);
});

test('unknown model is a 404 error', async () => {
  await assert.rejects(ollama.generate({ model: 'nope', prompt: 'x' }), (e) => {
    assert.equal(e.status_code, 404);
    assert.match(e.error, new RegExp(MODEL));
    return true;
  });
});

test('pull: streamed progress, then the model is listed, answers, and is deleted',
  { skip: !PULL && 'SLM_PULL_MODEL is not set' }, async () => {
    const events = [];
    for await (const p of await ollama.pull({ model: PULL, stream: true })) events.push(p);
    assert.equal(events[0].status, 'pulling manifest');
    assert.equal(events.at(-1).status, 'success');
    const prog = events.filter((e) => e.digest);
    assert.ok(prog.length > 0);
    assert.match(prog[0].status, /^pulling [0-9a-f]{12}$/);
    assert.equal(prog.at(-1).completed, prog.at(-1).total);
    assert.ok(events.some((e) => e.status === 'verifying sha256 digest'));
    const tags = await ollama.list();
    assert.ok(tags.models.some((m) => m.name === PULL));
    const r = await ollama.generate({ model: PULL, prompt: 'Once upon a time', options: { num_predict: 4 } });
    assert.equal(r.model, PULL);
    assert.ok(r.eval_count > 0);
    await assert.rejects(async () => {
      for await (const p of await ollama.pull({ model: 'nosuchmodel:1b', stream: true })) void p;
    }, /HTTP 404/);
    await ollama.delete({ model: PULL });
    assert.ok(!(await ollama.list()).models.some((m) => m.name === PULL));
  });
