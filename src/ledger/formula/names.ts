// Names that become object keys, folder names or file names. A formula file, an MCP call or a mutation
// is hostile input: a key such as `__proto__` would change the prototype of the object it lands in (and
// so be silently dropped), and a family named `CON` or with 300 characters cannot be a folder on every
// platform the workspace is cloned to. Both are refused where they enter, with the field named.

/** Keys that would reach an object's prototype machinery instead of being plain data. */
export const UNSAFE_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/** True for `__proto__`, `constructor` and `prototype`. */
export function isUnsafeKey(key: string): boolean {
  return UNSAFE_KEYS.includes(key);
}

/** How many values findUnsafeKey looks at before it stops; inputs are bounded long before this elsewhere. */
const MAX_VISITED = 1_000_000;

/**
 * The first own key named `__proto__`, `constructor` or `prototype` anywhere in a JSON-like value, with
 * its path (`mutations.0.spec.__proto__`), or null. The walk uses an explicit stack, so a deeply nested
 * input cannot overflow the call stack; it stops (returning null) after a million values.
 */
export function findUnsafeKey(value: unknown): { key: string; path: string } | null {
  const stack: Array<{ value: unknown; path: string }> = [{ value, path: '' }];
  let visited = 0;
  while (stack.length > 0 && visited < MAX_VISITED) {
    const { value: current, path } = stack.pop() as { value: unknown; path: string };
    visited += 1;
    if (typeof current !== 'object' || current === null) continue;
    if (Array.isArray(current)) {
      current.forEach((item, i) => stack.push({ value: item, path: path ? `${path}.${i}` : String(i) }));
      continue;
    }
    for (const key of Object.keys(current)) {
      const at = path ? `${path}.${key}` : key;
      if (isUnsafeKey(key)) return { key, path: at };
      stack.push({ value: (current as Record<string, unknown>)[key], path: at });
    }
  }
  return null;
}

/** Longest family, formula or step name: folder and file names built from it stay far below every platform's limit. */
export const MAX_NAME_LENGTH = 100;

/**
 * Windows device names: a file or folder with one of these names (in any case, with or without an
 * extension, e.g. `con.txt`) cannot be created. Source: Microsoft, "Naming Files, Paths, and
 * Namespaces" (learn.microsoft.com/windows/win32/fileio/naming-a-file), which also lists the
 * superscript digits ¹ ² ³ after COM and LPT.
 */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;

/** Characters no file name may hold on Windows (and `/` nowhere), plus control characters. */
// eslint-disable-next-line no-control-regex
const RESERVED_CHARACTERS = /[<>:"/\\|?*\u0000-\u001f]/;

/**
 * What keeps `name` from being a folder or file name on Windows, macOS and Linux, or null when it can be
 * one: a reserved character, a Windows device name (CON, NUL, COM1, LPT1, … in any case, also before a
 * dot), a trailing dot or space, `.` or `..`, more than MAX_NAME_LENGTH characters, or a prototype key.
 */
export function fileNameProblem(name: string): string | null {
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_NAME_LENGTH) return `it has ${name.length} characters; at most ${MAX_NAME_LENGTH} are allowed, so that folder and file names built from it fit on every platform`;
  if (name === '.' || name === '..') return 'it names a folder itself, not a new one';
  const bad = RESERVED_CHARACTERS.exec(name);
  if (bad) return `it contains ${JSON.stringify(bad[0])}, which a file name cannot hold on Windows`;
  if (/[. ]$/.test(name)) return 'it ends with a dot or a space, which Windows removes from file names';
  const stem = name.split('.')[0] as string;
  if (WINDOWS_DEVICE.test(stem.trimEnd())) return `"${stem}" is a device name on Windows (CON, PRN, AUX, NUL, COM1–9, LPT1–9), so no file or folder can be called that`;
  if (isUnsafeKey(name)) return `"${name}" is reserved: it would change how the objects holding it behave`;
  return null;
}
