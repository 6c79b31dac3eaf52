// Formula checking cost against the number of steps (prints a table; not a test):
//   toml      — smol-toml parsing the file alone: the floor any formula check pays, the peer of the others
//   parse     — parseFormula: TOML, shape, meaning (validateFormula) and the lines of the problems
//   validate  — validateFormula alone on the parsed formula
//   import    — FormulaService.importFormulas of the file into a fresh ledger (parse, hash, one commit)
// at 1k, 10k and 38k steps. Linear checking shows as a flat "parse / toml" ratio and a flat time per step.
// Run: node --import tsx bench/formula.ts   (BENCH_STEPS=1000,10000,38000 to change the sizes)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { FormulaService, openLedger } from '../src/ledger/index';
import { parseFormula, readFormula, validateFormula } from '../src/ledger/formula/index';

const SIZES = (process.env.BENCH_STEPS ?? '1000,10000,38000').split(',').map(Number);

/**
 * A formula of `steps` steps like a long pipeline: each step needs the one before and one halfway back,
 * every tenth has a condition, and every title and instruction reads a variable.
 */
export function bigFormula(steps: number, name = 'big'): string {
  const lines = [`name = "${name}"`, 'version = 1', '', '[vars.mode]', 'default = "fast"', 'pattern = "[a-z]+"'];
  for (let i = 0; i < steps; i += 1) {
    lines.push('', '[[steps]]', `id = "s${i}"`, `title = "Step ${i} in {{mode}}"`, `instructions = "Do part ${i} of the work in {{mode}} mode."`);
    if (i > 0) lines.push(`needs = ["s${i - 1}"${i > 2 ? `, "s${Math.floor(i / 2)}"` : ''}]`);
    if (i % 10 === 0) lines.push(`when = "{{mode}} == 'fast' or not ({{mode}} == 'slow')"`);
  }
  return `${lines.join('\n')}\n`;
}

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** The best of `times` runs of `f`, in ms: the least disturbed by the other processes on the machine. */
function best(times: number, f: () => void): number {
  let min = Infinity;
  for (let i = 0; i < times; i += 1) {
    const t0 = process.hrtime.bigint();
    f();
    min = Math.min(min, ms(t0));
  }
  return min;
}

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const steps of SIZES) {
    const source = bigFormula(steps);
    const repeat = steps > 10_000 ? 2 : 3;
    const toml = best(repeat, () => parseToml(source));
    const parse = best(repeat, () => {
      const r = parseFormula(source, 'big.formula.toml');
      if (!r.formula) throw new Error(`the bench formula has problems: ${JSON.stringify(r.problems.slice(0, 3))}`);
    });
    const formula = readFormula(parseToml(source)).formula;
    const validate = best(repeat, () => validateFormula(formula));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-bench-formula-'));
    fs.mkdirSync(path.join(dir, 'formulas'));
    fs.writeFileSync(path.join(dir, 'formulas', 'big.formula.toml'), source);
    const ledger = await openLedger(path.join(dir, 'ledger'), { actor: 'bench' });
    const t0 = process.hrtime.bigint();
    const imported = await new FormulaService(ledger, { workspaceDir: dir }).importFormulas(path.join(dir, 'formulas'));
    const importMs = ms(t0);
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
    if (imported.problems.length > 0 || imported.imported.length !== 1) throw new Error('the bench formula did not import');
    const perStep = (value: number) => `${((value / steps) * 1000).toFixed(1)} µs`;
    rows.push([
      String(steps).padStart(6), `${(source.length / 1e6).toFixed(1)} MB`.padStart(7), toml.toFixed(0).padStart(6), parse.toFixed(0).padStart(6),
      validate.toFixed(0).padStart(8), importMs.toFixed(0).padStart(7), (parse / toml).toFixed(2).padStart(11), perStep(parse).padStart(13),
    ].join('  '));
  }
  process.stdout.write(`${[' steps     size  toml ms  parse ms  validate ms  import ms  parse / toml  parse / step', ...rows].join('\n')}\n`);
}

void main();
