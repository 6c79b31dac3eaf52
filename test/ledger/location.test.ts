// The ledger pointer never leads outside the workspace or the extension's storage for it: every example
// of issue 10 ("Paths stay inside") as a test, through the function and through the real CLI process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { LedgerError, openLedger, resolveLedgerDir, writeLedgerPointer } from '../../src/ledger/index';
import { OWNER_FILE } from '../../src/ledger/location';
import { tempDir } from './helpers';

const CLI = path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts');

/** A fresh ledger folder (journal and all), as openLedger leaves it. */
async function ledgerAt(dir: string): Promise<string> {
  (await openLedger(dir, { actor: 'test' })).close();
  return dir;
}

function writePointer(workspace: string, body: string): string {
  fs.mkdirSync(path.join(workspace, '.gascity'), { recursive: true });
  const file = path.join(workspace, '.gascity', 'ledger-location.json');
  fs.writeFileSync(file, body);
  return file;
}

/** Every file and folder under `dir`, relative, sorted: what a refused pointer must leave unchanged. */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

function refusal(f: () => unknown, file: string, why: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof LedgerError, String(e));
    assert.equal(e.code, 'invalid_input');
    assert.ok(e.message.startsWith(`${file}: `), e.message);
    assert.match(e.message, why);
    assert.match(e.message, /nothing was created or written/);
    return true;
  });
}

test('{"dir": "../../somewhere"} is refused naming the file and why; nothing is created, by the function or the CLI', () => {
  const root = tempDir('gascity-loc-');
  const workspace = path.join(root, 'a', 'b', 'ws');
  fs.mkdirSync(workspace, { recursive: true });
  const file = writePointer(workspace, '{"dir": "../../somewhere"}');
  const before = tree(root);
  refusal(() => resolveLedgerDir({ cwd: workspace, env: {} }), file, /a relative path that leaves the workspace/);

  const cli = spawnSync(process.execPath, ['--import', 'tsx', CLI, '--workspace', workspace, 'families'], { encoding: 'utf8', env: { ...process.env, GASCITY_LEDGER_DIR: '' } });
  assert.equal(cli.status, 2, cli.stderr);
  assert.match(cli.stderr, /^gascity: .*ledger-location\.json: "dir" is "\.\.\/\.\.\/somewhere", a relative path that leaves the workspace/);
  assert.doesNotMatch(cli.stderr, /\n\s+at /, 'one clear line, no stack trace');
  assert.deepEqual(tree(root), before, 'no folder was created anywhere');
  assert.ok(!fs.existsSync(path.join(root, 'a', 'somewhere')));
});

test('a pointer in a parent folder never captures a workspace below it: only the workspace\'s own .gascity is read', async () => {
  const parent = tempDir('gascity-loc-parent-');
  const parentLedger = await ledgerAt(path.join(tempDir('gascity-loc-storage-'), 'ledger'));
  writeLedgerPointer(parent, parentLedger);
  assert.equal(resolveLedgerDir({ cwd: parent, env: {} }), parentLedger, 'the parent itself uses its pointer');
  const child = path.join(parent, 'projects', 'child');
  fs.mkdirSync(child, { recursive: true });
  assert.equal(resolveLedgerDir({ cwd: child, env: {} }), path.join(child, '.gascity', 'ledger'));
  // Nor is a parent's default ledger folder used.
  const plain = tempDir('gascity-loc-plain-');
  await ledgerAt(path.join(plain, '.gascity', 'ledger'));
  assert.equal(resolveLedgerDir({ cwd: path.join(plain, 'src'), env: {} }), path.join(plain, 'src', '.gascity', 'ledger'));
});

test('a stale pointer to a missing folder is a clear error, not a new empty ledger', () => {
  const workspace = tempDir('gascity-loc-stale-');
  const gone = path.join(tempDir('gascity-loc-gone-'), 'ledger');
  const file = writePointer(workspace, JSON.stringify({ dir: gone }));
  refusal(() => resolveLedgerDir({ cwd: workspace, env: {} }), file, /which does not exist \(a stale pointer/);
  assert.ok(!fs.existsSync(gone));
  assert.ok(!fs.existsSync(path.join(workspace, '.gascity', 'ledger')));
});

test('an absolute pointer outside the workspace is refused unless it names the ledger kept for this workspace', async () => {
  const workspace = tempDir('gascity-loc-ws-');
  const notALedger = tempDir('gascity-loc-home-');
  fs.writeFileSync(path.join(notALedger, 'notes.txt'), 'mine');
  let file = writePointer(workspace, JSON.stringify({ dir: notALedger }));
  refusal(() => resolveLedgerDir({ cwd: workspace, env: {} }), file, /holds no ledger/);
  assert.deepEqual(fs.readdirSync(notALedger), ['notes.txt']);

  // Another workspace's ledger (a real one) is not this workspace's either.
  const other = tempDir('gascity-loc-other-');
  const othersLedger = await ledgerAt(path.join(tempDir('gascity-loc-storage-'), 'ledger'));
  writeLedgerPointer(other, othersLedger);
  file = writePointer(workspace, JSON.stringify({ dir: othersLedger }));
  refusal(() => resolveLedgerDir({ cwd: workspace, env: {} }), file, new RegExp(`not kept for this workspace \\(its ${OWNER_FILE} does not name`));

  // The extension's own pointer into its storage folder is accepted: the ledger names the workspace.
  const storage = await ledgerAt(path.join(tempDir('gascity-loc-storage-'), 'ledger'));
  writeLedgerPointer(workspace, storage);
  assert.equal(resolveLedgerDir({ cwd: workspace, env: {} }), storage);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(storage, OWNER_FILE), 'utf8')), { workspaces: [fs.realpathSync(workspace)] });
  writeLedgerPointer(workspace, storage);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(storage, OWNER_FILE), 'utf8')).workspaces.length, 1, 'writing again adds nothing');
});

test('a relative pointer to a ledger inside the workspace is followed; to a folder that is no ledger, refused', async () => {
  const workspace = tempDir('gascity-loc-rel-');
  await ledgerAt(path.join(workspace, 'state', 'ledger'));
  writePointer(workspace, '{"dir": "state/ledger"}');
  assert.equal(resolveLedgerDir({ cwd: workspace, env: {} }), path.join(workspace, 'state', 'ledger'));
  fs.mkdirSync(path.join(workspace, 'docs'));
  const file = writePointer(workspace, '{"dir": "docs"}');
  refusal(() => resolveLedgerDir({ cwd: workspace, env: {} }), file, /holds no ledger/);
  assert.deepEqual(fs.readdirSync(path.join(workspace, 'docs')), []);
});

test('a relative pointer that leaves through a symbolic link is refused like any outside folder', async () => {
  const workspace = tempDir('gascity-loc-link-');
  const outside = await ledgerAt(path.join(tempDir('gascity-loc-far-'), 'ledger'));
  fs.symlinkSync(outside, path.join(workspace, 'linked'));
  const file = writePointer(workspace, '{"dir": "linked"}');
  refusal(() => resolveLedgerDir({ cwd: workspace, env: {} }), file, /points outside the workspace/);
});

test('an unreadable pointer (not JSON, no dir) is refused rather than ignored', () => {
  const workspace = tempDir('gascity-loc-bad-');
  for (const body of ['{"dir": ', '{}', '{"dir": 7}', 'null']) {
    const file = writePointer(workspace, body);
    refusal(() => resolveLedgerDir({ cwd: workspace, env: {} }), file, /not valid JSON|no "dir"/);
  }
});

test('without a pointer: .gascity/ledger, unless .gascity leads outside the workspace', () => {
  const workspace = tempDir('gascity-loc-default-');
  assert.equal(resolveLedgerDir({ cwd: workspace, env: {} }), path.join(workspace, '.gascity', 'ledger'));
  const elsewhere = tempDir('gascity-loc-elsewhere-');
  fs.symlinkSync(elsewhere, path.join(workspace, '.gascity'));
  refusal(() => resolveLedgerDir({ cwd: workspace, env: {} }), path.join(workspace, '.gascity', 'ledger'), /leads outside the workspace/);
  assert.deepEqual(fs.readdirSync(elsewhere), []);
});

test('--ledger and GASCITY_LEDGER_DIR are a person\'s explicit choice and come first', () => {
  const workspace = tempDir('gascity-loc-explicit-');
  writePointer(workspace, '{"dir": "../../somewhere"}');
  assert.equal(resolveLedgerDir({ dir: 'x', cwd: workspace, env: {} }), path.resolve('x'));
  assert.equal(resolveLedgerDir({ cwd: workspace, env: { GASCITY_LEDGER_DIR: '/tmp/chosen' } }), '/tmp/chosen');
});
