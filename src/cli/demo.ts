import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worktrees } from '../controller/worktree';
import { FormulaService, PromotionService, openLedger } from '../ledger/index';
import type { Ledger } from '../ledger/index';
import { startDemoModel } from './demoModel';
import { drive } from './drive';

/** What the demo needs from the command line. */
export interface DemoOptions {
  /** The folder the demo's sample repository is created under (`<workspace>/.gascity-demo/sample`). */
  workspace: string;
  /** `demo`: the shipped offline model on loopback; `codex`: the person's own Codex configuration. */
  model: 'demo' | 'codex';
  workers: number;
  print: (line: string) => void;
  signal?: AbortSignal;
}

const SAMPLE: Record<string, string> = {
  'package.json': `${JSON.stringify({ name: 'gascity-demo-sample', version: '1.0.0', private: true, scripts: { test: 'node test.js' } }, null, 2)}\n`,
  'src/greet.js': "function greet(name) {\n  return 'Hello, ' + name + '!';\n}\n\nmodule.exports = { greet };\n",
  'src/math.js': 'function add(a, b) {\n  return a + b;\n}\n\nfunction mul(a, b) {\n  return a * b;\n}\n\nmodule.exports = { add, mul };\n',
  'test.js': [
    "const assert = require('node:assert');",
    "const { greet } = require('./src/greet');",
    "const { add, mul } = require('./src/math');",
    "assert.strictEqual(greet('Ada'), 'Hello, Ada!');",
    'assert.strictEqual(add(2, 3), 5);',
    'assert.strictEqual(mul(4, 5), 20);',
    "console.log('3 tests passed');",
    '',
  ].join('\n'),
  '.gitignore': '.gascity/\n',
};

/** The shipped formulas: `formulas/` of this package (beside dist/). */
export function shippedFormulas(): string {
  for (const p of [path.join(__dirname, '..', 'formulas'), path.join(__dirname, '..', '..', 'formulas')]) if (fs.existsSync(p)) return p;
  throw new Error('the shipped formulas folder is missing from this installation');
}

/** Creates the sample git repository (two modules and their tests) the demo's run works on. */
export function createSample(dir: string): { git: boolean } {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [file, text] of Object.entries(SAMPLE)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  const git = (...args: string[]) => spawnSync('git', ['-c', 'user.name=Gas City demo', '-c', 'user.email=demo@gascity.invalid', ...args], { cwd: dir, encoding: 'utf8' });
  const init = git('init', '-q');
  if (init.status !== 0) return { git: false };
  git('add', '-A');
  git('commit', '-q', '-m', 'sample: two modules and their tests');
  return { git: true };
}

/**
 * The main job on a fresh machine: a sample repository, the shipped `refactor-with-tests` formula, and
 * the controller driving it through real `codex app-server` threads (two refactor nodes at once), the
 * demo acting as the person at the human gate and the review, then a timeline and the evidence.
 * Returns the process exit code: 0 when the run succeeded.
 */
export async function demo(o: DemoOptions): Promise<number> {
  const root = path.join(o.workspace, '.gascity-demo');
  const sample = path.join(root, 'sample');
  const { git } = createSample(sample);
  o.print(`sample repository: ${sample}${git ? ' (git, one commit)' : ' (git not found: plain folder)'}`);
  const ledger = await openLedger(path.join(sample, '.gascity', 'ledger'), { actor: 'demo' });
  const formulas = new FormulaService(ledger, { workspaceDir: sample });
  const promotion = new PromotionService(ledger, formulas);
  const model = o.model === 'demo' ? await startDemoModel() : null;
  try {
    const imported = await formulas.importFormulas(shippedFormulas());
    o.print(`imported ${imported.imported.length} shipped formula(s) into the ledger ${ledger.store.dir}`);
    const run = await formulas.startRunFromFormula({
      family: 'refactor-with-tests',
      vars: { goal: 'mark each module as refactored without changing its behaviour', files: 'src/greet.js,src/math.js', test_command: 'node test.js' },
      taskKey: 'demo-sample',
    });
    o.print(`started run ${run.runId} of refactor-with-tests (variant ${run.variantId}, generation ${run.generation}): ${run.nodeIds.length} nodes`);
    // Codex keeps the demo's sessions and logs in a folder of the demo's own, never in ~/.codex.
    if (model) fs.mkdirSync(path.join(root, 'codex-home'), { recursive: true });
    o.print(model ? `model: the demo's offline model on ${model.baseUrl} (no OpenAI account needed)` : 'model: your own Codex configuration (~/.codex/config.toml)');
    const { runs, interrupted } = await drive({
      ledger, formulas, promotion, workspaceDir: sample, runIds: [run.runId], workers: o.workers, print: o.print, signal: o.signal,
      codexHome: model ? path.join(root, 'codex-home') : undefined,
      codexConfig: model ? {
        model_provider: 'gascity-demo', model: 'gascity-demo',
        'model_providers.gascity-demo': { name: 'Gas City demo model', base_url: model.baseUrl, wire_api: 'responses', requires_openai_auth: false, supports_websockets: false },
      } : undefined,
      onEvent: (e) => {
        if (e.type !== 'needsPerson') return;
        // The demo plays the person: what waits for one is answered a moment later, as a click would.
        for (const n of e.nodes) {
          setTimeout(() => void actAsPerson(ledger, n.id, n.state, o.print), 500);
        }
      },
    });
    printTimeline(ledger, run.runId, o.print);
    const final = runs[0];
    const evidence = ledger.evidence({ runId: run.runId }).filter((e) => e.kind === 'run_outcome');
    o.print(`run ${run.runId} is ${final?.status ?? 'unknown'} (${final?.outcome ?? 'no outcome'}); evidence for variant ${run.variantId}: ` +
      `${evidence.map((e) => `run_outcome ${e.success ? 'success' : 'failure'} by ${e.actor}`).join(', ') || 'none'}`);
    // The run worked in its own git worktree (docs/replay.md); the demo merges its branch as the person would.
    const worktrees = new Worktrees({ ledger, workspaceDir: sample, actor: 'person:demo' });
    const wt = worktrees.get(run.runId);
    let changed = '';
    if (wt && final?.outcome === 'success') {
      const merged = await worktrees.merge(run.runId, 'person:demo');
      o.print(`        (as the person) merged branch ${merged.branch} (${merged.filesChanged ?? 0} file(s), +${merged.insertions ?? 0} -${merged.deletions ?? 0}) into the sample: gascity run merge ${run.runId}`);
      changed = spawnSync('git', ['diff', '--stat', wt.baseCommit, 'HEAD'], { cwd: sample, encoding: 'utf8' }).stdout.trim();
    } else if (wt) {
      o.print(`the run's work stays on branch ${wt.branch} in ${wt.path}: gascity run merge ${run.runId} or gascity run discard ${run.runId}`);
    } else if (git) {
      changed = spawnSync('git', ['diff', '--stat'], { cwd: sample, encoding: 'utf8' }).stdout.trim();
    }
    if (changed) o.print(`what Codex changed in the sample:\n${changed}`);
    o.print(`look closer: node dist/cli.js --workspace ${path.relative(process.cwd(), sample) || '.'} show ${run.runId}`);
    if (interrupted) return 130;
    return final?.status === 'done' && final.outcome === 'success' ? 0 : 1;
  } finally {
    await model?.close();
    promotion.dispose();
    ledger.close();
  }
}

async function actAsPerson(ledger: Ledger, nodeId: string, state: string, print: (line: string) => void): Promise<void> {
  try {
    if (state === 'review') {
      await ledger.reviewNode({ nodeId, verdict: 'approve', note: 'approved by the demo, acting as the person' }, 'person:demo');
      print(`        (as the person) approved the review of ${nodeId}`);
    } else {
      await ledger.openGate({ nodeId, note: 'opened by the demo, acting as the person' }, 'person:demo');
      print(`        (as the person) opened the gate of ${nodeId}`);
    }
  } catch (e) {
    print(`        (as the person) could not answer ${nodeId}: ${(e as Error).message}`);
  }
}

/** The run's life from the ledger's events, with seconds since the run started. */
function printTimeline(ledger: Ledger, runId: string, print: (line: string) => void): void {
  const events = ledger.events(0, 100_000).filter((e) => {
    const p = e.payload as { runId?: string; nodeId?: string };
    return p.runId === runId || (p.nodeId ?? '').startsWith(`${runId}.`);
  });
  const t0 = Date.parse(events[0]?.ts ?? new Date().toISOString());
  const shown = new Set(['run.started', 'node.dispatched', 'node.reported', 'node.gate_opened', 'node.reviewed', 'node.expanded', 'node.lease_expired', 'node.recovered', 'evidence.recorded']);
  print('timeline (from the ledger):');
  for (const e of events) {
    if (!shown.has(e.kind)) continue;
    const p = e.payload as { nodeId?: string; outcome?: string; verdict?: string; kind?: string; success?: boolean | null };
    if (e.kind === 'evidence.recorded' && p.kind !== 'run_outcome') continue;
    const what = e.kind === 'node.reported' ? `reported ${p.outcome}` : e.kind === 'node.reviewed' ? `review ${p.verdict}`
      : e.kind === 'evidence.recorded' ? `run outcome ${p.success ? 'success' : 'failure'} recorded as evidence` : e.kind.replace(/^node\./, '');
    print(`  ${((Date.parse(e.ts) - t0) / 1000).toFixed(1).padStart(6)}s  ${(p.nodeId ?? runId).padEnd(34)} ${what}  (${e.actor})`);
  }
}
