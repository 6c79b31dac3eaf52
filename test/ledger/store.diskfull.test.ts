import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { LedgerError, openLedger } from '../../src/ledger/index';
import { bundle } from './storeBundle';
import { leftovers, tempDir } from './helpers';

// A ledger on a real, nearly full tmpfs (the repro): every command either records and says
// so, or records nothing and says that, in one line; the ledger always opens again and takes commits
// once space returns. Mounting needs root, which CI has; elsewhere the test is skipped with the reason.

const ROOT = path.join(__dirname, '..', '..');
const PAGE = 4096;

/** Mounts a 1 MiB tmpfs for the test and unmounts it afterwards; undefined (test skipped) when not root. */
function smallDisk(t: TestContext): string | undefined {
  if (process.getuid?.() !== 0) {
    const reason = 'not running as root, so no tmpfs can be mounted (CI runs as root)';
    process.stdout.write(`# skipped: ${reason}\n`);
    t.skip(reason);
    return undefined;
  }
  const mnt = tempDir('gascity-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mount -t tmpfs failed: ${r.stderr}`);
  t.after(() => {
    spawnSync('umount', ['-l', mnt]);
  });
  return mnt;
}

/** Fills the disk with one file until only `pages` pages are free; returns the file, to free the space later. */
function fillLeaving(mnt: string, pages: number): string {
  const filler = path.join(mnt, 'filler');
  const st = fs.statfsSync(mnt);
  const free = st.bavail * st.bsize;
  fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free - pages * PAGE)));
  return filler;
}

test('`gascity start` on a disk that fills up: each run is either recorded and reported, or not recorded and reported as such', async (t) => {
  const mnt = smallDisk(t);
  if (!mnt) return;
  const cli = await bundle('src/cli/main.ts');
  const workspace = tempDir('gascity-ws-');
  fs.cpSync(path.join(ROOT, 'formulas'), path.join(workspace, 'formulas'), { recursive: true });
  const ledgerDir = path.join(mnt, 'ledger');
  const gascity = (...args: string[]) => spawnSync(process.execPath, [cli, '--ledger', ledgerDir, '--workspace', workspace, ...args], { encoding: 'utf8' });
  assert.equal(gascity('import').status, 0);
  // One run adds about 2.9 KB to the journal, and the lock file takes a page while it is held.
  const filler = fillLeaving(mnt, 5);

  const started: string[] = [];
  const refused: string[] = [];
  for (let i = 0; i < 20; i++) {
    const r = gascity('start', 'implement-and-review', `task=run ${i}`);
    const runId = /^started (r-\S+)/m.exec(r.stdout)?.[1];
    if (r.status === 0) {
      assert.ok(runId, `run ${i}: exit 0 without "started": ${r.stdout}`);
      started.push(runId);
      continue;
    }
    assert.equal(runId, undefined, `run ${i} failed but printed "started": ${r.stdout}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `run ${i}: the error is not one line:\n${r.stderr}`);
    assert.match(lines[0]!, /^gascity: could not (record the commit in|write the ledger lock) .*ledger.*ENOSPC \(no space left on the device\).*[Nn]othing was recorded/);
    refused.push(lines[0]!);
  }
  t.diagnostic(`${started.length} runs started, ${refused.length} refused; first refusal: ${refused[0]}`);
  assert.ok(started.length > 0 && refused.length > 0, `the disk must fill up during the test (${started.length} started, ${refused.length} refused)`);

  // A checkpoint on the full disk fails cleanly and leaves no temporary snapshot taking the space.
  const cp = gascity('checkpoint');
  assert.notEqual(cp.status, 0);
  assert.match(cp.stderr, /^gascity: could not (write|record).*ENOSPC/);
  assert.deepEqual(leftovers(ledgerDir), []);

  fs.rmSync(filler);
  const ledger = await openLedger(ledgerDir);
  try {
    const runs = ledger.listRuns({ limit: 1000 }).map((r) => r.id).sort();
    assert.deepEqual(runs, [...started].sort(), 'exactly the runs reported as started are in the ledger');
    const seqs = ledger.events(0, 100_000).map((e) => e.seq);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
  } finally {
    ledger.close();
  }
  const again = gascity('start', 'implement-and-review', 'task=after');
  assert.equal(again.status, 0, again.stderr);
  assert.equal(gascity('verify').status, 0);
  assert.equal(gascity('checkpoint').status, 0);
});

test('a long-running writer (as the MCP server is) on a disk that fills and empties: failed commits never appear, later ones land cleanly', async (t) => {
  const mnt = smallDisk(t);
  if (!mnt) return;
  const dir = path.join(mnt, 'ledger');
  const writer = await openLedger(dir);
  const acknowledged: string[] = [];
  const failed: string[] = [];
  try {
    await writer.startRun({ title: 'first', nodes: [{ key: 'a', title: 'A' }] });
    acknowledged.push('first');
    const filler = fillLeaving(mnt, 3);
    const big = 'x'.repeat(1500);
    for (let i = 0; i < 30; i++) {
      const title = `full-${i}`;
      try {
        await writer.startRun({ title, nodes: [{ key: 'a', title: 'A', instructions: big }] });
        acknowledged.push(title);
      } catch (e) {
        assert.ok(e instanceof LedgerError && e.code === 'io', String(e));
        assert.match(e.message, /ENOSPC.*[Nn]othing was recorded/);
        failed.push(title);
      }
    }
    assert.ok(failed.length > 0, 'the disk never filled up');
    fs.rmSync(filler);
    // The commit after space returns must land on a line boundary (the issue: a torn line acknowledged
    // as a commit, followed by the next one, made the ledger unopenable).
    await writer.startRun({ title: 'after', nodes: [{ key: 'a', title: 'A' }] });
    acknowledged.push('after');
  } finally {
    writer.close();
  }
  const reader = await openLedger(dir);
  try {
    assert.deepEqual(reader.listRuns({ limit: 1000 }).map((r) => r.title).sort(), [...acknowledged].sort());
  } finally {
    reader.close();
  }
  t.diagnostic(`${acknowledged.length} commits acknowledged, ${failed.length} refused while the disk was full`);
});
