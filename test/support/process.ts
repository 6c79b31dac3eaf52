// Process checks the tests share.
import { procStat } from '../../src/ledger/store/lock';

/** Running, and not a zombie (killed, waiting for a parent to reap it); on Linux from /proc/PID/stat. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}
