// A formula's [[checks]]: read, refused with the file's line and field when wrong, written back in the
// canonical text, merged through extends; a formula without checks keeps its old text and hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalize, contentHash, parseFormula, resolveExtends } from '../../../src/ledger/formula/index';
import type { Formula, Problem } from '../../../src/ledger/formula/index';

const BASE = `
name = "fix-bug"
version = 1
[vars.pattern]
default = "auth"
[[steps]]
id = "fix"
instructions = "Fix it."
[[steps]]
id = "approve"
needs = ["fix"]
review = true
instructions = "Look at the fix."
`;

function parsed(text: string): Formula {
  const r = parseFormula(text, 'fix-bug.formula.toml');
  assert.deepEqual(r.problems, []);
  return r.formula!;
}

function problems(text: string): Problem[] {
  const r = parseFormula(text, 'fix-bug.formula.toml');
  assert.equal(r.formula, null, 'the formula is refused');
  return r.problems;
}

test('checks of all three kinds are read with their defaults, and the canonical text round-trips them', () => {
  const f = parsed(`${BASE}
[[checks]]
id = "tests"
run = "npm test -- {{pattern}}"

[[checks]]
id = "lint"
run = "npx eslint ."
timeout_seconds = 120
exit_codes = [0, 1]

[[checks]]
id = "report"
file_exists = "docs/report.md"

[[checks]]
id = "approved"
verdict = "review"
`);
  assert.deepEqual(f.checks, [
    { id: 'tests', kind: 'run', run: 'npm test -- {{pattern}}', timeoutSeconds: 600, exitCodes: [0] },
    { id: 'lint', kind: 'run', run: 'npx eslint .', timeoutSeconds: 120, exitCodes: [0, 1] },
    { id: 'report', kind: 'file_exists', path: 'docs/report.md' },
    { id: 'approved', kind: 'verdict', verdict: 'review' },
  ]);
  const text = canonicalize(f);
  assert.match(text, /\[\[checks\]\]\nid = "lint"\nrun = "npx eslint \."\ntimeout_seconds = 120\nexit_codes = \[0, 1\]/);
  // Defaults are not written: the first check has neither timeout_seconds nor exit_codes.
  assert.match(text, /id = "tests"\nrun = "npm test -- \{\{pattern\}\}"\n\n/);
  const again = parsed(text);
  assert.deepEqual(again, f);
  assert.equal(canonicalize(again), text);
});

test('a formula without checks keeps the canonical text and hash it had before checks existed', () => {
  const f = parsed(BASE);
  assert.deepEqual(f.checks, []);
  assert.doesNotMatch(canonicalize(f), /checks/);
  // The hash of this text was computed by the code before checks were added (main at 82b9ff7).
  assert.equal(contentHash(f), 'f58455b7f3ab920d616daba1109d59f53723a1aec481d8869c0fd241a65c7b86');
  assert.equal(canonicalize(f).split('\n').at(-2), 'instructions = "Look at the fix."');
});

test('file_exists may not leave the run\'s folder: absolute paths and ".." are problems with line and field', () => {
  const cases: Array<[string, RegExp]> = [
    ['/etc/passwd', /absolute/],
    ['../secrets.txt', /through "\.\."/],
    ['docs/../../x', /through "\.\."/],
    ['docs\\\\..\\\\..\\\\x', /through "\.\."/],
    ['C:\\\\Windows\\\\win.ini', /absolute/],
    ['\\\\\\\\server\\\\share', /absolute/],
    ['~/x', /absolute/],
    ['', /empty/],
  ];
  for (const [path, why] of cases) {
    const found = problems(`${BASE}\n[[checks]]\nid = "f"\nfile_exists = "${path}"\n`);
    assert.equal(found.length, 1, `${path}: ${JSON.stringify(found)}`);
    assert.equal(found[0]!.field, 'checks[0].file_exists');
    assert.equal(found[0]!.line, 17, path);
    assert.match(found[0]!.message, why, path);
    assert.match(found[0]!.fix, /relative to the run's folder/);
  }
});

test('every wrong check is a problem naming its field: kinds, bounds, ids, variables', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['id = "a"', 'checks[0]', /says nothing to check/],
    ['id = "a"\nrun = "x"\nfile_exists = "y"', 'checks[0]', /sets "run", "file_exists"; a check does one thing/],
    ['run = "x"', 'checks[0]', /"id" is missing/],
    ['id = "a"\nrun = ""', 'checks[0].run', /empty command/],
    ['id = "a"\nrun = 5', 'checks[0].run', /must be text/],
    ['id = "a"\nrun = "x"\ntimeout_seconds = 0', 'checks[0].timeout_seconds', /from 1 to 3600/],
    ['id = "a"\nrun = "x"\ntimeout_seconds = 3601', 'checks[0].timeout_seconds', /from 1 to 3600/],
    ['id = "a"\nrun = "x"\ntimeout_seconds = "60"', 'checks[0].timeout_seconds', /whole number/],
    ['id = "a"\nrun = "x"\nexit_codes = [256]', 'checks[0].exit_codes', /from 0 to 255/],
    ['id = "a"\nrun = "x"\nexit_codes = []', 'checks[0].exit_codes', /1 to 32/],
    ['id = "a"\nrun = "x"\nexit_codes = [0, 0]', 'checks[0].exit_codes', /different/],
    ['id = "a"\nrun = "x"\nexit_codes = ["0"]', 'checks[0].exit_codes', /list of whole numbers/],
    ['id = "a"\nrun = "x {{nope}}"', 'checks[0].run', /no variable "nope"/],
    ['id = "a"\nrun = "x"\ncolour = "red"', 'checks[0].colour', /unknown key "colour"/],
    ['id = "a"\nfile_exists = "x"\ntimeout_seconds = 5', 'checks[0].timeout_seconds', /unknown key/],
    ['id = "a"\nverdict = "vibes"', 'checks[0].verdict', /not a known verdict/],
    ['id = "has space"\nrun = "x"', 'checks[0].id', /cannot be used/],
    [`id = "a"\nrun = "${'x'.repeat(4001)}"`, 'checks[0].run', /at most 4000/],
    [`id = "a"\nfile_exists = "${'x/'.repeat(600)}"`, 'checks[0].file_exists', /at most 1000/],
  ];
  for (const [body, field, message] of cases) {
    const found = problems(`${BASE}\n[[checks]]\n${body}\n`);
    assert.ok(found.some((p) => p.field === field && message.test(p.message) && p.line > 0), `${body.slice(0, 60)}: ${JSON.stringify(found).slice(0, 400)}`);
  }
});

test('checks are bounded in number and unique by id; verdict needs a review step; checks must be tables', () => {
  const many = Array.from({ length: 21 }, (_, i) => `[[checks]]\nid = "c${i}"\nrun = "true"\n`).join('\n');
  assert.match(problems(`${BASE}\n${many}`).map((p) => `${p.field}: ${p.message}`).join('\n'), /checks: formula "fix-bug" declares 21 checks; at most 20/);
  const twice = problems(`${BASE}\n[[checks]]\nid = "t"\nrun = "a"\n[[checks]]\nid = "t"\nrun = "b"\n`);
  assert.deepEqual(twice.map((p) => [p.field, p.line]), [['checks[1].id', 19]]);
  const noReview = problems(`${BASE.replace('review = true\n', '')}\n[[checks]]\nid = "ok"\nverdict = "review"\n`);
  assert.deepEqual(noReview.map((p) => p.field), ['checks[0].verdict']);
  assert.match(noReview[0]!.message, /no step of formula "fix-bug" has review = true/);
  assert.deepEqual(problems(`checks = "npm test"\n${BASE}`).map((p) => p.field), ['checks']);
  assert.deepEqual(problems(`checks = [1]\n${BASE}`).map((p) => p.field), ['checks[0]']);
  // A skipped bad entry does not shift the field of a later check.
  const shifted = problems(`checks = [1, { id = "b", run = "" }]\n${BASE}`);
  assert.deepEqual(shifted.map((p) => p.field).sort(), ['checks[0]', 'checks[1].run']);
});

test('a child formula replaces a parent check by id and adds its own; the flat formula keeps both', () => {
  const parent = parsed(`${BASE}\n[[checks]]\nid = "tests"\nrun = "npm test"\n\n[[checks]]\nid = "report"\nfile_exists = "report.md"\n`);
  const child = parseFormula(`name = "fix-bug-strict"\nversion = 1\nextends = "fix-bug"\n\n[[checks]]\nid = "tests"\nrun = "npm test -- --strict"\ntimeout_seconds = 60\n\n[[checks]]\nid = "lint"\nrun = "npm run lint"\n`, 'child.formula.toml');
  assert.deepEqual(child.problems, []);
  const flat = resolveExtends(child.formula!, (name) => (name === 'fix-bug' ? parent : undefined));
  assert.ok(flat.ok);
  assert.deepEqual(flat.formula.checks.map((c) => [c.id, c.kind === 'run' ? c.run : '']), [
    ['tests', 'npm test -- --strict'], ['report', ''], ['lint', 'npm run lint'],
  ]);
  // A verdict check in a child is judged against the flat formula's steps.
  const verdictChild = parseFormula('name = "c"\nversion = 1\nextends = "fix-bug"\nremove_steps = ["approve"]\n[[checks]]\nid = "v"\nverdict = "review"\n');
  assert.deepEqual(verdictChild.problems, []);
  const refused = resolveExtends(verdictChild.formula!, (name) => (name === 'fix-bug' ? parent : undefined));
  assert.ok(!refused.ok);
  assert.match(refused.problems.map((p) => p.message).join('\n'), /after applying extends: check "v" waits for the review verdict/);
});
