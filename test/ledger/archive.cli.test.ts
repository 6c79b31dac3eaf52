// The archive through the built CLI (dist/cli.js), as a person uses it: `gascity archive DAYS` moves
// old finished runs out, `gascity show` still opens their graphs, and `gascity verify` notices an
// archive file that changed on disk.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openLedger } from '../../src/ledger/index';
import { ARCHIVE_DIR } from '../../src/ledger/archive';
import { REPO, tempDir } from '../mcp/helpers';

let CLI = '';

before(() => {
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`node esbuild.mjs failed: ${built.stderr}`);
  // A private copy, so that another build cannot swap the bundle under the test.
  const dir = tempDir('gascity-cli-archive-dist-');
  for (const file of ['cli.js', 'sql-wasm.wasm']) fs.copyFileSync(path.join(REPO, 'dist', file), path.join(dir, file));
  CLI = path.join(dir, 'cli.js');
});

function cli(workspace: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, '--workspace', workspace, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('gascity archive DAYS archives old finished runs; show still opens them; verify checks the archive files', async () => {
  const ws = tempDir('gascity-cli-archive-ws-');
  const dir = path.join(ws, '.gascity', 'ledger');
  // Two runs worked to their end sixty days ago, and one still running.
  const ledger = await openLedger(dir, { now: () => new Date(Date.now() - 60 * 86_400_000), retentionDays: null });
  const old: string[] = [];
  for (const title of ['old one', 'old two']) {
    const { runId, nodeIds } = await ledger.startRun({ title, nodes: [{ key: 'only', title: 'The only step' }] });
    await ledger.claimNode({ worker: 'w', nodeId: nodeIds[0], leaseSeconds: 600 });
    await ledger.reportNode({ nodeId: nodeIds[0]!, worker: 'w', outcome: 'done', summary: `${title} done` });
    old.push(runId);
  }
  const running = (await ledger.startRun({ title: 'still running', nodes: [{ key: 'only', title: 'The only step' }] })).runId;
  ledger.close();

  for (const bad of ['abc', '1e9', '__proto__', '123456789']) {
    const r = cli(ws, 'archive', bad);
    assert.equal(r.status, 2, `archive ${bad}: ${r.stderr}`);
    assert.match(r.stderr, /DAYS: give a number of days/);
  }
  // A negative age reads as an option, and is refused as one.
  assert.equal(cli(ws, 'archive', '-3').status, 2);
  assert.equal(fs.existsSync(path.join(dir, ARCHIVE_DIR)), false, 'nothing was archived by a refused command');
  const archived = cli(ws, 'archive', '30');
  assert.equal(archived.status, 0, archived.stderr);
  assert.match(archived.stdout, /^2 runs finished before \S+ archived \(runs-[0-9a-f]{16}\.ndjson\); 2 run rows moved there too \(still found by id\)$/m);
  const shown = cli(ws, 'show', old[0]!);
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /The only step/);
  assert.match(cli(ws, 'show', running).stdout, /The only step/);
  const ok = cli(ws, 'verify');
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^ok: integrity check passed and replaying \d+ events rebuilds every table exactly; 1 archive file match/);
  // An archive file changed on disk is reported by name.
  const file = fs.readdirSync(path.join(dir, ARCHIVE_DIR))[0]!;
  fs.appendFileSync(path.join(dir, ARCHIVE_DIR, file), '{"runId":"x","tables":{}}\n');
  const bad = cli(ws, 'verify');
  assert.equal(bad.status, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, new RegExp(`archive files missing or changed: ${file.replace('.', '\\.')}`));
});
