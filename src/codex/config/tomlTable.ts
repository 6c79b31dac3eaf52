// Line-based editing of one `[mcp_servers.<name>]` table in a Codex config.toml. A TOML library would
// parse and re-print the whole file, losing comments and layout that a person wrote; here only the lines
// of that table (and its subtables) are touched, and every other byte of the file is kept as it was. The caller
// (./registration.ts) parses the file before and after with smol-toml to prove that nothing else changed.

/** A run of whole lines of the file that belongs to the server: its table header and the lines under it. */
export interface Block {
  start: number;
  end: number;
  /** 1-based line number of the header, for messages. */
  line: number;
}

export class TomlEditError extends Error {
  constructor(message: string, readonly line?: number) {
    super(message);
    this.name = 'TomlEditError';
  }
}

interface Line {
  start: number;
  end: number;
  text: string;
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    lines.push({ start, end, text: text.slice(start, nl < 0 ? end : nl).replace(/\r$/, '') });
    start = end;
  }
  return lines;
}

/** Parses a dotted key (`a.b."c d".'e'`) into its parts; undefined when it is not one. */
export function parseDottedKey(source: string): string[] | undefined {
  const parts: string[] = [];
  let i = 0;
  const s = source;
  const skip = () => { while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++; };
  for (;;) {
    skip();
    if (i >= s.length) return undefined;
    if (s[i] === '"') {
      let out = '';
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\') {
          const esc = s[i + 1];
          const simple: Record<string, string> = { '"': '"', '\\': '\\', b: '\b', t: '\t', n: '\n', f: '\f', r: '\r' };
          if (esc !== undefined && esc in simple) { out += simple[esc]; i += 2; continue; }
          if (esc === 'u' || esc === 'U') {
            const len = esc === 'u' ? 4 : 8;
            const hex = s.slice(i + 2, i + 2 + len);
            if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) return undefined;
            out += String.fromCodePoint(parseInt(hex, 16));
            i += 2 + len;
            continue;
          }
          return undefined;
        }
        out += s[i];
        i++;
      }
      if (s[i] !== '"') return undefined;
      i++;
      parts.push(out);
    } else if (s[i] === "'") {
      const close = s.indexOf("'", i + 1);
      if (close < 0) return undefined;
      parts.push(s.slice(i + 1, close));
      i = close + 1;
    } else {
      const m = /^[A-Za-z0-9_-]+/.exec(s.slice(i));
      if (!m) return undefined;
      parts.push(m[0]);
      i += m[0].length;
    }
    skip();
    if (i >= s.length) return parts;
    if (s[i] !== '.') return undefined;
    i++;
  }
}

interface Scan {
  /** Header lines: their line index and key path (`[[x]]` array tables included). */
  headers: Array<{ index: number; path: string[]; array: boolean }>;
  /** Key/value lines at the top of a value (not inside a multi-line string or array), with the table they are in. */
  keys: Array<{ index: number; table: string[]; key: string[] }>;
}

/**
 * Walks the file line by line, tracking multi-line strings and multi-line arrays / inline tables, so that
 * a line inside them that looks like a header (`[x]`) is not taken for one.
 */
function scan(lines: Line[]): Scan {
  const out: Scan = { headers: [], keys: [] };
  let table: string[] = [];
  let multiline: '"""' | "'''" | null = null;
  let depth = 0;
  lines.forEach((line, index) => {
    let i = 0;
    const s = line.text;
    if (multiline === null && depth === 0) {
      const trimmed = s.trim();
      if (trimmed.startsWith('[')) {
        const array = trimmed.startsWith('[[');
        const close = array ? trimmed.indexOf(']]') : trimmed.indexOf(']');
        const path = close > 0 ? parseDottedKey(trimmed.slice(array ? 2 : 1, close)) : undefined;
        const rest = close > 0 ? trimmed.slice(close + (array ? 2 : 1)).trim() : '';
        if (!path || (rest && !rest.startsWith('#'))) throw new TomlEditError(`line ${index + 1} looks like a table header but cannot be read: ${trimmed}`, index + 1);
        out.headers.push({ index, path, array });
        table = path;
        return;
      }
      const eq = findTopLevelEquals(s);
      if (eq > 0) {
        const key = parseDottedKey(s.slice(0, eq));
        if (key) out.keys.push({ index, table, key });
        i = eq + 1;
      }
    }
    // Scan the value part for strings, comments and brackets.
    while (i < s.length) {
      if (multiline) {
        const close = s.indexOf(multiline, i);
        if (close < 0) { i = s.length; break; }
        if (multiline === '"""') {
          // A backslash before the quotes escapes the first of them.
          let backslashes = 0;
          for (let j = close - 1; j >= 0 && s[j] === '\\'; j--) backslashes++;
          if (backslashes % 2 === 1) { i = close + 1; continue; }
        }
        i = close + 3;
        // Up to two more quotes may close the string (""""" is a quote then the end).
        while (s[i] === multiline[0] && i < close + 5) i++;
        multiline = null;
        continue;
      }
      const c = s[i]!;
      if (c === '#') break;
      if (s.startsWith('"""', i) || s.startsWith("'''", i)) { multiline = s.slice(i, i + 3) as '"""' | "'''"; i += 3; continue; }
      if (c === '"') { i = endOfBasicString(s, i + 1); continue; }
      if (c === "'") { const close = s.indexOf("'", i + 1); i = close < 0 ? s.length : close + 1; continue; }
      if (c === '[' || c === '{') depth++;
      else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
      i++;
    }
  });
  if (multiline) throw new TomlEditError('the file ends inside a multi-line string');
  return out;
}

function endOfBasicString(s: string, from: number): number {
  let i = from;
  while (i < s.length) {
    if (s[i] === '\\') { i += 2; continue; }
    if (s[i] === '"') return i + 1;
    i++;
  }
  return s.length;
}

/** Index of the `=` of a `key = value` line, skipping quoted key parts; -1 when the line is not one. */
function findTopLevelEquals(s: string): number {
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '#') return -1;
    if (c === '"') { i = endOfBasicString(s, i + 1); continue; }
    if (c === "'") { const close = s.indexOf("'", i + 1); if (close < 0) return -1; i = close + 1; continue; }
    if (c === '=') return i;
    i++;
  }
  return -1;
}

/**
 * The blocks of `[<root>.<name>]` and its subtables. Each runs from its header to the next header,
 * without the blank and comment lines at its end (those usually introduce what follows). A server
 * defined instead by keys (`name = { ... }` under `[mcp_servers]`, or dotted keys) cannot be edited by
 * lines and is refused with its line number.
 */
export function findBlocks(text: string, path: readonly string[]): Block[] {
  const lines = splitLines(text);
  const { headers, keys } = scan(lines);
  const within = (p: readonly string[]) => p.length >= path.length && path.every((k, i) => p[i] === k);
  for (const k of keys) {
    const full = [...k.table, ...k.key];
    // `mcp_servers = { docs = { ... } }` makes the whole parent an inline table: TOML allows no [mcp_servers.x]
    // header beside it, so a table added after it would make Codex refuse the file.
    if (full.length < path.length && full.every((part, i) => path[i] === part)) {
      const name = full.join('.');
      throw new TomlEditError(
        `${name} is written as an inline value on line ${k.index + 1} (\`${k.key.join('.')} = ...\`), so no [${path.join('.')}] table can be added beside it; ` +
        `rewrite it as [${name}.<name>] tables (one per server), or add ${path.slice(full.length).join('.')} inside it by hand`,
        k.index + 1,
      );
    }
    if (within(full) && !within(k.table)) {
      throw new TomlEditError(`${path.join('.')} is defined with keys on line ${k.index + 1}, not as a [${path.join('.')}] table; edit that line by hand or remove it first`, k.index + 1);
    }
  }
  const blocks: Block[] = [];
  headers.forEach((h, n) => {
    if (!within(h.path)) return;
    if (h.array) throw new TomlEditError(`line ${h.index + 1} makes ${h.path.join('.')} an array of tables; it cannot be edited safely`, h.index + 1);
    const next = headers[n + 1]?.index ?? lines.length;
    let last = next - 1;
    while (last > h.index && /^\s*(#.*)?$/.test(lines[last]!.text)) last--;
    const block = { start: lines[h.index]!.start, end: lines[last]!.end, line: h.index + 1 };
    // A subtable right after the table (only blank or comment lines between) is one block with it.
    const previous = headers[n - 1];
    if (previous && within(previous.path) && blocks.length) blocks[blocks.length - 1]!.end = block.end;
    else blocks.push(block);
  });
  return blocks;
}

export interface TableEdit {
  text: string;
  /** The server's lines before the edit (all its blocks, in order), or null when it had none. */
  before: string | null;
  /** The server's lines after the edit, or null when it was removed. */
  after: string | null;
  /** Blank lines added around a new table to set it apart; removed again with it. */
  around: Around;
}

/** Text (blank lines) an edit put just before and just after the server's table. */
export interface Around {
  before: string;
  after: string;
}

export const NOTHING_AROUND: Around = { before: '', after: '' };

/** The file's line ending, so that new lines match the old ones. */
export function lineEnding(text: string): '\n' | '\r\n' {
  const nl = text.indexOf('\n');
  return nl > 0 && text[nl - 1] === '\r' ? '\r\n' : '\n';
}

/**
 * Puts `table` (whole lines, ending in a newline) in place of the server's existing blocks, or at the end
 * of the file when it has none; `table` null removes them. `around` is what an earlier edit added around
 * the table: replacing or removing the table then removes that too, so the file is byte for byte as before.
 */
export function replaceTable(text: string, path: readonly string[], table: string | null, options: { around?: Around } = {}): TableEdit {
  const blocks = findBlocks(text, path);
  const before = blocks.length ? blocks.map((b) => text.slice(b.start, b.end)).join('') : null;
  if (!blocks.length) {
    if (table === null) return { text, before: null, after: null, around: NOTHING_AROUND };
    const eol = lineEnding(text);
    const separator = text === '' || text.endsWith('\n\n') ? '' : text.endsWith('\n') ? eol : eol + eol;
    return { text: text + separator + table, before: null, after: table, around: { before: separator, after: '' } };
  }
  const around = blocks.length === 1 ? options.around ?? NOTHING_AROUND : NOTHING_AROUND;
  let out = '';
  let at = 0;
  blocks.forEach((b, i) => {
    let start = b.start;
    let end = b.end;
    if (around.before && text.slice(at, start).endsWith(around.before)) start -= around.before.length;
    if (around.after && text.startsWith(around.after, end)) end += around.after.length;
    out += text.slice(at, start);
    if (i === 0 && table !== null) out += table;
    at = end;
  });
  out += text.slice(at);
  return { text: out, before, after: table, around: NOTHING_AROUND };
}

/**
 * What another writer (the Codex CLI) added around `table` when it turned `original` into `changed`:
 * the inserted text is found between the common start and end of the two, and whatever of it is not
 * the table itself is blank lines before or after it. Null when `changed` is not `original` with just
 * the table (and blank lines) inserted.
 */
export function insertedAround(original: string, changed: string, table: string): Around | null {
  let p = 0;
  while (p < original.length && p < changed.length && original[p] === changed[p]) p++;
  // The table is whole lines, so the common start ends at a line start (a shared "[" is not part of it).
  p = original.lastIndexOf('\n', p - 1) + 1;
  let q = 0;
  while (q < original.length - p && q < changed.length - p && original[original.length - 1 - q] === changed[changed.length - 1 - q]) q++;
  while (q > 0 && original.length - q > 0 && original[original.length - q - 1] !== '\n') q--;
  // Only a pure insertion is understood: nothing of the original may lie between the common ends.
  if (original.length - p - q !== 0) return null;
  const inserted = changed.slice(p, changed.length - q);
  const at = inserted.indexOf(table);
  if (at < 0) return null;
  const around = { before: inserted.slice(0, at), after: inserted.slice(at + table.length) };
  return /^\s*$/.test(around.before) && /^\s*$/.test(around.after) ? around : null;
}
