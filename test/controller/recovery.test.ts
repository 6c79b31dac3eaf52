// Crashes, restarts, cancels and Ctrl-C under the controller, with the real Codex CLI: nothing runs
// twice, nothing stays claimed, and the ledger verifies afterwards.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { CODEX_BIN, REPO, afterToolCall, cleanup, nodeOf, setup, until, workerScript } from './helpers';
import type { Setup } from './helpers';

after(cleanup);

const CHAIN = `
name = "chain"
version = 1
description = "three steps in a row"
[[steps]]
id = "one"
instructions = "One."
[[steps]]
id = "two"
needs = ["one"]
instructions = "Two."
[[steps]]
id = "three"
needs = ["two"]
instructions = "Three."
`;

/** A model that hangs on the first request it gets for `stepId` and finishes everything else. */
function hangOnceOn(stepId: string) {
  let hung = false;
  return workerScript((nodeId) => {
    if (!hung && nodeId.endsWith(`.${stepId}`)) {
      hung = true;
      return { hang: true };
    }
    return {};
  });
}

function reportsPerNode(s: Setup): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of s.ledger.events(0, 100_000)) {
    if (e.kind === 'node.reported') {
      const id = (e.payload as { nodeId: string }).nodeId;
      m.set(id, (m.get(id) ?? 0) + 1);
    }
  }
  return m;
}

function firstRequestFor(s: Setup, stepId: string): () => boolean {
  return () => s.model.requests.some((r) => nodeOf(r).endsWith(`.${stepId}`));
}

test('an app-server killed mid-turn is restarted with backoff and the node resumes on its thread', { timeout: 120_000 }, async () => {
  const s = await setup({ chain: CHAIN }, hangOnceOn('two'));
  const { runId } = await s.formulas.startRunFromFormula({ family: 'chain', vars: {} });
  const c = await s.controller({ restartBackoffMs: { initial: 300, max: 2000 } });
  await until(firstRequestFor(s, 'two'), 60_000, 'the turn of node two to reach the model');
  const thread = s.ledger.runGraph(runId)!.bindings.find((b) => b.nodeId === `${runId}.two`)!.threadId;
  const pid = c.serverPid!;
  process.kill(-pid, 'SIGKILL');
  const [run] = await c.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
  assert.ok(s.events.some((e) => e.type === 'serverExited' && e.restartInMs === 300));
  assert.notEqual(c.serverPid, pid, 'a new app-server runs');
  // The node continued on the thread bound to it, and every node reported exactly once.
  const resumed = s.events.find((e) => e.type === 'dispatched' && e.nodeId === `${runId}.two` && e.resumed);
  assert.ok(resumed, 'node two was resumed');
  const bindings = s.ledger.runGraph(runId)!.bindings.filter((b) => b.nodeId === `${runId}.two`);
  assert.deepEqual(bindings.map((b) => b.threadId), [thread]);
  assert.deepEqual([...reportsPerNode(s).values()], [1, 1, 1]);
  assert.equal(s.ledger.getNode(`${runId}.two`)!.attempts, 0, 'the crash cost no attempt');
});

test('a controller killed mid-run is taken over by the next one, which runs nothing twice', { timeout: 150_000 }, async () => {
  const s = await setup({ chain: CHAIN }, hangOnceOn('two'));
  spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO });
  const { runId } = await s.formulas.startRunFromFormula({ family: 'chain', vars: {} });
  const child = spawn(process.execPath, [path.join(REPO, 'dist', 'cli.js'), '--workspace', s.workspace, 'run', runId, '--codex'], {
    env: { ...process.env, CODEX_HOME: s.codexHome, GASCITY_CODEX_PATH: CODEX_BIN }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  await until(firstRequestFor(s, 'two'), 60_000, `the CLI's turn of node two to reach the model; it printed:\n${output}`);
  await s.ledger.refresh();
  const held = s.ledger.getNode(`${runId}.two`)!;
  assert.match(held.worker ?? '', new RegExp(`^codex@.+/${child.pid}$`));
  // SIGKILL the CLI and everything it started: nothing gets to clean up.
  process.kill(-child.pid!, 'SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const c = await s.controller();
  const [run] = await c.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
  const released = s.events.find((e) => e.type === 'released');
  assert.ok(released && released.type === 'released' && released.reason.includes(`holder ${held.worker} is gone`));
  assert.deepEqual([...reportsPerNode(s).values()], [1, 1, 1], 'every node reported once');
  assert.equal(s.ledger.events(0, 100_000).filter((e) => e.kind === 'node.recovered').length, 1);
});

test('a node held by a worker on another host is taken over only when its lease runs out, and the expiry names it', { timeout: 120_000 }, async () => {
  const s = await setup({ chain: CHAIN }, workerScript());
  const { runId } = await s.formulas.startRunFromFormula({ family: 'chain', vars: {} });
  // The lease is long enough that the controller's first passes certainly fall inside it, whatever the machine's load:
  // the test waits for passes, not for a time.
  const claimed = await s.ledger.claimNode({ nodeId: `${runId}.one`, worker: 'codex@elsewhere/4242', leaseSeconds: 8 });
  const c = await s.controller();
  await until(() => c.stats().reconciles >= 2, 60_000, 'two reconcile passes');
  await s.ledger.refresh();
  if (s.ledger.now().getTime() < Date.parse(claimed!.expiresAt)) {
    assert.equal(s.ledger.getNode(`${runId}.one`)!.worker, 'codex@elsewhere/4242', 'a live lease of another host is left alone');
  }
  const [run] = await c.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
  const expired = s.ledger.events(0).find((e) => e.kind === 'node.lease_expired')!;
  assert.equal((expired.payload as { worker: string }).worker, 'codex@elsewhere/4242');
});

test('a person cancels one node mid-turn, then the whole run: turns are interrupted and nothing stays claimed', { timeout: 120_000 }, async () => {
  const fanout = `name = "pair"\nversion = 1\ndescription = "two at once"\n[[steps]]\nid = "x"\ninstructions = "X."\n[[steps]]\nid = "y"\ninstructions = "Y."\n`;
  const s = await setup({ pair: fanout }, workerScript(() => ({ hang: true })));
  const { runId } = await s.formulas.startRunFromFormula({ family: 'pair', vars: {} });
  const c = await s.controller();
  await until(() => c.activity().filter((a) => a.turnId).length === 2, 60_000, 'both turns to start');
  await c.cancelNode(`${runId}.x`, 'not needed after all', 'person:test');
  await until(() => c.activity().length === 1, 20_000, 'the turn of x to end');
  const x = s.ledger.getNode(`${runId}.x`)!;
  assert.deepEqual([x.state, x.worker, x.attempts], ['blocked', null, 0]);
  await until(() => s.events.some((e) => e.type === 'turnEnded' && e.result.nodeId === `${runId}.x` && e.result.end === 'cancelled'), 10_000, 'the turn of x to end as cancelled');
  await until(() => s.events.some((e) => e.type === 'needsPerson' && e.nodes.some((n) => n.id === `${runId}.x`)), 10_000, 'the controller to report that x needs a person');
  await c.cancelRun(runId, 'wrong task', 'person:test');
  await until(() => c.activity().length === 0, 20_000, 'the turn of y to end');
  await s.ledger.refresh();
  assert.equal(s.ledger.getRun(runId)!.status, 'cancelled');
  assert.deepEqual(s.ledger.heldNodes(), []);
  assert.equal(s.ledger.sql.get<{ c: number }>('SELECT count(*) AS c FROM claims WHERE released_at IS NULL')!.c, 0);
  const interrupts = s.ledger.events(0).filter((e) => e.kind === 'node.reported');
  assert.deepEqual(interrupts, [], 'a cancelled turn reports nothing');
});

test('Ctrl-C in `gascity run --codex` interrupts the turns, releases their nodes and leaves a ledger that verifies', { timeout: 150_000 }, async () => {
  const s = await setup({ chain: CHAIN }, workerScript((nodeId) => (nodeId.endsWith('.two') ? { hang: true } : {})));
  spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO });
  const cli = path.join(REPO, 'dist', 'cli.js');
  const env = { ...process.env, CODEX_HOME: s.codexHome, GASCITY_CODEX_PATH: CODEX_BIN };
  const child: ChildProcess = spawn(process.execPath, [cli, '--workspace', s.workspace, 'run', 'chain', '--codex', '--workers', '1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  await until(firstRequestFor(s, 'two'), 60_000, `node two's turn; the CLI printed:\n${output}`);
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 130, output);
  assert.match(output, /started r-\w+ \(chain/);
  assert.match(output, /▶ r-\w+\.one/);
  assert.match(output, /✔ r-\w+\.one {2}reported done/);
  assert.match(output, /stopped; run r-\w+ is running and nothing of it is claimed/);
  await s.ledger.refresh();
  const runId = s.ledger.listRuns()[0]!.id;
  assert.deepEqual(s.ledger.heldNodes(), []);
  assert.equal(s.ledger.getNode(`${runId}.two`)!.state, 'ready');
  assert.equal(s.ledger.getNode(`${runId}.two`)!.attempts, 0, 'Ctrl-C costs no attempt');
  const verify = spawnSync(process.execPath, [cli, '--workspace', s.workspace, 'verify'], { encoding: 'utf8' });
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /^ok: integrity check passed/);
});

test('two controllers on one ledger (a window and a terminal) never run the same node twice', { timeout: 150_000 }, async () => {
  const wide = `name = "wide"\nversion = 1\ndescription = "six at once"\n${Array.from({ length: 6 }, (_, i) => `[[steps]]\nid = "p${i}"\ninstructions = "Part ${i}."\n`).join('')}` +
    '[[steps]]\nid = "join"\nneeds = ["p0", "p1", "p2", "p3", "p4", "p5"]\ninstructions = "Join."\n';
  const s = await setup({ wide }, workerScript(() => ({ delayMs: 300 })));
  const { runId } = await s.formulas.startRunFromFormula({ family: 'wide', vars: {} });
  // A second process's view of the same ledger: its own store, lock and catch-up.
  const { openLedger } = await import('../../src/ledger/index');
  const other = await openLedger(s.ledgerDir, { actor: 'terminal' });
  const [a, b] = await Promise.all([s.controller(), s.controller({ ledger: other })]);
  assert.notEqual(a.worker, b.worker);
  await Promise.all([a.waitForRuns([runId]), b.waitForRuns([runId])]);
  await s.ledger.refresh();
  assert.equal(s.ledger.getRun(runId)!.status, 'done');
  const perNode = reportsPerNode(s);
  assert.equal(perNode.size, 7);
  assert.deepEqual([...perNode.values()], [1, 1, 1, 1, 1, 1, 1], 'every node reported exactly once');
  const claims = s.ledger.sql.all<{ node_id: string; n: number }>('SELECT node_id, count(*) AS n FROM claims GROUP BY node_id');
  assert.ok(claims.every((c) => c.n === 1), `every node was claimed once: ${JSON.stringify(claims)}`);
  const workers = new Set(s.ledger.sql.all<{ worker: string }>('SELECT worker FROM claims').map((c) => c.worker));
  assert.deepEqual([...workers].sort(), [a.worker, b.worker].sort(), 'both controllers took part');
  // The second controller works on the second ledger: it stops before that ledger closes.
  await b.stop();
  other.close();
});

test("a model's request_handoff puts the node in a person's hands; the controller leaves it until they open its gate", { timeout: 120_000 }, async () => {
  let handedOff = false;
  const s = await setup({ chain: CHAIN }, (request, n) => {
    const nodeId = nodeOf(request);
    if (nodeId.endsWith('.two') && !handedOff && !afterToolCall(request)) {
      handedOff = true;
      return { call: 'request_handoff', args: { note: 'I need the staging credentials' } };
    }
    return workerScript()(request, n);
  });
  const { runId } = await s.formulas.startRunFromFormula({ family: 'chain', vars: {} });
  const c = await s.controller({ leaseSeconds: 2 });
  await until(() => s.events.some((e) => e.type === 'needsPerson' && e.nodes.some((x) => x.id === `${runId}.two`)), 60_000, 'node two to wait for a person');
  // Well past the 2 s lease: the controller does not take the node back.
  await new Promise((r) => setTimeout(r, 3500));
  await s.ledger.refresh();
  const two = s.ledger.getNode(`${runId}.two`)!;
  assert.deepEqual([two.state, two.worker], ['blocked', null]);
  assert.match(two.result ?? '', /handed off to a person: I need the staging credentials/);
  assert.equal(s.events.filter((e) => e.type === 'dispatched' && e.nodeId === `${runId}.two`).length, 1);
  await s.ledger.openGate({ nodeId: `${runId}.two`, note: 'credentials are in the vault now' }, 'person:test');
  const [run] = await c.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
});
