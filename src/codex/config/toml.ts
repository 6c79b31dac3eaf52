// The project's one writer of TOML values: strings, keys and inline values, for Codex's config.toml (the table edit in
// ./tomlTable.ts) and for Codex's `-c key=value` overrides (src/codex/appServer.ts). Strings are escaped by the formula
// canonicalizer's basicString (src/ledger/formula/canonical.ts), whose output the content hashes cover, so the project
// has one string escaper. Reading TOML is smol-toml's job.
import { basicString } from '../../ledger/formula/canonical';

/** A value TOML can hold that the project writes: no dates, no NaN or infinities. */
export type TomlValue = string | number | boolean | TomlValue[] | { [key: string]: TomlValue };

/** A TOML basic string (`"..."`): quotes, backslashes and every control character (DEL included) escaped. */
export function tomlString(value: string): string {
  return basicString(value);
}

/** A key written the way TOML needs it: bare when it is letters, digits, `_` and `-` only, else a basic string. */
export function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : tomlString(key);
}

/**
 * A value as an inline TOML value (the form `-c key=value` and `key = value` lines take): strings, finite numbers,
 * booleans, arrays and inline tables. Throws on a number TOML cannot write here (NaN, ±Infinity).
 */
export function tomlInline(value: TomlValue): string {
  if (typeof value === 'string') return tomlString(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`TOML has no value for ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map(tomlInline).join(', ')}]`;
  const entries = Object.entries(value).map(([k, v]) => `${tomlKey(k)} = ${tomlInline(v)}`);
  return entries.length ? `{ ${entries.join(', ')} }` : '{}';
}
