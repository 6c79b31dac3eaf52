// smol-toml reports positions only for syntax errors, so the lines of keys and tables are found by
// scanning the source. The scan understands table headers, array-of-tables headers, dotted keys and
// multi-line strings, which is all a formula file uses.

/** Key parts beyond this depth are not located (a formula's deepest field has four). */
const MAX_KEY_PARTS = 16;

export interface Position {
  line: number;
  column: number;
}

function unquote(part: string): string {
  const trimmed = part.trim();
  if ((trimmed.startsWith('"') && trimmed.endsWith('"')) || (trimmed.startsWith("'") && trimmed.endsWith("'"))) {
    return trimmed.slice(1, -1);
  }
  return trimmed;
}

function splitKey(key: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (const ch of key) {
    if (quote) {
      current += ch;
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      current += ch;
      quote = ch;
    } else if (ch === '.') {
      parts.push(unquote(current));
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(unquote(current));
  return parts;
}

/** Maps field paths such as `steps[2].retry.max` or `vars.mode.default` to where they are written. */
export class SourceLocator {
  private readonly positions = new Map<string, Position>();

  constructor(source: string) {
    const arrayCounts = new Map<string, number>();
    let table: string[] = [];
    let open: '"""' | "'''" | null = null;
    source.split(/\r?\n/).forEach((text, i) => {
      const line = i + 1;
      if (open) {
        if (text.split(open).length % 2 === 0) open = null;
        return;
      }
      // Greedy classes followed by a fixed delimiter: no pattern here can backtrack more than linearly
      // (a lazy `+?` before `\s*` did, on a line of many spaces inside a multi-line list).
      const arrayHeader = /^\s*\[\[([^\]]*)\]\]/.exec(text);
      const header = arrayHeader ? null : /^\s*\[([^\]]*)\]/.exec(text);
      if (arrayHeader || header) {
        // Deeper keys than any formula uses are cut: their positions are never asked for, and each
        // level costs a join of all the levels above it.
        const parts = splitKey((((arrayHeader ?? header) as RegExpExecArray)[1] as string).trim()).slice(0, MAX_KEY_PARTS);
        table = this.resolveTable(parts, arrayCounts, arrayHeader !== null);
        this.remember(table.join('.'), line, text.search(/\S/) + 1);
        return;
      }
      const keyMatch = /^(\s*)((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=/.exec(text);
      if (!keyMatch) return;
      const path = [...table, ...splitKey(keyMatch[2] as string).slice(0, MAX_KEY_PARTS)].join('.');
      this.remember(path, line, (keyMatch[1] as string).length + 1);
      // A multi-line string opened on this line hides the lines after it until it closes.
      const value = text.slice(keyMatch[0].length);
      for (const delimiter of ['"""', "'''"] as const) {
        if (value.includes(delimiter) && value.split(delimiter).length % 2 === 0) {
          open = delimiter;
          break;
        }
      }
    });
  }

  private resolveTable(parts: string[], arrayCounts: Map<string, number>, isArray: boolean): string[] {
    // `[steps.retry]` belongs to the latest `[[steps]]`, so array names gain their current index.
    const resolved: string[] = [];
    parts.forEach((part, i) => {
      const prefix = [...resolved, part].join('.');
      const isLast = i === parts.length - 1;
      if (isLast && isArray) {
        const count = arrayCounts.get(prefix) ?? 0;
        arrayCounts.set(prefix, count + 1);
        resolved.push(`${part}[${count}]`);
      } else if (arrayCounts.has(prefix)) {
        resolved.push(`${part}[${(arrayCounts.get(prefix) as number) - 1}]`);
      } else {
        resolved.push(part);
      }
    });
    return resolved;
  }

  private remember(path: string, line: number, column: number): void {
    if (!this.positions.has(path)) this.positions.set(path, { line, column });
  }

  /** The position of a field, or of the nearest enclosing key or table that is written in the file. */
  find(field: string): Position {
    let path = field;
    for (;;) {
      const found = this.positions.get(path);
      if (found) return found;
      const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
      if (cut <= 0) break;
      const parent = path.slice(0, cut);
      // `steps[2]` has no entry when steps are written inline; fall back to `steps`.
      path = parent;
    }
    return this.positions.get(field.split(/[.[]/)[0] as string) ?? { line: 1, column: 1 };
  }
}
