// `{{name}}` references in step text. Substitution is plain text replacement: instructions are prompts,
// not code, so nothing is escaped and nothing is evaluated.
import type { VarValue } from './types';

const REFERENCE = /\{\{\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}/g;

/** Names referenced as `{{name}}` in a text, in order of first appearance. */
export function referencedVars(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(REFERENCE)) {
    const name = match[1] as string;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** How a value reads inside instructions: lists become comma-separated. */
export function varText(value: VarValue): string {
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

/** Replaces every `{{name}}` that has a value; unknown references stay as written. */
export function substitute(text: string, values: Record<string, VarValue>): string {
  return text.replace(REFERENCE, (whole, name: string) => {
    const value = Object.prototype.hasOwnProperty.call(values, name) ? values[name] : undefined;
    return value === undefined ? whole : varText(value);
  });
}

/** A for_each value names one variable, written either as `{{files}}` or as `files`. */
export function forEachVarName(text: string): string | null {
  const trimmed = text.trim();
  const braced = /^\{\{\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}$/.exec(trimmed);
  if (braced) return braced[1] as string;
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(trimmed) ? trimmed : null;
}

/**
 * Reads a list from a run-time value: a string array as is, a string starting with `[` as a JSON array
 * of strings, any other string as comma-separated items (trimmed, empty ones dropped).
 */
export function listFromValue(value: VarValue): string[] | { error: string } {
  if (Array.isArray(value)) return value;
  if (typeof value === 'boolean') return { error: `a boolean (${value}) is not a list` };
  const trimmed = value.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      return { error: `it starts with "[" but is not valid JSON (${(error as Error).message})` };
    }
    if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
      return { error: 'it is JSON but not an array of strings' };
    }
    return parsed as string[];
  }
  return trimmed
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
