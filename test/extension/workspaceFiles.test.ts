// The ledger pointer names a folder of one machine: the .gitignore the extension writes beside it keeps it out of
// git, as the real git sees it; a person's own .gitignore there is left as it is.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeLedgerPointer } from '../../src/ledger/location';
import { keepGasCityOutOfGit } from '../../src/extension/workspaceFiles';

function git(cwd: string, ...args: string[]): { status: number | null; stdout: string } {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout };
}

const cleanupStorage: string[] = [];
after(() => { for (const d of cleanupStorage) fs.rmSync(d, { recursive: true, force: true }); });

describe('.gascity is kept out of git', () => {
  it('writes .gascity/.gitignore once, and git then ignores the pointer', () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-ws-git-'));
    try {
      assert.equal(git(ws, 'init', '-q').status, 0);
      // The pointer names a folder of this machine outside the workspace, as VS Code's storage is.
      const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-storage-'));
      cleanupStorage.push(storage);
      fs.mkdirSync(path.join(storage, 'ledger'));
      writeLedgerPointer(ws, path.join(storage, 'ledger'));
      assert.equal(keepGasCityOutOfGit(ws), true);
      assert.equal(keepGasCityOutOfGit(ws), false, 'not written twice');
      assert.equal(git(ws, 'check-ignore', '-q', '.gascity/ledger-location.json').status, 0, 'git ignores the pointer');
      assert.equal(git(ws, 'status', '--porcelain', '--untracked-files=all').stdout, '', 'nothing of .gascity shows up');
    } finally {
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });

  it('leaves a person\'s own .gascity/.gitignore as it is', () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-ws-git-'));
    try {
      fs.mkdirSync(path.join(ws, '.gascity'));
      fs.writeFileSync(path.join(ws, '.gascity', '.gitignore'), 'ledger-location.json\n');
      assert.equal(keepGasCityOutOfGit(ws), false);
      assert.equal(fs.readFileSync(path.join(ws, '.gascity', '.gitignore'), 'utf8'), 'ledger-location.json\n');
    } finally {
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });
});
