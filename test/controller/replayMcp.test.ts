// formula_replay through the built MCP server (dist/mcp.js over stdio, as Codex starts it): it refuses
// bad input by name, opens the screen, and starts the replay in the background with the CLI beside it;
// the background replay drives the real Codex CLI and records the pair, and its log says why it stopped.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CODEX_BIN, REPO, cleanup, tempDir, until } from './helpers';
import { world } from './replayWorld';

after(cleanup);

/** A private copy of the built server and CLI (another build cannot swap them under the test). */
function builtDist(): string {
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`node esbuild.mjs failed: ${built.stderr}`);
  const dir = tempDir('gascity-replay-dist-');
  for (const file of ['mcp.js', 'cli.js', 'sql-wasm.wasm']) fs.copyFileSync(path.join(REPO, 'dist', file), path.join(dir, file));
  return dir;
}

const text = (r: CallToolResult): string => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

test('formula_replay refuses bad input by name, then screens the candidate in the background with Codex', { timeout: 600_000 }, async () => {
  const { s, candidate, incumbent } = await world(1);
  const dist = builtDist();
  const transport = new StdioClientTransport({
    command: process.execPath, args: [path.join(dist, 'mcp.js'), '--ledger', s.ledgerDir, '--workspace', s.workspace],
    env: { ...process.env, CODEX_HOME: s.codexHome, GASCITY_CODEX_PATH: CODEX_BIN } as Record<string, string>, stderr: 'ignore',
  });
  const client = new Client({ name: 'test', version: '0.0.0' });
  await client.connect(transport);
  try {
    const call = async (args: Record<string, unknown>) => (await client.callTool({ name: 'formula_replay', arguments: args })) as CallToolResult;
    for (const [args, field] of [
      [{ variantId: '../../etc/passwd' }, 'variantId'], [{ variantId: candidate, tasks: 0 }, 'tasks'], [{ variantId: candidate, budgetRuns: 1 }, 'budgetRuns'],
      [{ variantId: candidate, budgetTokens: 'lots' }, 'budgetTokens'], [{ variantId: candidate, shell: 'rm -rf /' }, 'shell'],
    ] as const) {
      const r = await call(args);
      assert.equal(r.isError, true, JSON.stringify(args));
      assert.match(text(r), new RegExp(`"field":"${field}"`), JSON.stringify(args));
    }
    const unknown = await call({ variantId: 'v-00000000' });
    assert.equal(unknown.isError, true);
    assert.match(text(unknown), /no variant v-00000000/);
    const active = await call({ variantId: incumbent });
    assert.equal(active.isError, true);
    assert.match(text(active), /already the active variant/);
    await s.ledger.refresh();
    assert.equal(s.promotion.liveTrialOf('fix-bug'), undefined, 'refused calls opened no trial');

    const r = await call({ variantId: candidate, tasks: 1, budgetRuns: 2 });
    assert.equal(r.isError, undefined, text(r));
    const out = r.structuredContent as { started: boolean; trialId: string; startedTrial: boolean; tasksAvailable: number; log: string; pid: number };
    assert.deepEqual([out.started, out.startedTrial, out.tasksAvailable], [true, true, 1]);
    assert.equal(path.dirname(out.log), path.join(path.dirname(s.ledgerDir), 'replays'));
    // The background replay runs the pair with Codex and says why it stopped.
    await until(() => fs.existsSync(out.log) && /Replay stopped because/.test(fs.readFileSync(out.log, 'utf8')), 300_000, 'the background replay to stop');
    const log = fs.readFileSync(out.log, 'utf8');
    assert.match(log, /pair 1\/1: candidate success, incumbent failure\n/);
    assert.match(log, new RegExp(`Replay stopped because all 1 past task\\(s\\) asked for \\(1\\) were replayed: 1 pair\\(s\\) recorded \\(candidate alone succeeded in 1, incumbent alone in 0\\); trial ${out.trialId} is open in stage screen`));
    await s.ledger.refresh();
    const replays = s.ledger.listRuns({ familyId: 'fix-bug' }).filter((run) => run.taskKey?.startsWith('replay:'));
    assert.deepEqual(replays.map((run) => run.outcome).sort(), ['failure', 'success']);
  } finally {
    await client.close();
  }
});
