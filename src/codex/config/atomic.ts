// A stand-in for the ledger store's one atomic-write helper (src/ledger/store/atomicWrite.ts, being written on
// another branch), with the same signature, so that switching to it is a one-line import change in ./registration.ts
// and ./serverInstall.ts, after which this file is deleted.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Replaces `file` with `data` whole or not at all: a temporary file beside it, written and fsynced, renamed over
 * it, then the folder fsynced. The temporary file is removed on failure; the error is the file system's.
 * `mode`: permission bits of the new file (before the umask), default 0o666.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: { mode?: number } = {}): void {
  const dir = path.dirname(file);
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const fd = fs.openSync(tmp, 'wx', options.mode ?? 0o666);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}
