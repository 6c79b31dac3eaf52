import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { test } from 'node:test';
import { holderIsGone, newControllerWorkerName, parseWorkerName, releaseWorkerName } from '../../src/controller/liveness';

test('a worker profile\'s name is read as its controller\'s: host, pid and the profile', () => {
  assert.deepEqual(parseWorkerName('codex@vm-1/4242:deep'), { host: 'vm-1', pid: 4242, controller: 'codex@vm-1/4242', profile: 'deep' });
  assert.deepEqual(parseWorkerName('codex@vm-1/4242#2'), { host: 'vm-1', pid: 4242, controller: 'codex@vm-1/4242#2', profile: null });
  for (const other of ['person:ann', 'mcp:17', 'codex@vm/x', 'codex@vm/1:a:b', 'codex@a/b/1']) assert.equal(parseWorkerName(other), null, other);
});

test('claims of a profile are a dead holder\'s exactly when its controller is gone', () => {
  const name = newControllerWorkerName();
  const claimedAt = new Date(Date.now() - 60_000).toISOString();
  assert.equal(holderIsGone(`${name}:deep`, claimedAt), false, 'a live controller\'s profile is alive');
  releaseWorkerName(name);
  assert.equal(holderIsGone(`${name}:deep`, claimedAt), true, 'a stopped controller\'s profile is gone');
  // A process that has exited: its pid no longer answers (or belongs to a process started after the claim).
  const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(exited.stdout);
  assert.equal(holderIsGone(`codex@${os.hostname()}/${pid}:fast`, claimedAt), true);
  assert.equal(holderIsGone(`codex@another-host/${pid}:fast`, claimedAt), false, 'another host cannot be checked: its lease decides');
});
