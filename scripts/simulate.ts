// Prints the promotion table of docs/promotion.md from one run of the simulator at the default policy:
//   npm run sim            (or: node --import tsx scripts/simulate.ts [--families N] [--seed S])
// Each line simulates many families with one seed (src/ledger/promotion/simulate.ts), the loop as the
// ledger runs it: the incumbent's history, replays of past tasks in the screen, then a live trial if
// the screen reaches its cap undecided. Extra lines vary the assumptions the table rests on.
import { parseArgs } from 'node:util';
import { defaultPolicy } from '../src/ledger/promotion/policy';
import { simulateMany, TABLE_CASES } from '../src/ledger/promotion/simulate';
import type { SimulationConfig, SimulationSummary } from '../src/ledger/promotion/simulate';

const { values } = parseArgs({ options: { families: { type: 'string' }, seed: { type: 'string' }, sensitivity: { type: 'boolean' } } });
const families = Number(values.families ?? 2000);
const seed = Number(values.seed ?? 14);
if (!Number.isInteger(families) || families < 1 || families > 1_000_000) throw new Error(`--families: a whole number from 1 to 1000000, not ${values.families}`);
if (!Number.isInteger(seed)) throw new Error(`--seed: a whole number, not ${values.seed}`);

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

function line(name: string, s: SimulationSummary): string {
  return `| ${name} | ${pct(s.promoteRate)} | ${pct(s.rejectRate)} | ${pct(s.pauseRate)} | ${s.meanRuns.toFixed(1)} | ${s.meanReplayRuns.toFixed(1)} | ${pct(s.trialRate)} |`;
}

function table(title: string, extra: Partial<SimulationConfig>): void {
  console.log(`\n${title}\n`);
  console.log('| candidate vs incumbent | promoted | rejected | paused | mean runs in all | of them replays | went on to a trial |');
  console.log('|---|---|---|---|---|---|---|');
  for (const c of TABLE_CASES) {
    const s = simulateMany({ policy: defaultPolicy(), candidateSuccess: c.candidate, incumbentSuccess: c.incumbent, families, seed, ...extra });
    console.log(line(`${c.name}, ${c.candidate} vs ${c.incumbent}`, s));
  }
}

console.log(`promotion simulator: default policy, ${families} families per line, seed ${seed}`);
table('The loop at its defaults (incumbent history 300 runs, candidate replays only, task correlation 0.5)', {});
if (values.sensitivity) {
  table('A young incumbent: history of 100 runs', { incumbentHistory: 100 });
  table('Every 4th replay re-runs the incumbent too (pairs)', { incumbentEvery: 4 });
  table('Live trial only (no screen), as before', { start: 'trial' });
}
