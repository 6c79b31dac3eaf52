// `gascity evidence`: the step table and the failing runs from a terminal, JSON with --json, and the
// exit code 2 with the field named for bad arguments.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { evidenceCommand } from '../../src/cli/evidence';
import { FormulaService, openLedger } from '../../src/ledger/index';
import { recordCheckedOutcome } from '../../src/ledger/outcome';
import type { FormulaEvidence } from '../../src/ledger/evidence';
import { tempDir } from './helpers';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const FORMULA = `
name = "fix"
version = 1
[[steps]]
id = "edit"
instructions = "Edit."
[[steps]]
id = "test"
needs = ["edit"]
instructions = "Test."

[[checks]]
id = "tests"
run = "npm test"
`;

async function call(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await evidenceCommand(args, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { code, out, err };
}

test('gascity evidence prints the per-step table and the failing runs, pages, and names bad arguments', async () => {
  const dir = tempDir('gascity-evidence-cli-');
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, 'formulas'));
  fs.writeFileSync(path.join(dir, 'formulas', 'fix.formula.toml'), FORMULA);
  const ledgerDir = path.join(dir, '.gascity', 'ledger');
  const ledger = await openLedger(ledgerDir, { actor: 'test' });
  const formulas = new FormulaService(ledger, { workspaceDir: dir });
  await formulas.importFormulas(path.join(dir, 'formulas'));
  const variant = formulas.getFamily('fix')!.activeVariantId!;
  for (let i = 0; i < 3; i++) {
    const { runId } = await formulas.startRunFromFormula({ family: 'fix', vars: {}, taskKey: `t${i}` });
    for (;;) {
      const claim = await ledger.claimNode({ runId, worker: 'w' });
      if (!claim) break;
      await ledger.reportNode({ nodeId: claim.nodeId, worker: 'w', outcome: 'done', tokens: 10 });
    }
    const passed = i !== 1;
    await recordCheckedOutcome(ledger, runId, [{ id: 'tests', kind: 'run', passed, summary: passed ? 'exited with code 0' : 'exited with code 1', subject: 'npm test', output: passed ? 'ok' : 'FAIL auth.test.js' }]);
  }
  ledger.close();

  const text = await call([variant, '--ledger', ledgerDir]);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^family fix\n\ng1·v-[0-9a-f]+ {2}active \(active\)/);
  assert.match(text.out, /3 runs: 2 succeeded, 1 failed, 0 open; 1 of 3 reported done failed their checks/);
  assert.match(text.out, /\n {2}step +runs +attempts +failures +fail% +retries +interv +rejected +tokens +time +changed\n {2}edit +3 +3 +0 +0% /);
  assert.match(text.out, /the model said done, the checks did not\n {6}check tests \(run\) failed: exited with code 1\n {6}\$ npm test\n {6}FAIL auth.test.js/);

  const json = await call(['fix', '--ledger', ledgerDir, '--json', '--runs', '2']);
  assert.equal(json.code, 0, json.err);
  const e = JSON.parse(json.out) as FormulaEvidence;
  assert.equal(e.variants[0]!.window.runs, 2);
  assert.ok(e.variants[0]!.window.nextBefore !== null);
  const older = await call(['fix', '--ledger', ledgerDir, '--json', '--runs', '2', '--before', String(e.variants[0]!.window.nextBefore)]);
  assert.equal((JSON.parse(older.out) as FormulaEvidence).variants[0]!.window.runs, 1);

  for (const [args, message] of [
    [['nope', '--ledger', ledgerDir], /no variant or family "nope"/],
    [[variant, '--ledger', ledgerDir, '--runs', 'many'], /--runs: give a whole number/],
    [[variant, '--ledger', ledgerDir, '--runs', '5000'], /runs: .*1000/],
    [[variant, '--ledger', ledgerDir, '--colour'], /Unknown option '--colour'/],
    [['--ledger', ledgerDir], /name one variant id or family/],
  ] as const) {
    const r = await call([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}`);
    assert.match(r.err, message);
  }
});
