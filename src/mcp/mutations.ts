import type * as z from 'zod';
import type { flatMutation } from './schemas';

type FlatMutation = z.output<typeof flatMutation>;

/**
 * Turns a flat tool mutation into the formula layer's shape (src/ledger/formula/mutations.ts). Only the
 * spelling changes: removals written as "" / "none" / 0 become null, and add_step's fields are gathered
 * into `step`. Every field that was given is passed on, so the formula layer's strict schema still
 * refuses a field that does not belong to the op, and it alone decides what is valid.
 */
export function toMutation(m: FlatMutation): Record<string, unknown> {
  const out: Record<string, unknown> = { op: m.op };
  const copy = (key: keyof FlatMutation, value: unknown = m[key]) => {
    if (m[key] !== undefined) out[key] = value;
  };
  if (m.op === 'add_step') {
    const step: Record<string, unknown> = { id: m.stepId, instructions: m.instructions };
    for (const key of ['title', 'needs', 'review', 'when', 'forEach'] as const) {
      if (m[key] !== undefined) step[key] = m[key] === '' ? null : m[key];
    }
    if (m.gate !== undefined) step.gate = toGate(m.gate);
    if (m.retry !== undefined) step.retry = toRetry(m.retry);
    out.step = step;
    copy('after', m.after === '' ? null : m.after);
    for (const key of ['rewire', 'name', 'spec', 'description'] as const) copy(key);
    return out;
  }
  copy('stepId');
  copy('title');
  copy('instructions');
  copy('needs');
  copy('after', m.after === '' ? null : m.after);
  copy('rewire');
  copy('review');
  copy('when', m.when === '' ? null : m.when);
  copy('forEach', m.forEach === '' ? null : m.forEach);
  copy('gate', m.gate && toGate(m.gate));
  copy('retry', m.retry && toRetry(m.retry));
  copy('name');
  copy('spec');
  copy('description');
  return out;
}

function toGate(g: NonNullable<FlatMutation['gate']>): Record<string, unknown> | null {
  if (g.kind === 'none') return null;
  const gate: Record<string, unknown> = { kind: g.kind };
  if (g.seconds !== undefined) gate.seconds = g.seconds;
  if (g.formula !== undefined) gate.formula = g.formula;
  return gate;
}

function toRetry(r: NonNullable<FlatMutation['retry']>): Record<string, unknown> | null {
  if (r.max === 0) return null;
  return r.onExhausted ? { max: r.max, onExhausted: r.onExhausted } : { max: r.max };
}
