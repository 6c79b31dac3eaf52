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
