// Hostile formulas and inputs: backtracking patterns, deep nesting, huge files, prototype keys and names
// that cannot be folders. Each is a problem that names the file, the line and the field, and the other
// files of the folder still load. The timeouts only turn a hang into a failure; speed is in bench/formula.ts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { FormulaService, LedgerError, openLedger } from '../../../src/ledger/index';
import {
  applyMutations, loadFormulaDir, MAX_CONDITION_DEPTH, MAX_EXTENDS_DEPTH, MAX_NAME_LENGTH, MAX_TOML_DEPTH, parseFormula,
} from '../../../src/ledger/formula/index';
import type { Formula, Problem } from '../../../src/ledger/formula/index';
import { tempDir } from '../helpers';

const HANG = { timeout: 10_000 };
const GOOD = 'name = "good"\nversion = 1\n\n[[steps]]\nid = "a"\ninstructions = "do a"\n';

function only(problems: readonly Problem[], field: string): Problem {
  const matching = problems.filter((p) => p.field === field);
  assert.equal(matching.length, 1, `expected one problem on ${field}, got ${JSON.stringify(problems, null, 2).slice(0, 2000)}`);
  return matching[0] as Problem;
}

/** Writes the files into a fresh formulas folder next to a good formula and loads the folder. */
async function loadWith(files: Record<string, string>) {
  const dir = tempDir('gascity-hostile-');
  fs.writeFileSync(path.join(dir, 'good.formula.toml'), GOOD);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const loaded = await loadFormulaDir(dir);
  assert.deepEqual(loaded.formulas.filter((f) => f.resolved).map((f) => f.formula.name).filter((n) => n === 'good'), ['good'], 'the good file still loads');
  return { dir, loaded };
}

/** A fresh ledger over a workspace whose formulas folder holds `files`. */
async function workspaceWith(files: Record<string, string>) {
  const workspace = tempDir('gascity-hostile-ws-');
  fs.mkdirSync(path.join(workspace, 'formulas'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(workspace, 'formulas', name), text);
  const ledger = await openLedger(path.join(workspace, '.gascity', 'ledger'), { actor: 'test' });
  const formulas = new FormulaService(ledger, { workspaceDir: workspace });
  return { workspace, ledger, formulas };
}

const BACKTRACKING = `name = "branchy"
version = 1

[vars.word]
pattern = "(a+)+"
default = "${'a'.repeat(34)}!"

[[steps]]
id = "a"
instructions = "{{word}}"
`;

describe('pattern runs in linear time (RE2)', () => {
  test('(a+)+ with a default of 34 "a" and "!" is a problem on the default, found at once', HANG, async () => {
    const { dir, loaded } = await loadWith({ 'branchy.formula.toml': BACKTRACKING });
    const problem = only(loaded.problems, 'vars.word.default');
    assert.equal(problem.file, path.join(dir, 'branchy.formula.toml'));
    assert.equal(problem.line, 6);
    assert.match(problem.message, /does not match the pattern \/\(a\+\)\+\//);
  });

  test('a run start with that value answers at once with the variable named, and writes nothing', HANG, async () => {
    const { ledger, formulas, workspace } = await workspaceWith({ 'branchy.formula.toml': BACKTRACKING.replace(/default = .*\n/, '') });
    try {
      const r = await formulas.importFormulas(path.join(workspace, 'formulas'));
      assert.deepEqual(r.problems, []);
      const seq = ledger.seq;
      for (const word of [`${'a'.repeat(34)}!`, `${'a'.repeat(19_999)}!`]) {
        await assert.rejects(formulas.startRunFromFormula({ family: 'branchy', vars: { word } }), (e: unknown) => {
          assert.ok(e instanceof LedgerError);
          assert.equal(e.field, 'vars.word');
          assert.match(e.message, /does not match the pattern/);
          return true;
        });
      }
      assert.equal(ledger.seq, seq);
      const ok = await formulas.startRunFromFormula({ family: 'branchy', vars: { word: 'aaaa' } });
      assert.ok(ok.runId);
    } finally {
      ledger.close();
    }
  });

  test('a pattern RE2 cannot run in linear time (backreference, lookahead) is a problem naming file, line and field', async () => {
    for (const pattern of ['(a)\\\\1', '(?=a)a', 'x'.repeat(1001)]) {
      const { dir, loaded } = await loadWith({ 'back.formula.toml': `name = "back"\nversion = 1\n\n[vars.w]\npattern = "${pattern}"\n\n[[steps]]\nid = "a"\ninstructions = "{{w}}"\n` });
      const problem = only(loaded.problems, 'vars.w.pattern');
      assert.equal(problem.file, path.join(dir, 'back.formula.toml'));
      assert.equal(problem.line, 5);
      assert.match(problem.message, /pattern that cannot be used/);
    }
  });
});

describe('depth and size never overflow the stack', () => {
  const withWhen = (when: string) => `name = "deep"\nversion = 1\n\n[vars.x]\ndefault = "1"\n\n[[steps]]\nid = "a"\ninstructions = "a"\nwhen = "${when}"\n`;

  test('2,600 nested parentheses in when: a problem at the when line; the other files still import', HANG, async () => {
    const { dir, loaded } = await loadWith({ 'deep.formula.toml': withWhen(`${'('.repeat(2600)}{{x}}${')'.repeat(2600)}`) });
    const problem = only(loaded.problems, 'steps[0].when');
    assert.equal(problem.file, path.join(dir, 'deep.formula.toml'));
    assert.equal(problem.line, 10);
    assert.match(problem.message, /at most 2000 are allowed/);
  });

  test('nesting within the length limit but deeper than the bound, by parentheses or by "not", is a problem too', () => {
    for (const when of [`${'('.repeat(MAX_CONDITION_DEPTH + 1)}{{x}}${')'.repeat(MAX_CONDITION_DEPTH + 1)}`, `${'not '.repeat(400)}{{x}}`]) {
      const problem = only(parseFormula(withWhen(when), 'deep.formula.toml').problems, 'steps[0].when');
      assert.match(problem.message, new RegExp(`more than ${MAX_CONDITION_DEPTH} deep`));
    }
    assert.deepEqual(parseFormula(withWhen(`${'('.repeat(MAX_CONDITION_DEPTH)}{{x}}${')'.repeat(MAX_CONDITION_DEPTH)}`)).problems, []);
    // A long chain of "and" is as deep as it is long; the walks over it use their own stack.
    assert.deepEqual(parseFormula(withWhen(Array.from({ length: 180 }, () => '{{x}}').join(' and '))).problems, []);
  });

  test('deeply nested TOML lists, inline tables and dotted tables are a problem at their line and key', HANG, async () => {
    const { loaded } = await loadWith({
      'lists.formula.toml': `name = "lists"\nversion = 1\nx = ${'['.repeat(3000)}${']'.repeat(3000)}\n`,
      'inline.formula.toml': `name = "inline"\nversion = 1\n\n[vars.y]\ndefault = ${'{ a = '.repeat(3000)}1${' }'.repeat(3000)}\n`,
      'dotted.formula.toml': `name = "dotted"\nversion = 1\n\n[${Array.from({ length: 5000 }, (_, i) => `k${i}`).join('.')}]\nz = 1\n`,
    });
    const lists = only(loaded.problems.filter((p) => p.file.endsWith('lists.formula.toml')), 'x');
    assert.equal(lists.line, 3);
    assert.match(lists.message, new RegExp(`nested more than ${MAX_TOML_DEPTH} deep`));
    const inline = only(loaded.problems.filter((p) => p.file.endsWith('inline.formula.toml')), 'vars.y.default');
    assert.equal(inline.line, 5);
    const dotted = loaded.problems.filter((p) => p.file.endsWith('dotted.formula.toml'));
    assert.ok(dotted.some((p) => p.line === 4 && p.field.startsWith('k0.k1.k2') && /nested more than 16 deep/.test(p.message)), JSON.stringify(dotted).slice(0, 500));
  });

  test('an extends chain deeper than the bound is a problem on the extends line of the child; shallower chains resolve', async () => {
    const files: Record<string, string> = { 'f0.formula.toml': 'name = "f0"\nversion = 1\n\n[[steps]]\nid = "a"\ninstructions = "a"\n' };
    for (let i = 1; i <= MAX_EXTENDS_DEPTH + 3; i += 1) files[`f${i}.formula.toml`] = `name = "f${i}"\nversion = 1\nextends = "f${i - 1}"\n`;
    const { dir, loaded } = await loadWith(files);
    const deepest = `f${MAX_EXTENDS_DEPTH + 3}`;
    const problem = only(loaded.problems.filter((p) => p.file.endsWith(`${deepest}.formula.toml`)), 'extends');
    assert.equal(problem.file, path.join(dir, `${deepest}.formula.toml`));
    assert.equal(problem.line, 3);
    assert.match(problem.message, new RegExp(`more than ${MAX_EXTENDS_DEPTH} formulas deep`));
    assert.ok(loaded.formulas.find((f) => f.formula.name === `f${MAX_EXTENDS_DEPTH - 1}`)?.resolved, 'a chain within the bound resolves');
  });

  test('a file over the size limit is refused before it is read', async () => {
    const { loaded } = await loadWith({ 'huge.formula.toml': `name = "huge"\nversion = 1\ndescription = """${'x'.repeat(9 * 1024 * 1024)}"""\n` });
    assert.match(only(loaded.problems.filter((p) => p.file.endsWith('huge.formula.toml')), '').message, /at most 8388608/);
  });
});

/** A pipeline of `steps` steps: each needs the one before and (with `halfway`) one halfway back. */
function pipeline(steps: number, halfway = true): string {
  const lines = ['name = "big"', 'version = 1', '', '[vars.mode]', 'default = "fast"', 'pattern = "[a-z]+"'];
  for (let i = 0; i < steps; i += 1) {
    lines.push('', '[[steps]]', `id = "s${i}"`, `title = "Step ${i} in {{mode}}"`, `instructions = "Part ${i} in {{mode}}."`);
    if (i > 0) lines.push(`needs = ["s${i - 1}"${halfway && i > 2 ? `, "s${Math.floor(i / 2)}"` : ''}]`);
    if (i % 10 === 0) lines.push(`when = "{{mode}} == 'fast'"`);
  }
  return `${lines.join('\n')}\n`;
}

describe('validation is linear in the number of steps', () => {
  test('a 38,000-step formula parses with every step, in order, and no problems', HANG, () => {
    const r = parseFormula(pipeline(38_000), 'big.formula.toml');
    assert.deepEqual(r.problems, []);
    assert.equal(r.formula?.steps.length, 38_000);
    assert.deepEqual(r.formula?.steps[37_999]?.needs, ['s37998', 's18999']);
  });

  test('a 38,000-step chain whose first step needs the last is one cycle, named briefly at the first step', HANG, () => {
    const source = pipeline(38_000, false).replace('id = "s0"\n', 'id = "s0"\nneeds = ["s37999"]\n');
    const problems = parseFormula(source, 'big.formula.toml').problems;
    const problem = only(problems, 'steps[0].needs');
    assert.match(problem.message, /^the steps form a cycle: s0 → .* → … \(\d+ more\) → .* → s0$/);
    assert.ok(problem.message.length < 1000);
  });

  test('a need of an unknown step in a 10,000-step formula lists a few step ids, not all of them', HANG, () => {
    const problem = only(parseFormula(pipeline(10_000).replace('needs = ["s0"]', 'needs = ["nope"]'), 'big.formula.toml').problems, 'steps[1].needs');
    assert.match(problem.fix, /"s0", "s1", .* and 9980 more\.$/);
  });
});

describe('prototype keys are refused with the field named', () => {
  test('as a variable, a key of a step, a top-level key, a step id and a variable name in a when', () => {
    const problems = parseFormula(`name = "proto"
version = 1
__proto__ = 1

[vars.__proto__]
default = "x"

[vars.prototype]
default = "y"

[[steps]]
id = "constructor"
instructions = "{{prototype}}"
constructor = "z"
`, 'proto.formula.toml').problems;
    assert.equal(only(problems, '__proto__').line, 3);
    assert.equal(only(problems, 'vars.__proto__').line, 5);
    assert.match(only(problems, 'vars.prototype').message, /"prototype" cannot be used as a key/);
    assert.match(only(problems, 'steps[0].constructor').message, /"constructor" cannot be used as a key/);
    assert.match(only(problems, 'steps[0].id').message, /"constructor" is reserved/);
  });

  test('in a mutation: as a variable name, as a key of the op, and nested in a step', () => {
    const formula = parseFormula(GOOD).formula as Formula;
    const cases: Array<[string, string]> = [
      ['{"op":"set_var","name":"__proto__","spec":{"default":"x"}}', 'mutations[0].name'],
      ['{"op":"edit_title","stepId":"a","title":"x","__proto__":{"polluted":true}}', 'mutations[0].__proto__'],
      ['{"op":"add_step","step":{"id":"b","instructions":"b","constructor":1}}', 'mutations[0].step.constructor'],
      ['{"op":"set_var","name":"prototype","spec":{"default":"x"}}', 'mutations[0].name'],
    ];
    for (const [json, field] of cases) {
      const r = applyMutations(formula, [JSON.parse(json) as unknown]);
      assert.equal(r.ok, false, json);
      if (!r.ok) assert.ok(r.problems.some((p) => p.field === field), `${json}: ${JSON.stringify(r.problems)}`);
    }
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  test('in the variables of a run start: refused naming the key, nothing written', async () => {
    const { ledger, formulas, workspace } = await workspaceWith({ 'good.formula.toml': GOOD });
    try {
      await formulas.importFormulas(path.join(workspace, 'formulas'));
      const seq = ledger.seq;
      await assert.rejects(formulas.startRunFromFormula(JSON.parse('{"family":"good","vars":{"__proto__":"x"}}') as unknown), (e: unknown) => {
        assert.ok(e instanceof LedgerError);
        assert.equal(e.code, 'invalid_input');
        assert.equal(e.field, 'vars.__proto__');
        return true;
      });
      assert.equal(ledger.seq, seq);
    } finally {
      ledger.close();
    }
  });
});

describe('family and step names are valid folder and file names everywhere', () => {
  const named = (name: string) => `name = "${name}"\nversion = 1\n\n[[steps]]\nid = "a"\ninstructions = "a"\n`;

  test('CON, nul, com1, lpt9, aux.d, a trailing dot and 300 characters are refused at import, before anything is recorded', async () => {
    const bad = ['con', 'nul', 'com1', 'lpt9', 'aux.d', 'trailing.', 'x'.repeat(300)];
    const files = Object.fromEntries(bad.map((name, i) => [`bad${i}.formula.toml`, named(name)]));
    const { ledger, formulas, workspace } = await workspaceWith({ ...files, 'good.formula.toml': GOOD });
    try {
      const r = await formulas.importFormulas(path.join(workspace, 'formulas'));
      bad.forEach((name, i) => {
        const problem = only(r.problems.filter((p) => p.file.endsWith(`bad${i}.formula.toml`)), 'name');
        assert.equal(problem.line, 1);
        assert.match(problem.message, /cannot be used: /, name);
      });
      assert.match(r.problems.find((p) => p.file.endsWith('bad6.formula.toml'))!.message, new RegExp(`at most ${MAX_NAME_LENGTH}`));
      assert.deepEqual(formulas.listFamilies().map((f) => f.id), ['good'], 'only the good family is recorded');
      assert.ok(!fs.existsSync(path.join(workspace, 'formulas', 'evolution')), 'no evolution folder was made');
    } finally {
      ledger.close();
    }
  });

  test('step ids CON, Nul, LPT1 and 101 characters are refused in a file and in a mutation', async () => {
    for (const id of ['CON', 'Nul', 'LPT1', `s${'x'.repeat(MAX_NAME_LENGTH)}`]) {
      const problem = only(parseFormula(`name = "steps"\nversion = 1\n\n[[steps]]\nid = "${id}"\ninstructions = "a"\n`).problems, 'steps[0].id');
      assert.equal(problem.line, 5);
    }
    const { ledger, formulas, workspace } = await workspaceWith({ 'good.formula.toml': GOOD });
    try {
      await formulas.importFormulas(path.join(workspace, 'formulas'));
      const seq = ledger.seq;
      const variantId = formulas.getFamily('good')!.activeVariantId!;
      await assert.rejects(formulas.mutateVariant({ variantId, mutations: [{ op: 'add_step', step: { id: 'aux', instructions: 'x' } }] }), /mutations\[0\]\.id: .*"aux" is a device name on Windows/);
      assert.equal(ledger.seq, seq);
    } finally {
      ledger.close();
    }
  });

  test('an evolution folder that is a link out of the workspace: the mutation is refused before it is recorded', async () => {
    const { ledger, formulas, workspace } = await workspaceWith({ 'good.formula.toml': GOOD });
    const outside = tempDir('gascity-outside-');
    try {
      await formulas.importFormulas(path.join(workspace, 'formulas'));
      fs.symlinkSync(outside, path.join(workspace, 'formulas', 'evolution'));
      const seq = ledger.seq;
      const variantId = formulas.getFamily('good')!.activeVariantId!;
      await assert.rejects(formulas.mutateVariant({ variantId, mutations: [{ op: 'edit_title', stepId: 'a', title: 'A' }] }), /leads outside the workspace .*nothing was recorded/);
      assert.equal(ledger.seq, seq);
      assert.deepEqual(fs.readdirSync(outside), []);
    } finally {
      ledger.close();
    }
  });
});
