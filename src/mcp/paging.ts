// Results that a model receives whole. Codex 0.169 passes a model only about 10-12 KB of a tool result and cuts
// the middle out of a longer one, which breaks the JSON without a word (seen: workflow_view 25.5 KB → 12 KB that
// no longer parses; ready_work 12.5 KB → 47 of 50 rows, one spliced from two). So every list is a page that
// ends before the result passes a byte budget, carries `total` and an opaque `nextCursor`, and long text is
// clipped with a marker that says how long it was and which call shows the rest.
import { Buffer } from 'node:buffer';
import { LedgerError } from '../ledger/index';

/** The most bytes of JSON text a tool result may have (Codex keeps about 10-12 KB; 8 KB leaves a margin). */
export const RESULT_LIMIT = 8 * 1024;

/**
 * The bytes a tool's own answer may use, lists and text included: the rest of RESULT_LIMIT is kept for what
 * the server adds after a write (the promotion decisions it triggered, at most PROMOTION_NOTE_BYTES).
 */
export const PAGE_BUDGET = 7 * 1024;

/** Size in bytes of a value's JSON text, as the client receives it (UTF-8). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

/** Where a list continues: the offset of the next row, and the id of the last row shown (rows may move meanwhile). */
export interface CursorState {
  /** Which query the cursor belongs to (tool and filters), so a cursor is not replayed against another list. */
  q: string;
  /** Offset of the next row in the list as it was when the page was made. */
  o: number;
  /** Key of the last row shown; when it is still in the list, the next page starts right after it. */
  k: string | null;
}

/** Makes the opaque cursor for the page after `lastKey` (base64url of a small JSON object). */
export function encodeCursor(query: string, offset: number, lastKey: string | null): string {
  const state: CursorState = { q: query, o: offset, k: lastKey };
  return Buffer.from(JSON.stringify(state), 'utf8').toString('base64url');
}

/**
 * Reads a cursor made by encodeCursor for the same query. Throws an invalid_input LedgerError naming `field`
 * when the cursor is not one of ours or belongs to another query (another tool, run or filter).
 */
export function decodeCursor(cursor: string, query: string, field = 'cursor'): CursorState {
  let state: unknown;
  try {
    state = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    state = undefined;
  }
  const s = state as Partial<CursorState> | undefined;
  if (!s || typeof s !== 'object' || typeof s.q !== 'string' || typeof s.o !== 'number' || !Number.isSafeInteger(s.o) || s.o < 0
    || (s.k !== null && typeof s.k !== 'string')) {
    throw new LedgerError(`${field}: is not a cursor of this server; pass the nextCursor of the previous answer unchanged, or leave it out for the first page`, 'invalid_input', field);
  }
  if (s.q !== query) {
    throw new LedgerError(`${field}: belongs to another list (other tool, run or filter); call again with the same filters as the answer that gave it, or leave it out`, 'invalid_input', field);
  }
  return { q: s.q, o: s.o, k: s.k ?? null };
}

/** A page of a list: the rows shown, how many there are in all, and the cursor of the next page (null at the end). */
export interface Page<T> {
  rows: T[];
  total: number;
  nextCursor: string | null;
}

export interface PageOptions<T> {
  /** Names the query (tool and filters) for the cursor. */
  query: string;
  /** The cursor the caller passed, if any. */
  cursor: string | undefined;
  /** At most this many rows. */
  limit: number;
  /** The key of a row (its id), to resume right after the last row shown even when earlier rows have left the list. */
  key(row: T): string;
  /**
   * The whole answer with this page in it; the page is cut so that its JSON stays within `budget`.
   * Called with the rows and cursor of a candidate page.
   */
  wrap(page: Page<T>): unknown;
  /** Bytes the wrapped answer may take (default PAGE_BUDGET). */
  budget?: number;
}

/**
 * Cuts one page out of `all` (the whole list, in its order): from the cursor's position, at most `limit` rows,
 * and no more than fit in the budget once wrapped. A single row that does not fit alone is still shown, so a
 * page always moves on (rows are clipped by their makers to fit). Paging through a list that does not change
 * shows every row exactly once; rows that leave the list meanwhile are skipped, not repeated.
 */
export function pageOf<T>(all: readonly T[], o: PageOptions<T>): Page<T> {
  let start = 0;
  if (o.cursor !== undefined) {
    const c = decodeCursor(o.cursor, o.query);
    const at = c.k === null ? -1 : all.findIndex((r) => o.key(r) === c.k);
    start = at >= 0 ? at + 1 : Math.min(c.o, all.length);
  }
  return cut(all, start, 0, all.length, o);
}

/** Options of a page cut from a window of a list: the window's place in the list, and the list's length. */
export interface WindowOptions<T> extends Omit<PageOptions<T>, 'cursor'> {
  /** Offset in the whole list of the window's first row (what the next cursor's offset counts from). */
  offset: number;
  /** How many rows the whole list has. */
  total: number;
}

/**
 * Cuts one page out of `window`: the rows of a list from where the caller's cursor points, read by the caller
 * from an index in the list's order (at most `limit` + 1 rows, the extra one saying whether more follow), so
 * that a page costs the same however long the list is. The page is at most `limit` rows and fits the budget
 * as pageOf's does; its cursor continues after its last row.
 */
export function pageOfWindow<T>(window: readonly T[], o: WindowOptions<T>): Page<T> {
  return cut(window, 0, o.offset, o.total, o);
}

/**
 * The page of `rows` from index `start`: at most `limit` rows, and no more than fit in the budget once wrapped.
 * `base` is the list offset of rows[0], `total` the list's length; a next cursor is given while rows follow.
 */
function cut<T>(rows: readonly T[], start: number, base: number, total: number, o: Omit<PageOptions<T>, 'cursor'>): Page<T> {
  const budget = o.budget ?? PAGE_BUDGET;
  const make = (n: number): Page<T> => {
    const shown = rows.slice(start, start + n);
    const end = start + shown.length;
    const last = shown.length ? o.key(shown[shown.length - 1]!) : null;
    return { rows: shown, total, nextCursor: end < rows.length ? encodeCursor(o.query, base + end, last) : null };
  };
  // Grows the page row by row while it fits; the cursor is part of what must fit.
  let n = Math.max(0, Math.min(o.limit, rows.length - start));
  const fits = (k: number) => jsonBytes(o.wrap(make(k))) <= budget;
  if (n > 0 && !fits(n)) {
    let lo = 1;
    let hi = n;
    // Binary search for the largest k that fits: the size grows with k, so this is log2(limit) wraps.
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid - 1;
    }
    n = lo;
  }
  return make(Math.max(0, n));
}

/**
 * Clips `text` to at most `max` characters (from character `from`), ending it with a marker that says how long
 * the text is and which call shows the rest, e.g. `…(clipped at 2000 of 12345 chars; worker_peek {"nodeId":"r-1.a","instructionsFrom":2000} shows more)`.
 * `more(next)` gives that call for the character to continue from. Text that fits is returned as is.
 */
export function clip(text: string, max: number, more: (next: number) => string, from = 0): string {
  const rest = from > 0 ? text.slice(from) : text;
  if (rest.length <= max) return rest;
  // A marker never splits a surrogate pair: the cut moves back one code unit when it would.
  let cut = max;
  const code = rest.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  const next = from + cut;
  return `${rest.slice(0, cut)}…(clipped at ${next} of ${text.length} chars; ${more(next)} shows more)`;
}
