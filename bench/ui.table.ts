// The UI figures of issue 11 as rows of bench/run-all.ts's table: each UI bench (bench/ui.*) run as its own process
// at 2-3 sizes (each installs its own stand-in of the vscode module, or drives headless Chromium), its JSON line read,
// and one row per figure with its peer, the ratio ours / peer, what it cost before, and the target.
// Sizes (comma-separated) and samples come from the environment, with defaults that keep `npm run bench:all` short:
//   BENCH_UI_VARIANTS (100,500) BENCH_UI_RUNS (1000,10000) BENCH_UI_EVENTS (10000,100000) BENCH_UI_NODES (500,2000)
//   BENCH_UI_SAMPLES (5)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.join(__dirname, '..');

/** One figure of the UI at one size: ours and its peer in ms (p50 of the bench's samples), and the target in ms. */
export interface UiRow {
  what: string;
  size: string;
  oursMs: number;
  peerMs: number;
  peer: string;
  beforeMs?: number;
  /** Absent for a figure printed beside a target's row without a target of its own. */
  targetMs?: number;
}

type Figures = Record<string, number | string | boolean>;

function sizes(name: string, fallback: string): number[] {
  return (process.env[name] ?? fallback).split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * Runs one bench as a child process and returns its last JSON line. A bench that fails, or prints no JSON line,
 * throws with its stderr's tail: a missing figure must not pass for a row.
 */
function runBench(args: string[], log: (line: string) => void): Figures {
  log(`bench: node ${args.join(' ')}`);
  // A bench that stops without exiting (an error with the ledger still open) must not hold the whole table.
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, timeout: 20 * 60_000, killSignal: 'SIGKILL' });
  const line = (r.stdout ?? '').trim().split('\n').reverse().find((l) => l.startsWith('{'));
  // A bench exits 1 when ours misses its target; its figures are still the figures, and the table shows the target.
  if (!line) throw new Error(`node ${args.join(' ')} printed no figures (exit ${r.status}): ${(r.stderr ?? '').slice(-2000)}`);
  return JSON.parse(line) as Figures;
}

const n = (f: Figures, key: string): number => {
  const v = f[key];
  if (typeof v !== 'number') throw new Error(`bench ${String(f.bench)} printed no ${key}`);
  return v;
};

/**
 * Every UI figure at every size (see the header for the sizes), in the order of the table: the Families tree (a change
 * and a full refresh), the Runs tree, one node's change in an open run graph, a run graph's first render, and
 * activation. Builds the webview bundle first (the page benches load media/webview.js). Chromium rows are left out,
 * with a line to say so, when /usr/bin/chromium (or CHROMIUM_PATH) is missing.
 */
export function runUiBenches(log: (line: string) => void): { rows: UiRow[]; skipped: string[] } {
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: root, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`esbuild failed: ${built.stderr}`);
  const samples = String(Number(process.env.BENCH_UI_SAMPLES ?? 5));
  const tsx = ['--import', 'tsx'];
  const rows: UiRow[] = [];
  const skipped: string[] = [];
  for (const v of sizes('BENCH_UI_VARIANTS', '100,500')) {
    const f = runBench([...tsx, 'bench/ui.families.ts', '--variants', String(v), '--samples', samples], log);
    const peer = 'list the variants + all evidence, no tree';
    rows.push({ what: 'Families tree, one variant changes', size: `${v} variants`, oursMs: n(f, 'oursMs'), peerMs: n(f, 'peerMs'), peer, beforeMs: n(f, 'refreshOldMs'), targetMs: n(f, 'targetMs') });
    rows.push({ what: 'Families tree, full refresh', size: `${v} variants`, oursMs: n(f, 'refreshMs'), peerMs: n(f, 'peerMs'), peer, beforeMs: n(f, 'refreshOldMs'), targetMs: n(f, 'targetMs') });
  }
  for (const r of sizes('BENCH_UI_RUNS', '1000,10000')) {
    const f = runBench([...tsx, 'bench/ui.tree.ts', '--runs', String(r), '--samples', samples], log);
    rows.push({ what: 'Runs tree, one run changes', size: `${r} runs`, oursMs: n(f, 'oursMs'), peerMs: n(f, 'peerMs'), peer: 'read the run + its graph once', beforeMs: n(f, 'beforeMs'), targetMs: n(f, 'targetMs') });
  }
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const nodes = sizes('BENCH_UI_NODES', '500,2000');
  if (fs.existsSync(chromium)) {
    for (const k of nodes) {
      const f = runBench([...tsx, 'bench/ui.patch.ts', '--nodes', String(k), '--runs', samples], log);
      rows.push({ what: 'Run graph, one node changes', size: `${k} nodes`, oursMs: n(f, 'totalOursMs'), peerMs: n(f, 'totalBeforeMs'), peer: 'the whole graph sent and laid out', targetMs: n(f, 'targetMs') });
      // What the person waits for on the page: the patch's arrival to the frame that shows it (Cytoscape's render
      // event and the animation frame after), against the whole-graph update on the same page.
      rows.push({ what: 'Run graph, one node changes: patch to painted frame', size: `${k} nodes`, oursMs: n(f, 'drawnOursMs'), peerMs: n(f, 'drawnBeforeMs'), peer: 'whole-graph update to its painted frame', targetMs: n(f, 'targetMs') });
      // On a big graph the first frame is the page's quick repaint of the node (src/webview/nodeRepaint.ts); this row
      // is Cytoscape's own frame of the change after it, the whole-canvas redraw (no target of its own).
      rows.push({ what: "Run graph, one node changes: until Cytoscape's own frame", size: `${k} nodes`, oursMs: n(f, 'redrawnOursMs'), peerMs: n(f, 'drawnBeforeMs'), peer: 'whole-graph update to its painted frame' });
    }
    // The biggest graph again, zoomed in to read (labels, arrows and dashes drawn), where Cytoscape's frame costs most.
    const biggest = Math.max(...nodes);
    const reading = runBench([...tsx, 'bench/ui.patch.ts', '--nodes', String(biggest), '--runs', samples, '--reading'], log);
    rows.push({ what: 'Run graph zoomed in to read, one node changes: patch to painted frame', size: `${biggest} nodes`, oursMs: n(reading, 'drawnOursMs'), peerMs: n(reading, 'drawnBeforeMs'), peer: 'whole-graph update to its painted frame', targetMs: n(reading, 'targetMs') });
    for (const k of nodes) {
      const f = runBench(['bench/ui.mjs', '--nodes', String(k), '--runs', samples], log);
      rows.push({ what: 'Run graph, first render', size: `${k} nodes`, oursMs: n(f, 'oursMs'), peerMs: n(f, 'peerMs'), peer: "Cytoscape's breadthfirst layout", targetMs: n(f, 'targetMs') });
    }
  } else {
    skipped.push(`run graph rows: ${chromium} is missing (scripts/e2e/setup.sh installs it)`);
  }
  for (const e of sizes('BENCH_UI_EVENTS', '10000,100000')) {
    const f = runBench([...tsx, 'bench/ui.activation.ts', '--events', String(e), '--samples', samples], log);
    rows.push({ what: 'activate()', size: `${e} events`, oursMs: n(f, 'oursMs'), peerMs: n(f, 'peerMs'), peer: 'opening the ledger (awaited before)', targetMs: n(f, 'targetMs') });
  }
  return { rows, skipped };
}

/** Prints the UI rows as a Markdown table (the run-all table's UI part), one line per figure and size. */
export function printUiTable(result: { rows: UiRow[]; skipped: string[] }, print: (line: string) => void): void {
  const f = (x: number) => x.toFixed(1);
  // Ours is often hundreds of times below its peer here (a patch against the whole graph): two figures say how far.
  const ratio = (x: number) => (x >= 0.1 ? x.toFixed(2) : x.toPrecision(2));
  print('| UI | size | ours ms | peer ms | ours / peer | before ms | target ms | peer |');
  print('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const r of result.rows) {
    print(`| ${r.what} | ${r.size} | ${f(r.oursMs)} | ${f(r.peerMs)} | ${ratio(r.oursMs / r.peerMs)}× | ${r.beforeMs === undefined ? '-' : f(r.beforeMs)} | ${r.targetMs === undefined ? '-' : `≤ ${r.targetMs}${r.oursMs > r.targetMs ? ' (missed)' : ''}`} | ${r.peer} |`);
  }
  for (const s of result.skipped) print(`(left out: ${s})`);
}
