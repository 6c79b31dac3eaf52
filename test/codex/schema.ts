// Checks our app-server messages against the JSON schema that the installed Codex generates
// (`codex app-server generate-json-schema --experimental`). The schema is generated at test time into
// a temp folder, so a Codex upgrade that changes the protocol fails here.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CODEX_BIN } from '../support/scriptedModel';

type Schema = boolean | SchemaObject;
interface SchemaObject {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema;
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  minimum?: number;
  minLength?: number;
  definitions?: Record<string, Schema>;
}

let generated: string | undefined;

/** Generates the schema bundle once per test process and returns its folder. */
export function protocolSchemaDir(): string {
  if (generated) return generated;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-codex-schema-'));
  const r = spawnSync(CODEX_BIN, ['app-server', 'generate-json-schema', '--experimental', '--out', dir], { encoding: 'utf8', env: { ...process.env, CODEX_HOME: dir } });
  if (r.status !== 0) throw new Error(`generate-json-schema failed: ${r.stderr}`);
  generated = dir;
  return dir;
}

/**
 * Validates `value` against one schema file of the bundle (e.g. ClientRequest.json). Stricter than
 * JSON Schema: an object key the schema does not name is an error, because the generated schema
 * allows unknown keys and a misspelled field would otherwise pass here and be ignored by Codex.
 */
export function validateAgainst(file: string, value: unknown): string[] {
  const root = JSON.parse(fs.readFileSync(path.join(protocolSchemaDir(), file), 'utf8')) as SchemaObject;
  const errors: string[] = [];
  check(root, root, value, '$', errors, new Set());
  return errors;
}

function resolve(root: SchemaObject, s: Schema): Schema {
  let cur = s;
  for (let i = 0; i < 50 && typeof cur === 'object' && cur.$ref; i++) {
    const name = cur.$ref.replace('#/definitions/', '');
    const next = root.definitions?.[name];
    if (next === undefined) throw new Error(`unresolved $ref ${cur.$ref}`);
    cur = next;
  }
  return cur;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Property names a schema knows at its level, including those its branches add. */
function knownKeys(root: SchemaObject, s: SchemaObject): Set<string> {
  const keys = new Set(Object.keys(s.properties ?? {}));
  for (const b of [...(s.oneOf ?? []), ...(s.anyOf ?? []), ...(s.allOf ?? [])]) {
    const r = resolve(root, b);
    if (typeof r === 'object') for (const k of Object.keys(r.properties ?? {})) keys.add(k);
  }
  return keys;
}

function check(root: SchemaObject, schema: Schema, v: unknown, at: string, errors: string[], inherited: Set<string>): void {
  const s = resolve(root, schema);
  if (s === true) return;
  if (s === false) { errors.push(`${at}: not allowed`); return; }
  const t = typeOf(v);
  if (s.type) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const ok = types.some((x) => x === t || (x === 'number' && t === 'integer'));
    if (!ok) { errors.push(`${at}: is ${t}, expected ${types.join('|')}`); return; }
  }
  if (s.enum && !s.enum.some((e) => e === v)) errors.push(`${at}: ${JSON.stringify(v)} is not one of ${JSON.stringify(s.enum)}`);
  if ('const' in s && s.const !== v) errors.push(`${at}: expected ${JSON.stringify(s.const)}`);
  if (typeof v === 'number' && s.minimum !== undefined && v < s.minimum) errors.push(`${at}: below ${s.minimum}`);
  if (typeof v === 'string' && s.minLength !== undefined && v.length < s.minLength) errors.push(`${at}: shorter than ${s.minLength}`);
  const known = new Set([...inherited, ...knownKeys(root, s)]);
  if (t === 'object' && (s.properties || s.required)) {
    const o = v as Record<string, unknown>;
    for (const r of s.required ?? []) if (!(r in o)) errors.push(`${at}: missing required "${r}"`);
    for (const [k, val] of Object.entries(o)) {
      const p = s.properties?.[k];
      if (p !== undefined) check(root, p, val, `${at}.${k}`, errors, new Set());
      else if (typeof s.additionalProperties === 'object') check(root, s.additionalProperties, val, `${at}.${k}`, errors, new Set());
      else if (s.additionalProperties !== true && !known.has(k)) errors.push(`${at}: unknown key "${k}"`);
    }
  }
  if (t === 'array' && s.items !== undefined) (v as unknown[]).forEach((x, i) => check(root, s.items!, x, `${at}[${i}]`, errors, new Set()));
  for (const b of s.allOf ?? []) check(root, b, v, at, errors, known);
  const branchErrors = (b: Schema) => { const e: string[] = []; check(root, b, v, at, e, known); return e; };
  if (s.anyOf) {
    const results = s.anyOf.map(branchErrors);
    if (!results.some((e) => e.length === 0)) errors.push(`${at}: matches none of anyOf (closest: ${closest(results)})`);
  }
  if (s.oneOf) {
    const results = s.oneOf.map(branchErrors);
    const matched = results.filter((e) => e.length === 0).length;
    if (matched === 0) errors.push(`${at}: matches none of oneOf (closest: ${closest(results)})`);
    else if (matched > 1) errors.push(`${at}: matches ${matched} branches of oneOf`);
  }
}

function closest(results: string[][]): string {
  const best = results.reduce((a, b) => (b.length < a.length ? b : a));
  return best.slice(0, 3).join('; ');
}

/**
 * Validates a request or notification against the branch of ClientRequest.json (or
 * ClientNotification.json) for its method, so that errors name the real problem rather than the
 * closest of some three hundred methods.
 */
export function validateClientMessage(message: { method?: unknown } & Record<string, unknown>): string[] {
  const file = 'id' in message ? 'ClientRequest.json' : 'ClientNotification.json';
  const root = JSON.parse(fs.readFileSync(path.join(protocolSchemaDir(), file), 'utf8')) as SchemaObject;
  const branch = (root.oneOf ?? []).map((b) => resolve(root, b)).find((b) => {
    const m = typeof b === 'object' ? resolve(root, b.properties?.method ?? true) : true;
    return typeof m === 'object' && (m.enum ?? []).includes(message.method);
  });
  if (!branch) return [`${String(message.method)} is not a ${file.replace('.json', '')} method of this Codex`];
  const errors: string[] = [];
  check(root, branch, message, String(message.method), errors, new Set());
  return errors;
}
