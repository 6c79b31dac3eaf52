import * as fs from 'node:fs';

/**
 * The file operations through which the store changes files on disk: the one seam where tests inject
 * faults (a short write, a full disk, a failing fsync or rename) into a real store on a real disk.
 *
 * Reads are not part of the seam: a failing read changes nothing on disk, so it cannot make a commit
 * half-done. Every method has the meaning and errors of the `node:fs` function of the same name.
 */
export interface FsOps {
  open(path: string, flags: string, mode?: number): number;
  /** Writes up to `length` bytes of `buffer` from `offset`; returns how many it wrote, which may be fewer. */
  write(fd: number, buffer: Uint8Array, offset: number, length: number, position?: number): number;
  fsync(fd: number): void;
  fdatasync(fd: number): void;
  ftruncate(fd: number, length: number): void;
  close(fd: number): void;
  rename(from: string, to: string): void;
  /** Makes `newPath` a second name of the file `existing`; fails with EEXIST when `newPath` exists (the lock relies on it). */
  link(existing: string, newPath: string): void;
  unlink(path: string): void;
}

/** The real file system. */
export const nodeFsOps: FsOps = {
  open: (p, flags, mode) => fs.openSync(p, flags, mode),
  write: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position ?? null),
  fsync: (fd) => fs.fsyncSync(fd),
  fdatasync: (fd) => fs.fdatasyncSync(fd),
  ftruncate: (fd, length) => fs.ftruncateSync(fd, length),
  close: (fd) => fs.closeSync(fd),
  rename: (from, to) => fs.renameSync(from, to),
  link: (existing, newPath) => fs.linkSync(existing, newPath),
  unlink: (p) => fs.unlinkSync(p),
};

/**
 * Writes all of `data` at the file's current position (or from `position`), looping while the
 * kernel accepts fewer bytes than asked: a short write is legal (a full disk, a signal) and is only
 * an error when the next write fails, which then throws here.
 */
export function writeFully(ops: FsOps, fd: number, data: Uint8Array, position?: number): void {
  let done = 0;
  while (done < data.length) {
    const n = ops.write(fd, data, done, data.length - done, position === undefined ? undefined : position + done);
    if (!Number.isInteger(n) || n <= 0) {
      // A write that accepts nothing and reports no error would loop forever: treat it as a full disk.
      throw Object.assign(new Error(`write accepted ${n} of ${data.length - done} bytes`), { code: 'ENOSPC' });
    }
    done += n;
  }
}

/**
 * Reads into `buf` from `position` until it is full or the file ends, looping over short reads (reads go
 * through node:fs directly: faults are injected into writes, syncs and renames only). Returns the bytes read.
 */
export function readFully(fd: number, buf: Uint8Array, position: number): number {
  let got = 0;
  while (got < buf.length) {
    const n = fs.readSync(fd, buf, got, buf.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Ways one file operation can fail, as the kernel reports them. */
export type Fault =
  /** The write stores only the first half of its bytes and says so; nothing else goes wrong. */
  | 'short-write'
  /** The write stores half of its bytes, and from then on every write fails with ENOSPC. */
  | 'disk-full'
  /** fsync or fdatasync fails with EIO. */
  | 'fsync-error'
  /** rename fails with EIO. */
  | 'rename-error';

/** Which operations a fault can hit: writes for the write faults, syncs and renames for theirs. */
function hits(fault: Fault, op: keyof FsOps): boolean {
  switch (fault) {
    case 'short-write':
    case 'disk-full':
      return op === 'write';
    case 'fsync-error':
      return op === 'fsync' || op === 'fdatasync';
    case 'rename-error':
      return op === 'rename';
  }
}

function errno(code: string, op: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected fault, ${op}`), { code });
}

/**
 * Wraps `base` so that the `nth` operation that `fault` can hit (1 for the first) fails that way;
 * every other operation goes to `base` unchanged. `fired()` says whether the fault has happened, so a
 * test can raise `nth` until a command completes without meeting it; `spaceReturned()` ends a full disk.
 */
export function withFault(base: FsOps, fault: Fault, nth: number): FsOps & { fired(): boolean; spaceReturned(): void } {
  let seen = 0;
  let fired = false;
  let diskFull = false;
  const due = (op: keyof FsOps): boolean => {
    if (fired || !hits(fault, op)) return false;
    seen++;
    if (seen !== nth) return false;
    fired = true;
    return true;
  };
  return {
    fired: () => fired,
    spaceReturned: () => {
      diskFull = false;
    },
    open: (p, flags, mode) => base.open(p, flags, mode),
    write: (fd, buffer, offset, length, position) => {
      if (diskFull) throw errno('ENOSPC', 'write');
      if (!due('write')) return base.write(fd, buffer, offset, length, position);
      const half = Math.max(0, Math.floor(length / 2));
      const n = half > 0 ? base.write(fd, buffer, offset, half, position) : 0;
      if (fault === 'disk-full') {
        diskFull = true;
        if (n === 0) throw errno('ENOSPC', 'write');
      }
      // A real short write never reports zero bytes; a one-byte write fails the whole way instead.
      if (n === 0) throw errno('ENOSPC', 'write');
      return n;
    },
    fsync: (fd) => {
      if (due('fsync')) throw errno('EIO', 'fsync');
      base.fsync(fd);
    },
    fdatasync: (fd) => {
      if (due('fdatasync')) throw errno('EIO', 'fdatasync');
      base.fdatasync(fd);
    },
    ftruncate: (fd, length) => base.ftruncate(fd, length),
    close: (fd) => base.close(fd),
    rename: (from, to) => {
      if (due('rename')) throw errno('EIO', 'rename');
      base.rename(from, to);
    },
    link: (existing, newPath) => base.link(existing, newPath),
    unlink: (p) => base.unlink(p),
  };
}

/** The error every operation throws once a simulated crash has happened. */
export class SimulatedCrash extends Error {
  constructor() {
    super('simulated crash: this process is treated as killed, nothing more reaches the disk');
    this.name = 'SimulatedCrash';
  }
}

/**
 * Wraps `base` so that the process "is killed" at its `nth` changing operation (1 for the first):
 * that operation half happens (a write stores half its bytes, a rename or sync does not happen), and
 * every operation after it throws SimulatedCrash, so none of the clean-up a live process would do
 * reaches the disk. The files are then as a SIGKILL at that moment leaves them (the page cache
 * survives a killed process, so what was written stays). For model-based tests that crash in-process.
 */
export function crashAt(base: FsOps, nth: number): FsOps & { crashed(): boolean } {
  let seen = 0;
  let crashed = false;
  const step = (): boolean => {
    if (crashed) throw new SimulatedCrash();
    seen++;
    if (seen < nth) return false;
    crashed = true;
    return true;
  };
  return {
    crashed: () => crashed,
    open: (p, flags, mode) => {
      if (crashed) throw new SimulatedCrash();
      return base.open(p, flags, mode);
    },
    write: (fd, buffer, offset, length, position) => {
      if (!step()) return base.write(fd, buffer, offset, length, position);
      const half = Math.floor(length / 2);
      if (half > 0) base.write(fd, buffer, offset, half, position);
      throw new SimulatedCrash();
    },
    fsync: (fd) => {
      if (step()) throw new SimulatedCrash();
      base.fsync(fd);
    },
    fdatasync: (fd) => {
      if (step()) throw new SimulatedCrash();
      base.fdatasync(fd);
    },
    ftruncate: (fd, length) => {
      if (step()) throw new SimulatedCrash();
      base.ftruncate(fd, length);
    },
    close: (fd) => base.close(fd),
    rename: (from, to) => {
      if (step()) throw new SimulatedCrash();
      base.rename(from, to);
    },
    link: (existing, newPath) => {
      if (step()) throw new SimulatedCrash();
      base.link(existing, newPath);
    },
    unlink: (p) => {
      if (step()) throw new SimulatedCrash();
      base.unlink(p);
    },
  };
}
