// Hostile arguments (issue 10): every string and array a tool takes has a bound far below the stdio transport's
// 10 MiB line limit; an own `__proto__` / `constructor` / `prototype` key anywhere in the arguments is refused with
// its path instead of being dropped; nesting and sheer size are bounded; and each refusal writes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, textOf } from './helpers';
import type { Harness } from './helpers';

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  maxLength?: number;
  maxItems?: number;
}

let h: Harness;
let runId: string;

before(async () => {
  h = await harness();
  runId = (await h.ok<{ runId: string }>('workflow_start', { title: 'bounds', nodes: [{ key: 'a', title: 'A' }] })).runId;
});

after(async () => {
  await h.close();
});

/** Calls a tool with arguments given as JSON text, as a client's JSON parser makes them (own `__proto__` keys included). */
async function refusedRaw(tool: string, json: string, field: string, message: RegExp): Promise<void> {
  await h.ledger.refresh();
  const seq = h.ledger.seq;
  const args = JSON.parse(json) as Record<string, unknown>;
  const started = Date.now();
  const r = await h.call(tool, args);
  const text = textOf(r);
  assert.equal(r.isError, true, `${tool} ${json.slice(0, 100)}: expected a refusal, got ${text.slice(0, 300)}`);
  assert.ok(text.startsWith(`${tool} failed: ${field}: `), `names ${field}: ${text}`);
  assert.match(text, message);
  assert.equal((JSON.parse((r.content[1] as { text: string }).text) as { error: { field: string } }).error.field, field);
  assert.ok(Date.now() - started < 1000, 'answered in well under a second');
  assert.equal(h.ledger.seq, seq, 'nothing was written');
}

test('every string and array in every input schema has an explicit bound far below 10 MiB', async () => {
  const { tools } = await h.client.listTools();
  const found: string[] = [];
  const walk = (s: JsonSchema | undefined, path: string) => {
    if (!s || typeof s !== 'object') return;
    if (s.type === 'string' && s.enum === undefined && s.const === undefined) {
      assert.ok(s.maxLength !== undefined && s.maxLength <= 20_000, `${path} is a string bounded at ${s.maxLength}`);
      found.push(path);
    }
    if (s.type === 'array') {
      assert.ok(s.maxItems !== undefined && s.maxItems <= 5000, `${path} is an array bounded at ${s.maxItems}`);
      walk(s.items, `${path}[]`);
    }
    for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${path}.${k}`);
    if (s.additionalProperties && typeof s.additionalProperties === 'object') {
      walk(s.propertyNames, `${path}.<key>`);
      assert.ok(s.propertyNames?.maxLength !== undefined, `${path}'s keys are bounded`);
      walk(s.additionalProperties, `${path}.*`);
    }
  };
  for (const t of tools) walk(t.inputSchema as JsonSchema, t.name);
  assert.ok(found.length > 60, `${found.length} strings checked`);
});

test('run variables: count, length, list size and type are bounded, each refusal naming the variable', async () => {
  const family = 'implement-and-review';
  await refusedRaw('workflow_start', JSON.stringify({ family, vars: { task: 'x'.repeat(20_001) } }), 'vars.task', /longer than 20000 characters/);
  await refusedRaw('workflow_start', JSON.stringify({ family, vars: { task: Array.from({ length: 1001 }, () => 'a') } }), 'vars.task', /1001 items; at most 1000/);
  await refusedRaw('workflow_start', JSON.stringify({ family, vars: { task: { nested: true } } }), 'vars.task', /expected text, true\/false or a list of text, received object/);
  await refusedRaw('workflow_start', JSON.stringify({ family, vars: { task: [7] } }), 'vars.task.0', /a list variable holds text/);
  const many = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`v${i}`, 'x']));
  await refusedRaw('workflow_start', JSON.stringify({ family, vars: many }), 'vars', /201 variables; at most 200/);
  await refusedRaw('workflow_start', JSON.stringify({ family, vars: { ['k'.repeat(121)]: 'x' } }), `vars.${'k'.repeat(121)}`, /: the key is longer than 120 characters/);
  await refusedRaw('workflow_start', JSON.stringify({ family, items: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`l${i}`, []])) }), 'items', /at most 50 lists/);
});

test('an own __proto__, constructor or prototype key is refused with its path, at any depth, and nothing is written', async () => {
  const cases: Array<[string, string, string]> = [
    ['workflow_start', `{"title":"t","nodes":[{"key":"a","title":"A"}],"__proto__":{"polluted":true}}`, '__proto__'],
    ['workflow_start', `{"title":"t","nodes":[{"key":"a","title":"A","__proto__":{"gate":{"kind":"human"}}}]}`, 'nodes.0.__proto__'],
    ['workflow_start', `{"family":"implement-and-review","vars":{"task":"t","__proto__":"x"}}`, 'vars.__proto__'],
    ['workflow_start', `{"family":"implement-and-review","vars":{"task":"t","constructor":"x"}}`, 'vars.constructor'],
    ['workflow_start', `{"family":"implement-and-review","vars":{"task":"t"},"items":{"prototype":["a"]}}`, 'items.prototype'],
    ['evidence_record', `{"runId":"RUN","kind":"note","note":"n","__proto__":{}}`, '__proto__'],
    ['evidence_record', `{"runId":"RUN","kind":"note","constructor":{"name":"x"}}`, 'constructor'],
    ['formula_mutate', `{"variantId":"v-x","mutations":[{"op":"set_var","name":"n","spec":{"__proto__":{"required":true}}}]}`, 'mutations.0.spec.__proto__'],
    ['ready_work', `{"__proto__":null}`, '__proto__'],
  ];
  for (const [tool, json, field] of cases) {
    await refusedRaw(tool, json.replace('RUN', runId), field, /cannot be a key here: it names a JavaScript object's machinery, not data; rename it/);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was touched');
});

test('nesting deeper than 32 levels and over 200,000 values are refused quickly, naming where', async () => {
  let deep = '"x"';
  for (let i = 0; i < 10_000; i++) deep = `[${deep}]`;
  await refusedRaw('workflow_start', `{"family":"implement-and-review","vars":{"task":${deep}}}`, `vars.task.${Array(30).fill('0').join('.')}`, /nested deeper than 32 levels/);
  const wide = JSON.stringify({ title: 't', nodes: [{ key: 'a', title: 'A', needs: Array.from({ length: 250_000 }, () => 'b') }] });
  await refusedRaw('workflow_start', wide, 'nodes.0.needs', /more than 200000 values; send less at once/);
});
