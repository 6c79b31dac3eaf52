// A child process that takes a ledger's lock and keeps it until it is killed: the lock tests stop it
// (SIGSTOP) or leave it running to see what waiting writers are told.
// Usage: storeLockHolder.ts <lock file>
import { FileLock } from '../../src/ledger/store/lock';

const lock = new FileLock(process.argv[2]!);
lock.acquire({ timeoutMs: 10_000 }).then(() => {
  process.stdout.write(`held ${process.pid}\n`);
  setInterval(() => undefined, 60_000);
}, (e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
