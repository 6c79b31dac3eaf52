// The built CLI (dist/cli.js) refuses what it would otherwise ignore: positional arguments a command does not
// take (`gascity runs extra`, `gascity run F extra junk`) and options given twice, in the main parser and in
// the subcommands with options of their own (evidence, mcp). Each refusal is one line naming the arguments and
// the usage, exits 2, and writes nothing to the ledger.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMAND_SHAPES } from '../../src/cli/args';
import { REPO, SHIPPED_FORMULAS, tempDir } from '../mcp/helpers';

let CLI = '';
let WS = '';

interface Ran { status: number | null; stdout: string; stderr: string }

function cli(...args: string[]): Ran {
  return gascity('--workspace', WS, ...args);
}

/** The CLI with exactly these arguments (`gascity mcp` takes no --workspace). */
function gascity(...args: string[]): Ran {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, GASCITY_CODEX_PATH: '/nonexistent/codex', CODEX_HOME: path.join(WS, '.codex-home') },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The ledger's last event sequence number, as `gascity events` prints it. */
function lastSeq(): number {
  const r = cli('--json', 'events');
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ seq: number }>).at(-1)?.seq ?? 0;
}

/** Asserts a one-line refusal with exit code 2 that matches `message`, without a stack trace. */
function refused(r: Ran, message: RegExp, what: string): void {
  assert.equal(r.status, 2, `${what}: exit ${r.status}, stdout ${r.stdout}`);
  assert.match(r.stderr, message, what);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
}

before(() => {
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`node esbuild.mjs failed: ${built.stderr}`);
  // A private copy, so that another build cannot swap the bundle under the test.
  const dir = tempDir('gascity-cli-args-dist-');
  for (const file of ['cli.js', 'mcp.js', 'sql-wasm.wasm']) fs.copyFileSync(path.join(REPO, 'dist', file), path.join(dir, file));
  CLI = path.join(dir, 'cli.js');
  WS = tempDir('gascity-cli-args-ws-');
  const r = cli('import', SHIPPED_FORMULAS);
  assert.equal(r.status, 0, r.stderr);
});

test('the examples of the issue: gascity runs extra, gascity run F extra junk (with and without --codex)', () => {
  const seq = lastSeq();
  refused(cli('runs', 'extra'), /^gascity: runs: unexpected argument "extra"; usage: gascity runs\n$/, 'runs extra');
  for (const codex of [[], ['--codex']]) {
    const r = cli('run', 'implement-and-review', 'extra', 'junk', ...codex);
    refused(r, /^gascity: run: unexpected arguments "extra" "junk" \(run variables are name=value\); usage: gascity run FAMILY/, `run F extra junk ${codex.join(' ')}`);
  }
  refused(cli('start', 'implement-and-review', 'goal=x', 'junk'), /start: unexpected argument "junk" \(run variables are name=value\)/, 'start F goal=x junk');
  assert.equal(lastSeq(), seq, 'nothing was written');
});

test('every command refuses one positional argument more than it takes, naming it and its usage', () => {
  const seq = lastSeq();
  let checked = 0;
  for (const [command, shape] of COMMAND_SHAPES) {
    if (shape.max === Infinity) continue;
    const args = [...Array.from({ length: shape.max }, (_, i) => (command === 'gate' && i === 0 ? 'open' : `arg${i}`)), 'surplus'];
    const usage = shape.usage.replace(/[|[\]().*+?]/g, '\\$&');
    refused(cli(command, ...args), new RegExp(`^gascity: ${command}: unexpected argument "surplus"; usage: gascity ${usage}\\n$`), `${command} ${args.join(' ')}`);
    checked++;
  }
  assert.ok(checked >= 25, `checked ${checked} commands`);
  assert.equal(lastSeq(), seq, 'nothing was written');
});

test('run RUN_ID, run merge RUN_ID and trial refuse what they would have ignored', () => {
  const started = cli('--json', 'start', 'implement-and-review', 'task=add a greeting');
  assert.equal(started.status, 0, started.stderr);
  const runId = (JSON.parse(started.stdout) as { runId: string }).runId;
  const seq = lastSeq();
  refused(cli('run', runId, 'extra'), new RegExp(`^gascity: run: unexpected argument "extra"; usage: gascity run RUN_ID`), 'run RUN_ID extra');
  refused(cli('run', runId, 'goal=x', '--codex'), /run: unexpected argument "goal=x"/, 'run RUN_ID goal=x --codex');
  refused(cli('run', 'merge', runId, 'now'), /^gascity: run merge: unexpected argument "now"; usage: gascity run merge RUN_ID\n$/, 'run merge RUN_ID now');
  const variant = (JSON.parse(cli('--json', 'show', runId).stdout) as { run: { variantId: string } }).run.variantId;
  refused(cli('trial', variant, 'live'), /^gascity: trial: the stage is screen or trial, not "live"/, 'trial V live');
  assert.equal(lastSeq(), seq, 'nothing was written');
});

test('options given twice are refused in evidence and mcp too, while --profile stays repeatable', () => {
  const seq = lastSeq();
  refused(cli('evidence', 'implement-and-review', '--variants', '1', '--variants', '9'), /--variants: given twice; give it once/, 'evidence --variants twice');
  refused(cli('evidence', 'implement-and-review', '--runs', '1', '--runs', '9'), /--runs: given twice; give it once/, 'evidence --runs twice');
  refused(cli('evidence', 'implement-and-review', 'extra'), /evidence: unexpected argument "extra"; usage: gascity evidence VARIANT\|FAMILY/, 'evidence F extra');
  const codexHome = path.join(WS, '.codex-home');
  refused(gascity('mcp', 'check', '--codex-home', codexHome, '--name', 'a', '--name', 'b'), /--name: given twice; give it once/, 'mcp --name twice');
  refused(gascity('mcp', 'check', 'extra'), /mcp check: unexpected argument "extra"; usage: gascity mcp check/, 'mcp check extra');
  // Two --profile options pass the parser: what stops this command is the family it names.
  const profiles = cli('run', 'no-such-family', '--codex', '--profile', 'fast=gpt-5-mini', '--profile', 'deep=gpt-5');
  refused(profiles, /^gascity: family: no formula family "no-such-family"/, 'run with two --profile');
  assert.equal(lastSeq(), seq, 'nothing was written');
});

test('an option a command does not read is refused by name instead of ignored', () => {
  const seq = lastSeq();
  refused(cli('runs', '--task', 'x'), /^gascity: runs: --task does not apply to it; usage: gascity runs\n$/, 'runs --task');
  refused(cli('--tasks', '3', '--codex', 'status'), /^gascity: status: --tasks, --codex do not apply to it; usage: gascity status\n$/, 'status --tasks --codex');
  refused(cli('start', 'implement-and-review', 'task=x', '--codex'), /^gascity: start: --codex does not apply to it; usage: gascity start FAMILY/, 'start --codex');
  refused(cli('--workspace', WS, 'mcp', 'check'), /Unknown option '--workspace'/, '--workspace before mcp');
  assert.equal(lastSeq(), seq, 'nothing was written');
  // The options a command reads still pass, wherever they stand.
  const started = cli('--json', 'start', 'implement-and-review', 'task=x', '--task', 'issue-1');
  assert.equal(started.status, 0, started.stderr);
  assert.equal(lastSeq(), seq + 1, 'one run was recorded');
});
