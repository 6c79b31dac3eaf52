import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError } from '../errors';
import { writeFileAtomic } from './atomicWrite';
import type { FsOps } from './fsOps';
import { nodeFsOps } from './fsOps';
import type { CommitLine, StoredEvent } from './journal';
import { decodeLine, encodeLine } from './journal';

/**
 * The event log's closed segments (issue 11: a bounded hot set). Every checkpoint moves the events it
 * folds into the snapshot out of the tables and into `log/events-<from>-<to>.ndjson` beside it: the
 * journal's own lines for seq `from`..`to` (one checksummed commit per line, no header), written and
 * fsynced before the snapshot that no longer holds them is renamed into place. So the snapshot and the
 * memory of every process hold the projection and only the events since the last checkpoint, while
 * the whole history stays on disk, read a segment at a time by `gascity verify`, `gascity events` and
 * exports. Segments never change once written; two checkpoints racing may write overlapping ones, and
 * readers skip what they have already yielded.
 */
export const LOG_DIR = 'log';

/** A closed segment: the seq range its name says it covers, and its path. */
export interface Segment {
  from: number;
  to: number;
  file: string;
}

const SEGMENT_RE = /^events-(\d{12})-(\d{12})\.ndjson$/;

/** The file name of the segment holding seq `from`..`to` (12 digits each, so names sort by seq). */
export function segmentName(from: number, to: number): string {
  return `events-${String(from).padStart(12, '0')}-${String(to).padStart(12, '0')}.ndjson`;
}

/** The ledger folder's segments, ordered by first seq (then last); none when there is no log folder. */
export function listSegments(dir: string): Segment[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(dir, LOG_DIR));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LedgerError(`cannot list the event log ${path.join(dir, LOG_DIR)}: ${(e as Error).message}`, 'io');
  }
  const out: Segment[] = [];
  for (const name of names) {
    const m = SEGMENT_RE.exec(name);
    if (m) out.push({ from: Number(m[1]), to: Number(m[2]), file: path.join(dir, LOG_DIR, name) });
  }
  return out.sort((a, b) => a.from - b.from || a.to - b.to);
}

/**
 * Writes the segment for seq `from`..`to` from `lines` (complete journal commit lines, each ending in a
 * newline) atomically and durably. Writing a segment that exists already replaces it with the same
 * events. Throws a LedgerError (`io`) naming the file when the disk refuses.
 */
export function writeSegment(dir: string, from: number, to: number, lines: Uint8Array, ops: FsOps = nodeFsOps): string {
  const folder = path.join(dir, LOG_DIR);
  try {
    fs.mkdirSync(folder, { recursive: true });
  } catch (e) {
    throw new LedgerError(`cannot create the event log folder ${folder}: ${(e as Error).message}`, 'io');
  }
  const file = path.join(folder, segmentName(from, to));
  writeFileAtomic(file, lines, { ops });
  return file;
}

/** Encodes events as commit lines, `perLine` events a line (a legacy events table has no commit grouping). */
export function encodeEvents(events: readonly StoredEvent[], perLine = 1): string {
  let text = '';
  for (let i = 0; i < events.length; i += perLine) text += encodeLine({ events: events.slice(i, i + perLine) });
  return text;
}

/** Reads one segment's events in order; throws a LedgerError (`corrupt`) naming the file and byte of a damaged line. */
export function readSegment(seg: Segment): StoredEvent[] {
  let text: string;
  try {
    text = fs.readFileSync(seg.file, 'utf8');
  } catch (e) {
    throw new LedgerError(`cannot read event log segment ${seg.file}: ${(e as Error).message}`, 'io');
  }
  const out: StoredEvent[] = [];
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) throw new LedgerError(`event log segment ${seg.file} ends in an unfinished line`, 'corrupt');
    const body = decodeLine(text.slice(pos, nl)) as Partial<CommitLine> | undefined;
    if (!body || !Array.isArray(body.events)) {
      throw new LedgerError(`event log segment ${seg.file} is damaged at character ${pos}: restore the log folder from a backup`, 'corrupt');
    }
    out.push(...body.events);
    pos = nl + 1;
  }
  return out;
}

/**
 * Yields the logged events with seq in (`after`, `through`], in order, a segment at a time, so that
 * memory holds one segment (at most a checkpoint's worth of commits) however long the history is.
 * Throws a LedgerError (`corrupt`) when the segments leave a gap: the log folder lost a file.
 */
export function* readLog(dir: string, after: number, through: number): Generator<StoredEvent> {
  let next = after + 1;
  for (const seg of listSegments(dir)) {
    if (next > through) return;
    if (seg.to < next) continue;
    if (seg.from > next) {
      throw new LedgerError(
        `the event log in ${path.join(dir, LOG_DIR)} has no segment for events ${next}-${Math.min(seg.from - 1, through)}: restore the log folder from a backup`,
        'corrupt',
      );
    }
    for (const e of readSegment(seg)) {
      if (e.seq < next) continue;
      if (e.seq > through) return;
      if (e.seq !== next) throw new LedgerError(`event log segment ${seg.file} skips from seq ${next - 1} to ${e.seq}`, 'corrupt');
      next++;
      yield e;
    }
  }
  if (next <= through) {
    throw new LedgerError(
      `the event log in ${path.join(dir, LOG_DIR)} ends at seq ${next - 1}, but the snapshot holds events through ${through}: restore the log folder from a backup`,
      'corrupt',
    );
  }
}
