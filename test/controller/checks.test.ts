// runChecks: real commands in a real folder. Exit codes decide, a timeout kills the whole process
// group, output is trimmed to its first 2 KB and last 6 KB, run variables cannot add commands, and
// file_exists and verdict checks judge the folder and the run's reviews.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runChecks, TrimmedOutput } from '../../src/controller/checks';
import type { Check } from '../../src/ledger/formula/index';
import { cleanup, tempDir, until } from './helpers';
import { alive } from '../support/process';

after(cleanup);

const NODE = JSON.stringify(process.execPath);
const run = (id: string, command: string, extra: Partial<Extract<Check, { kind: 'run' }>> = {}): Check => ({ id, kind: 'run', run: command, timeoutSeconds: 600, exitCodes: [0], ...extra });

test('a command passes on an accepted exit code and fails on any other, saying which', async () => {
  const dir = tempDir('gascity-checks-');
  const results = await runChecks([
    run('ok', `${NODE} -e "console.log('all 12 tests pass')"`),
    run('fails', `${NODE} -e "console.error('1 test failed: login'); process.exit(1)"`),
    run('three', `${NODE} -e "process.exit(3)"`, { exitCodes: [0, 3] }),
    run('missing', 'this-command-does-not-exist-gascity'),
  ], { dir, vars: {}, reviews: [] });
  assert.deepEqual(results.map((r) => [r.id, r.passed, r.exitCode]), [['ok', true, 0], ['fails', false, 1], ['three', true, 3], ['missing', false, 127]]);
  assert.equal(results[0]!.output, 'all 12 tests pass\n');
  assert.match(results[1]!.summary, /^exited with code 1 after \d+\.\d s \(expected 0\)$/);
  assert.equal(results[1]!.output, '1 test failed: login\n');
  assert.match(results[3]!.output, /not found/);
});

test('a command runs in the run\'s folder, and run variables are quoted so that they cannot add commands', async () => {
  const dir = tempDir('gascity-checks-');
  const hostile = "x'; touch pwned; echo '";
  const [r] = await runChecks([run('echo', `pwd && printf '%s|' {{name}} {{files}}`)], { dir, vars: { name: hostile, files: ['a b', 'c'] }, reviews: [] });
  assert.equal(r!.passed, true);
  assert.equal(r!.output, `${fs.realpathSync(dir)}\n${hostile}|a b|c|`);
  assert.equal(fs.existsSync(path.join(dir, 'pwned')), false);
});

test('a command past its timeout is killed with everything it started, and fails with a clear message', { timeout: 20_000 }, async () => {
  const dir = tempDir('gascity-checks-');
  // The shell starts node, which starts a grandchild; both print their pids and then run forever.
  const script = "const c=require('child_process').spawn(process.execPath,['-e','setInterval(()=>{},1000)'],{stdio:'ignore'});console.log(process.pid+' '+c.pid);setInterval(()=>{},1000)";
  const started = Date.now();
  const [r] = await runChecks([run('hang', `${NODE} -e "${script}"`, { timeoutSeconds: 1 })], { dir, vars: {}, reviews: [] });
  const elapsed = Date.now() - started;
  assert.equal(r!.passed, false);
  assert.equal(r!.timedOut, true);
  assert.equal(r!.summary, 'timed out after 1.0 s (timeout_seconds = 1); the command and everything it started were killed');
  assert.ok(elapsed >= 1000 && elapsed < 5000, `took ${elapsed} ms`);
  const pids = r!.output.trim().split(' ').map(Number);
  assert.equal(pids.length, 2);
  // SIGKILL is delivered at once, but a process takes a moment to end.
  for (const pid of pids) await until(() => !alive(pid), 2000, `process ${pid} to end`);
});

test('output is kept as its first 2 KB and last 6 KB, with what was left out counted', async () => {
  const dir = tempDir('gascity-checks-');
  const [r] = await runChecks([run('loud', `${NODE} -e "process.stdout.write('H'.repeat(3000)+'M'.repeat(100000)+'T'.repeat(7000))"`)], { dir, vars: {}, reviews: [] });
  assert.equal(r!.output, `${'H'.repeat(2048)}\n… [${3000 - 2048 + 100000 + 7000 - 6144} bytes of output left out] …\n${'T'.repeat(6144)}`);
  // Small pieces arriving one by one are trimmed the same way.
  const t = new TrimmedOutput(4, 4);
  for (const piece of ['ab', 'cd', 'ef', 'gh', 'ij']) t.push(Buffer.from(piece));
  assert.equal(t.text(), 'abcd\n… [2 bytes of output left out] …\nghij');
});

test('file_exists passes only for a path inside the folder, even through symbolic links', async () => {
  const dir = tempDir('gascity-checks-');
  const outside = tempDir('gascity-outside-');
  fs.mkdirSync(path.join(dir, 'docs'));
  fs.writeFileSync(path.join(dir, 'docs', 'report.md'), '# report\n');
  fs.writeFileSync(path.join(outside, 'secret'), 'x');
  fs.symlinkSync(path.join(outside, 'secret'), path.join(dir, 'link'));
  const results = await runChecks([
    { id: 'report', kind: 'file_exists', path: 'docs/report.md' },
    { id: 'absent', kind: 'file_exists', path: 'docs/missing.md' },
    { id: 'link', kind: 'file_exists', path: 'link' },
    { id: 'up', kind: 'file_exists', path: '../x' },
  ], { dir, vars: {}, reviews: [] });
  assert.deepEqual(results.map((r) => [r.id, r.passed]), [['report', true], ['absent', false], ['link', false], ['up', false]]);
  assert.match(results[1]!.summary, /"docs\/missing\.md" does not exist/);
  assert.match(results[2]!.summary, /leads outside the run's folder/);
  assert.match(results[3]!.summary, /leaves the run's folder/);
});

test('a verdict check passes when every review step was approved, and says which were not', async () => {
  const dir = tempDir('gascity-checks-');
  const verdict: Check = { id: 'approved', kind: 'verdict', verdict: 'review' };
  const judge = async (reviews: Array<{ nodeId: string; state: string }>) => (await runChecks([verdict], { dir, vars: {}, reviews }))[0]!;
  assert.equal((await judge([{ nodeId: 'r-1.review', state: 'done' }])).passed, true);
  const open = await judge([{ nodeId: 'r-1.review', state: 'done' }, { nodeId: 'r-1.final', state: 'failed' }]);
  assert.deepEqual([open.passed, open.summary], [false, 'not approved: r-1.final is failed']);
  assert.equal((await judge([{ nodeId: 'r-1.review', state: 'skipped' }])).passed, false);
});

test('stopping the checks kills the running command and decides nothing', { timeout: 20_000 }, async () => {
  const dir = tempDir('gascity-checks-');
  const abort = new AbortController();
  const pending = runChecks([run('slow', `${NODE} -e "console.log(process.pid); setInterval(()=>{},1000)"`)], { dir, vars: {}, reviews: [], signal: abort.signal });
  setTimeout(() => abort.abort(), 300);
  await assert.rejects(pending, /was stopped/);
});
