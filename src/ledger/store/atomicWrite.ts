import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { LedgerError } from '../errors';
import type { FsOps } from './fsOps';
import { nodeFsOps, writeFully } from './fsOps';

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Permission bits of the new file (before the umask); default 0o666, as `fs.writeFileSync`. */
  mode?: number;
  /** The file operations to use; tests pass a faulty one. */
  ops?: FsOps;
}

/** The kernel's words for the errors a person can act on, so that a message says more than a code. */
const ERRNO_WORDS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'input/output error',
  ENAMETOOLONG: 'file name too long',
  ENOENT: 'no such file or folder',
  EMFILE: 'too many open files',
};

/** "ENOSPC (no space left on the device)", or the error's own message when it carries no code. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return ERRNO_WORDS[code] ? `${code} (${ERRNO_WORDS[code]})` : code;
  return err instanceof Error ? err.message : String(err);
}

/** Bytes written between flushes of a large temporary file (see prepareFileAtomic). */
const FLUSH_EVERY = 1 << 20;

/**
 * Replaces `file` with `data` so that a reader, or the file after a crash at any moment, holds
 * either the old content or the new, never a mix: the data goes to a temporary file in the same
 * folder, is written completely (short writes are continued) and fsynced, then renamed over `file`,
 * and the folder is fsynced so that the rename itself survives a power cut.
 *
 * On any failure the temporary file is removed (a full disk must not stay full of our leftovers) and
 * a LedgerError with code `io` names the file, the step that failed and the kernel's reason. When
 * only the final folder fsync fails, the new content is in place but may not survive a power cut, and
 * the message says so.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const tmp = prepareFileAtomic(file, data, options);
  renameIntoPlace(tmp, file, options);
}

/**
 * The first half of {@link writeFileAtomic}: writes `data` completely to a new temporary file beside
 * `file` and fsyncs it, without touching `file`. Returns the temporary file's path, which the caller
 * passes to {@link renameIntoPlace} or removes with {@link discardTemporary}. Throws like
 * writeFileAtomic (code `io`, the temporary file removed). The split lets a checkpoint write its
 * snapshot without the ledger lock and take the lock only for the rename.
 */
export function prepareFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): string {
  const ops = options.ops ?? nodeFsOps;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let step = 'create the temporary file';
  let fd: number | undefined;
  try {
    fd = ops.open(tmp, 'wx', options.mode ?? 0o666);
    step = 'write the temporary file';
    // A large file is written and flushed a mebibyte at a time: flushed at the end in one go, the
    // file system's journal commit would carry all of it, and every other writer's fdatasync (the
    // ledger's commits) would wait behind it (issue 11: commits stalled while a checkpoint wrote).
    // PostgreSQL's checkpoint_flush_after does the same for the same reason.
    for (let at = 0; at < bytes.length || at === 0; at += FLUSH_EVERY) {
      writeFully(ops, fd, bytes.subarray(at, Math.min(at + FLUSH_EVERY, bytes.length)));
      if (bytes.length > FLUSH_EVERY) ops.fdatasync(fd);
      if (bytes.length === 0) break;
    }
    step = 'fsync the temporary file';
    ops.fsync(fd);
    step = 'close the temporary file';
    const closing = fd;
    fd = undefined;
    ops.close(closing);
  } catch (err) {
    if (fd !== undefined) {
      try {
        ops.close(fd);
      } catch {
        // The descriptor is released when the process ends; the error below is the one that matters.
      }
    }
    let left = '';
    try {
      ops.unlink(tmp);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left = ` The temporary file ${tmp} could not be removed (${describeFsError(e)}); delete it.`;
    }
    throw new LedgerError(`could not write ${file}: ${step} failed: ${describeFsError(err)}. The file is unchanged.${left}`, 'io');
  }
  return tmp;
}

/** Removes a temporary file made by {@link prepareFileAtomic}; never throws (what is left is named `*.tmp-PID-*`). */
export function discardTemporary(tmp: string, ops: FsOps = nodeFsOps): void {
  try {
    ops.unlink(tmp);
  } catch {
    // A leftover is removed by the next checkpoint once its process is gone (see the store).
  }
}

/**
 * The second half of {@link writeFileAtomic}: renames the fsynced temporary file `tmp` over `file` and
 * fsyncs the folder. On a failed rename the temporary file is removed and `file` is unchanged; the
 * LedgerError (`io`) says which step failed.
 */
export function renameIntoPlace(tmp: string, file: string, options: AtomicWriteOptions = {}): void {
  const ops = options.ops ?? nodeFsOps;
  const dir = path.dirname(file);
  try {
    ops.rename(tmp, file);
  } catch (err) {
    let left = '';
    try {
      ops.unlink(tmp);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left = ` The temporary file ${tmp} could not be removed (${describeFsError(e)}); delete it.`;
    }
    throw new LedgerError(`could not write ${file}: rename the temporary file over it failed: ${describeFsError(err)}. The file is unchanged.${left}`, 'io');
  }
  try {
    fsyncDir(dir, ops);
  } catch (err) {
    throw new LedgerError(
      `wrote ${file}, but the fsync of its folder ${dir} failed: ${describeFsError(err)}; the new content may not survive a power cut`,
      'io',
    );
  }
}

/**
 * Makes the folder's entries (a rename, a new file) durable. Windows cannot open a folder as a file
 * (NTFS journals the rename itself), so there, and wherever opening a folder is refused, this does
 * nothing; an fsync that fails on an opened folder is still an error.
 */
export function fsyncDir(dir: string, ops: FsOps = nodeFsOps): void {
  if (process.platform === 'win32') return;
  let fd: number;
  try {
    fd = ops.open(dir, 'r');
  } catch (e) {
    if (['EISDIR', 'EPERM', 'EACCES', 'EINVAL', 'ENOTSUP'].includes(String((e as NodeJS.ErrnoException).code))) return;
    throw e;
  }
  try {
    ops.fsync(fd);
  } finally {
    ops.close(fd);
  }
}
