// Two formula_replay calls moments apart, through two MCP server processes serving one workspace (as two
// Codex sessions would): exactly one starts a replay; the other answers that one is already running, with
// its process, log and progress, and starts nothing. The replay lock itself: a live holder is refused, a stale one
// (its process gone) taken over, a handed-over token adopted, and a release removes only its own lock.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { replaysDir, runningReplay, takeReplayLock } from '../../src/controller/replayLock';
import { CODEX_BIN, REPO, cleanup, tempDir, until } from './helpers';
import { modelSwitches, world } from './replayWorld';

after(cleanup);

const text = (r: CallToolResult): string => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

interface ReplayAnswer {
  started: boolean;
  pid: number | null;
  log: string | null;
}

test('two formula_replay calls at once through two MCP servers start one replay; the other names it and starts nothing', { timeout: 600_000 }, async () => {
  const { s, candidate } = await world(1);
  // The candidate's replay turn never ends, so the replay is still running when the later calls come.
  modelSwitches.hangOnFix = true;
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const dist = tempDir('gascity-replay-once-dist-');
  for (const file of ['mcp.js', 'cli.js', 'sql-wasm.wasm']) fs.copyFileSync(path.join(REPO, 'dist', file), path.join(dist, file));
  const clients: Client[] = [];
  for (let i = 0; i < 2; i++) {
    const transport = new StdioClientTransport({
      command: process.execPath, args: [path.join(dist, 'mcp.js'), '--ledger', s.ledgerDir, '--workspace', s.workspace],
      env: { ...process.env, CODEX_HOME: s.codexHome, GASCITY_CODEX_PATH: CODEX_BIN } as Record<string, string>, stderr: 'ignore',
    });
    const client = new Client({ name: `test-${i}`, version: '0.0.0' });
    await client.connect(transport);
    clients.push(client);
  }
  let replayPid: number | null = null;
  try {
    const call = async (c: Client) => (await c.callTool({ name: 'formula_replay', arguments: { variantId: candidate, tasks: 1, budgetRuns: 2 } })) as CallToolResult;
    const answers = await Promise.all(clients.map((c) => call(c)));
    const started = answers.filter((r) => !r.isError && (r.structuredContent as unknown as ReplayAnswer).started);
    assert.equal(started.length, 1, `exactly one call starts a replay: ${answers.map(text).join('\n')}`);
    const first = started[0]!.structuredContent as unknown as ReplayAnswer;
    replayPid = first.pid;
    const second = answers.find((r) => r !== started[0])!;
    assert.equal(second.isError, true, text(second));
    // The refusal names the running replay: its log (the same one), what to do, and that nothing was started.
    const escaped = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(text(second), new RegExp(`variantId: a replay of ${candidate} is already running \\(process \\d+, log ${escaped(first.log!)}\\).*nothing new was started`));
    // Once handed over, the lock names the background replay's own process, which a later call reports with its progress.
    assert.equal(runningReplay(s.ledger, candidate)?.pid, first.pid, 'the replay process holds the lock');
    await until(async () => { await s.ledger.refresh(); return s.ledger.listRuns({ familyId: 'fix-bug' }).some((r) => r.taskKey?.startsWith('replay:')); }, 300_000, 'the replay to start its runs');
    const later = await call(clients[1]!);
    assert.equal(later.isError, true, text(later));
    assert.match(text(later), new RegExp(`already running \\(process ${first.pid}, log .*\\); \\d+ of [1-9]\\d* replay run\\(s\\) in screen \\S+ ended so far; nothing new was started`));
    assert.deepEqual(fs.readdirSync(replaysDir(s.ledger)).filter((f) => f.endsWith('.log')), [path.basename(first.log!)], 'one replay process was started');
  } finally {
    modelSwitches.hangOnFix = false;
    // The replay leads its own process group (detached), with its Codex app-server in it.
    if (replayPid) try { process.kill(-replayPid, 'SIGKILL'); } catch { /* already gone */ }
    for (const c of clients) await c.close();
  }
});

test('the replay lock refuses a live holder, takes over a stale one, adopts a handed-over token and releases only its own', () => {
  const ledger = { store: { dir: path.join(tempDir('gascity-replay-lock-'), 'ledger') } } as unknown as Parameters<typeof takeReplayLock>[0];
  const mine = takeReplayLock(ledger, 'v-11111111', { log: '/tmp/a.log' });
  assert.throws(() => takeReplayLock(ledger, 'v-11111111'), (e: Error) => /a replay of v-11111111 is already running \(process \d+, log \/tmp\/a\.log\)/.test(e.message));
  // The token handed to a child is adopted rather than refused.
  const adopted = takeReplayLock(ledger, 'v-11111111', { adopt: mine.token });
  assert.equal(adopted.token, mine.token);
  adopted.release();
  assert.equal(runningReplay(ledger, 'v-11111111'), null);
  // A lock of a process that is gone (a crash) is stale and taken over.
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const file = path.join(replaysDir(ledger), 'v-22222222.lock');
  fs.writeFileSync(file, JSON.stringify({ pid: Number(gone.stdout), token: 'old', log: null, startedAt: '' }));
  assert.equal(runningReplay(ledger, 'v-22222222'), null);
  const fresh = takeReplayLock(ledger, 'v-22222222');
  assert.equal(runningReplay(ledger, 'v-22222222')?.token, fresh.token);
  // A damaged lock file (not a record) holds nothing either.
  fs.writeFileSync(path.join(replaysDir(ledger), 'v-33333333.lock'), '{"pid":');
  takeReplayLock(ledger, 'v-33333333').release();
  // A release of a lock superseded by another leaves the other in place.
  mine.release();
  fresh.release();
  assert.equal(fs.existsSync(file), false);
  assert.deepEqual(fs.readdirSync(replaysDir(ledger)), [], 'no temporary or stale files are left');
});
