import * as fs from 'node:fs';
import { crc32 } from 'node:zlib';
import { LedgerError } from '../errors';
import { describeFsError, writeFileAtomic } from './atomicWrite';
import type { FsOps } from './fsOps';
import { nodeFsOps, readFully, writeFully } from './fsOps';

/**
 * The append-only journal: one line per commit, `<crc32 hex> <json>\n`.
 *
 * The first line is a header naming the journal (a random id) and the snapshot sequence number it
 * continues from. A checkpoint replaces the whole file with a new header, so a reader that sees a new
 * id knows that events it has not read may have moved into the snapshot.
 *
 * A commit is acknowledged only after its whole line is written and fsynced, so a line without its
 * newline can only be a write in progress or a writer killed mid-write: readers stop before it, and the
 * next lock holder cuts it off. A complete line whose checksum does not match is damage, not a torn
 * write, and is reported rather than skipped.
 */
export interface StoredEvent {
  seq: number;
  ts: string;
  actor: string;
  kind: string;
  payload: unknown;
}

export interface JournalHeader {
  journal: string;
  base: number;
  format: 1;
}

export interface CommitLine {
  events: StoredEvent[];
}

export function encodeLine(body: unknown): string {
  const json = JSON.stringify(body);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/**
 * The journal line of one commit, `encodeLine({ events })`, from events whose payloads are already
 * JSON text (`payloads[i]` is `JSON.stringify(events[i].payload)`): a commit stringifies each payload
 * once, for the events table, and this reuses that text instead of stringifying it again inside the
 * line. Every event must have exactly the keys seq, ts, actor, kind, payload, in that order, as the
 * store builds them; the result is then byte for byte what `encodeLine` gives.
 */
export function encodeCommitLine(events: readonly StoredEvent[], payloads: readonly string[]): string {
  let json = '{"events":[';
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (i > 0) json += ',';
    json += `{"seq":${JSON.stringify(e.seq)},"ts":${JSON.stringify(e.ts)},"actor":${JSON.stringify(e.actor)},"kind":${JSON.stringify(e.kind)},"payload":${payloads[i]!}}`;
  }
  json += ']}';
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** Parses one complete line (without its newline); undefined when the checksum or JSON is wrong. */
export function decodeLine(line: string): unknown {
  const space = line.indexOf(' ');
  if (space !== 8) return undefined;
  const json = line.slice(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) return undefined;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

export interface ReadResult {
  header: JournalHeader | undefined;
  commits: CommitLine[];
  /** Byte offset just after the last complete, valid line. */
  end: number;
  /** Bytes after `end` that do not yet form a complete line (a write in progress, or a torn one). */
  pendingBytes: number;
  /** Where the last complete line read starts; undefined when none was read. */
  lastLineStart?: number;
  /** Where the header line ends, when it was read (a read from offset 0). */
  headerEnd?: number;
}

/**
 * Reads complete lines from `offset` on (up to `knownSize` bytes into the file when given, else its
 * current length). At offset 0 the first line must be the header.
 * Throws a corrupt error naming the file and line when a complete line fails its checksum.
 */
export function readJournal(fd: number, path: string, offset: number, knownSize?: number): ReadResult {
  // A caller that has just stat'ed the file passes its size; lines appended after that are read next time.
  const size = knownSize ?? fs.fstatSync(fd).size;
  if (size <= offset) return { header: undefined, commits: [], end: offset, pendingBytes: Math.max(0, size - offset) };
  const buf = Buffer.allocUnsafe(size - offset);
  const got = readFully(fd, buf, offset);
  let header: JournalHeader | undefined;
  const commits: CommitLine[] = [];
  let pos = 0;
  let lineNo = 0;
  let lastLineStart: number | undefined;
  let headerEnd: number | undefined;
  for (;;) {
    const nl = buf.indexOf(10, pos);
    if (nl < 0 || nl >= got) break;
    const text = buf.toString('utf8', pos, nl);
    const body = decodeLine(text) as Partial<JournalHeader & CommitLine> | undefined;
    const atStart = offset === 0 && lineNo === 0;
    if (body === undefined) {
      throw new LedgerError(
        `journal ${path} is damaged at byte ${offset + pos}: a complete line fails its checksum. ` +
          'Move the file aside to open the ledger from its last snapshot, or restore it from a backup.',
        'corrupt',
      );
    }
    if (atStart) {
      if (typeof body.journal !== 'string' || typeof body.base !== 'number') {
        throw new LedgerError(`journal ${path} does not start with a header line`, 'corrupt');
      }
      header = { journal: body.journal, base: body.base, format: 1 };
      headerEnd = nl + 1;
    } else {
      if (!Array.isArray(body.events)) throw new LedgerError(`journal ${path}: line at byte ${offset + pos} is not a commit`, 'corrupt');
      commits.push({ events: body.events });
    }
    lineNo++;
    lastLineStart = offset + pos;
    pos = nl + 1;
  }
  return { header, commits, end: offset + pos, pendingBytes: got - pos, lastLineStart, headerEnd };
}

/** Writes a fresh journal holding only its header, atomically replacing any previous one. */
export function writeFreshJournal(path: string, header: JournalHeader, ops: FsOps = nodeFsOps): void {
  writeFileAtomic(path, encodeLine(header), { ops });
}

/**
 * Appends one encoded commit line (or several; text or its UTF-8 bytes) to the journal open as `fd`
 * (opened for appending), whose length the caller knows to be `end`: every byte is written (short
 * writes are continued) and then synced.
 * Returns the new length. The line is acknowledged only when this returns.
 *
 * When a write or the sync fails, the file is cut back to `end` and synced, so that no reader ever
 * applies a line whose writer reported a failure, and the journal stays appendable. The LedgerError
 * (code `io`) names the file, the step that failed and the kernel's reason, and says that nothing was
 * recorded; in the rare case that even cutting back fails it says that the commit may have been
 * recorded instead, since a client that retries on "nothing recorded" would otherwise record twice.
 */
export function appendLine(ops: FsOps, fd: number, path: string, line: string | Buffer, end: number): number {
  const bytes = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
  let step = 'write';
  try {
    writeFully(ops, fd, bytes);
    step = 'fdatasync';
    ops.fdatasync(fd);
    return end + bytes.length;
  } catch (err) {
    const reason = describeFsError(err);
    try {
      ops.ftruncate(fd, end);
      ops.fsync(fd);
    } catch (cut) {
      throw new LedgerError(
        `could not record the commit in ${path}: the ${step} failed: ${reason}; cutting the journal back to ${end} bytes ` +
          `failed too: ${describeFsError(cut)}. The commit may or may not be recorded: look for it before trying again.`,
        'io',
      );
    }
    throw new LedgerError(
      `could not record the commit in ${path}: the ${step} failed: ${reason}. Nothing was recorded; ` +
        'the journal is as it was before, and the command can be tried again once the cause is fixed.',
      'io',
    );
  }
}

/** A complete commit line of a journal, as `scanCommitLines` yields it. */
export interface ScannedLine {
  /** Byte offset of the line's first byte in the file. */
  start: number;
  events: StoredEvent[];
}

/**
 * Yields the complete commit lines between byte offsets `from` (a line start) and `to` (a line end, as
 * read under the store's rules) of the journal open as `fd`, reading `chunkBytes` at a time so that
 * memory holds one chunk and the line crossing it, not the journal. Stops at the first line without
 * its newline. Throws a LedgerError (`corrupt`) naming the file and byte when a line fails its
 * checksum or is not a commit: the store read these bytes before, so they changed under it.
 */
export function* scanCommitLines(fd: number, path: string, from: number, to: number, chunkBytes = 1 << 20): Generator<ScannedLine> {
  let carry = Buffer.alloc(0);
  let carryStart = from;
  for (let pos = from; pos < to;) {
    // A line longer than a chunk makes the next read as long as what is carried, so that a line of
    // many chunks is copied a few times, not once per chunk.
    const want = Math.min(Math.max(chunkBytes, carry.length), to - pos);
    const chunk = Buffer.allocUnsafe(want);
    const got = readFully(fd, chunk, pos);
    if (got === 0) return;
    pos += got;
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, got)]) : chunk.subarray(0, got);
    let at = 0;
    // What is carried holds no newline: the search starts after it.
    for (let nl = buf.indexOf(10, carry.length); nl >= 0; nl = buf.indexOf(10, at)) {
      const body = decodeLine(buf.toString('utf8', at, nl)) as Partial<CommitLine> | undefined;
      if (body === undefined || !Array.isArray(body.events)) {
        throw new LedgerError(`journal ${path} changed at byte ${carryStart + at}: the line there is not the commit read before`, 'corrupt');
      }
      yield { start: carryStart + at, events: body.events };
      at = nl + 1;
    }
    carry = Buffer.from(buf.subarray(at));
    carryStart += at;
  }
}
