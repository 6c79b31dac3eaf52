import type * as z from 'zod';
import { LedgerError } from '../ledger/index';

/**
 * Validates tool arguments the way the ledger validates command input (a LedgerError naming the first
 * bad field), with messages written for a model that has to fix its call: a misspelt key names the
 * key and the keys the tool takes, a missing field says it is required.
 */
export function validate<S extends z.ZodObject>(schema: S, args: unknown): z.output<S> {
  const r = schema.safeParse(args ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const field = [...path, key].join('.');
    const allowed = Object.keys(shapeAt(schema, path) ?? {});
    return fail(field, `is not a field of this tool${allowed.length ? `; the fields are ${allowed.join(', ')}` : ''}`);
  }
  const field = path.length ? path.join('.') : 'input';
  // A record's bad key: zod's own message ("Invalid key in record") hides what is wrong with the key.
  if (issue.code === 'invalid_key') return fail(field, `the key ${issue.issues[0]?.message ?? 'is not allowed'}`);
  if (valueAt(args, path) === undefined) return fail(field, 'is required');
  return fail(field, issue.message);
}

function valueAt(value: unknown, path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function fail(field: string, message: string): never {
  throw new LedgerError(`${field}: ${message}`, 'invalid_input', field);
}

/** The object shape found by following `path` (object keys and array indices) into `schema`. */
function shapeAt(schema: z.ZodType, path: string[]): Record<string, z.ZodType> | undefined {
  let current: z.ZodType | undefined = schema;
  for (const key of path) {
    current = unwrap(current);
    const def = current?.def as { type?: string; shape?: Record<string, z.ZodType>; element?: z.ZodType } | undefined;
    if (def?.type === 'object') current = def.shape?.[key];
    else if (def?.type === 'array') current = def.element;
    else return undefined;
  }
  const def = unwrap(current)?.def as { type?: string; shape?: Record<string, z.ZodType> } | undefined;
  return def?.type === 'object' ? def.shape : undefined;
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let current = schema;
  for (let i = 0; i < 10 && current; i++) {
    const def = current.def as { type?: string; innerType?: z.ZodType };
    if ((def.type === 'optional' || def.type === 'default' || def.type === 'nullable') && def.innerType) current = def.innerType;
    else break;
  }
  return current;
}

/** Keys that name an object's machinery in JavaScript, refused in arguments wherever they appear. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Bounds of a call's raw arguments, far below the 10 MiB a stdio line may carry (see transport.ts). */
export const ARGUMENT_LIMITS = {
  /** Nesting depth of objects and arrays. */
  depth: 32,
  /** Array elements and object members in all (the largest legitimate call, a 5000-node plan, has about 60,000). */
  elements: 200_000,
} as const;

/**
 * Checks a call's arguments as they arrived, before any schema copies them: an own `__proto__`,
 * `constructor` or `prototype` key anywhere is refused with its path (a copy would drop `__proto__`
 * silently, or the key would shadow the object's machinery), and so are nesting deeper than
 * ARGUMENT_LIMITS.depth and more than ARGUMENT_LIMITS.elements values. Iterative, so no input can
 * overflow the stack. Throws an invalid_input LedgerError naming the field.
 */
export function checkRawArguments(args: unknown): void {
  const stack: Array<{ value: unknown; path: string[] }> = [{ value: args, path: [] }];
  let elements = 0;
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (path.length >= ARGUMENT_LIMITS.depth) {
      fail(path.join('.'), `is nested deeper than ${ARGUMENT_LIMITS.depth} levels; no field of this server takes that`);
    }
    const keys = Array.isArray(value) ? null : Object.keys(value);
    elements += keys ? keys.length : (value as unknown[]).length;
    if (elements > ARGUMENT_LIMITS.elements) fail(path.length ? path.join('.') : 'arguments', `the arguments hold more than ${ARGUMENT_LIMITS.elements} values; send less at once`);
    if (keys) {
      for (const key of keys) {
        if (FORBIDDEN_KEYS.has(key)) {
          fail([...path, key].join('.'), `"${key}" cannot be a key here: it names a JavaScript object's machinery, not data; rename it`);
        }
        stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] });
      }
    } else {
      (value as unknown[]).forEach((v, i) => stack.push({ value: v, path: [...path, String(i)] }));
    }
  }
}
