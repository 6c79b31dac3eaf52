import * as path from 'node:path';
import { FormulaService, LedgerError, PromotionService, openLedger, resolveLedgerDir } from '../ledger/index';
import type { Ledger } from '../ledger/index';
import { ledgerProjection } from '../ledger/projection';
import { PROJECTION_TABLES, dumpProjection } from '../ledger/schema';
import { replay } from '../ledger/store/store';

/**
 * `gascity`: the ledger from a terminal. It opens the same ledger the extension and the MCP servers
 * use (see resolveLedgerDir), so everything it does is visible to them at once, and the reverse.
 */
const HELP = `gascity — the Gas City for Codex ledger from the command line

Usage: gascity [--ledger DIR] [--workspace DIR] [--json] <command> [args]

  status                          ledger location, families, runs, ready work
  import [DIR]                    import *.formula.toml from DIR (default: <workspace>/formulas) and evolution files
  families                        formula families and their active variants
  lineage FAMILY                  variants of a family by generation, with parents and status
  variant ID                      a variant's formula text and its diff against its parent
  mutate VARIANT MUTATIONS_JSON   derive a candidate variant (JSON array of mutations)
  select VARIANT [REASON]         make a variant the active one of its family
  rollback FAMILY [REASON]        go back to the previously active variant
  trial VARIANT [screen|trial]    start a promotion trial of a candidate against the active variant
  assess VARIANT                  where a candidate stands: arms, statistics, guardrails, what is missing
  promote VARIANT [REASON]        promote by hand (recorded as a person's decision, then watched)
  reject VARIANT [REASON]         reject by hand (recorded; the same content is refused later)
  decisions FAMILY                the family's recorded decisions
  start FAMILY [k=v ...] [--task KEY]   start a run of the family's active variant
  runs                            recent runs
  run ID                          a run's nodes and edges
  ready                           nodes that can be claimed now
  claim WORKER [NODE]             claim a node (the oldest ready one if NODE is omitted)
  report NODE WORKER done|failed [SUMMARY]
  events [AFTER_SEQ]              the event log
  checkpoint                      fold the journal into a new snapshot
  verify                          integrity check, and replay of every event compared with the tables
  demo                            import the formulas and walk one run from start to finish
`;

interface Args {
  ledger?: string;
  workspace: string;
  json: boolean;
  task?: string;
  rest: string[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { workspace: process.cwd(), json: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--ledger') a.ledger = argv[++i];
    else if (x === '--workspace') a.workspace = path.resolve(argv[++i] ?? '.');
    else if (x === '--json') a.json = true;
    else if (x === '--task') a.task = argv[++i];
    else if (x === '-h' || x === '--help') a.rest.unshift('help');
    else a.rest.push(x);
  }
  return a;
}

function out(args: Args, value: unknown, text: () => string): void {
  process.stdout.write(args.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

function need(v: string | undefined, what: string): string {
  if (!v) throw new LedgerError(`missing argument: ${what} (see gascity help)`, 'invalid_input', what);
  return v;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const [cmd = 'help', ...rest] = args.rest;
  if (cmd === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const dir = resolveLedgerDir({ dir: args.ledger, cwd: args.workspace });
  const ledger = await openLedger(dir, { actor: `cli:${process.pid}` });
  const formulas = new FormulaService(ledger, { workspaceDir: args.workspace });
  // Constructing the promotion service routes new runs of a family in trial to their arm.
  const promotion = new PromotionService(ledger, formulas);
  try {
    const before = ledger.seq;
    await run(cmd, rest, args, ledger, formulas, promotion, dir);
    // Evidence this command wrote (a finished run, a review) is put before the family's rule at once.
    if (ledger.seq > before) {
      for (const r of await promotion.evaluateAffected(ledger.events(before, Number.MAX_SAFE_INTEGER))) {
        if (r.action !== 'none') process.stderr.write(`promotion: ${r.familyId} ${r.action}: ${r.reason}\n`);
      }
    }
    return 0;
  } finally {
    promotion.dispose();
    ledger.close();
  }
}

async function run(cmd: string, rest: string[], args: Args, ledger: Ledger, formulas: FormulaService, promotion: PromotionService, dir: string): Promise<void> {
  switch (cmd) {
    case 'status': {
      const families = formulas.listFamilies();
      const running = ledger.listRuns({ status: 'running' });
      const ready = ledger.readyWork({ limit: 1000 });
      return out(args, { ledger: dir, seq: ledger.seq, families, running, ready: ready.length }, () => [
        `ledger   ${dir}`,
        `events   ${ledger.seq}`,
        `families ${families.length}${families.length ? `: ${families.map((f) => `${f.id} (g${f.activeGeneration ?? '?'})`).join(', ')}` : ''}`,
        `running  ${running.length} run(s)`,
        `ready    ${ready.length} node(s)`,
      ].join('\n'));
    }
    case 'import': {
      const from = path.resolve(args.workspace, rest[0] ?? 'formulas');
      const r = await formulas.importFormulas(from);
      return out(args, r, () => [
        ...r.imported.map((i) => `${i.created ? 'new ' : 'same'} ${i.familyId} ${i.variantId}`),
        ...r.problems.map((p) => `problem ${p.file}:${p.line} ${p.field}: ${p.message} — ${p.fix}`),
        `${r.imported.filter((i) => i.created).length} new variant(s), ${r.problems.length} problem(s)`,
      ].join('\n'));
    }
    case 'families': {
      const fams = formulas.listFamilies();
      return out(args, fams, () => fams.map((f) => `${f.id.padEnd(32)} active ${f.activeVariantId ?? '-'} (g${f.activeGeneration ?? '?'}), ${f.variantCount} variant(s), ${f.candidateCount} candidate(s)`).join('\n') || 'no families; run `gascity import`');
    }
    case 'lineage': {
      const l = formulas.lineage(need(rest[0], 'FAMILY'));
      if (!l) throw new LedgerError(`no family "${rest[0]}"`, 'not_found', 'FAMILY');
      return out(args, l, () => l.variants.map((v) =>
        `g${v.generation} ${v.id}${v.id === l.activeVariantId ? ' *active*' : ''} [${v.status}] ${v.summary}` +
        `${v.parents.length ? ` ← ${v.parents.join(', ')}` : ''}  runs ${v.finishedRuns}/${v.runs}, ${v.successes} succeeded`).join('\n'));
    }
    case 'variant': {
      const id = need(rest[0], 'ID');
      const v = formulas.getVariant(id);
      if (!v) throw new LedgerError(`no variant "${id}"`, 'not_found', 'ID');
      const text = formulas.variantText(id)!;
      const diff = formulas.diffVariant(id);
      return out(args, { ...v, text, diff }, () => `${text}\n--- diff against parent ---\n${diff}`);
    }
    case 'mutate': {
      const mutations = JSON.parse(need(rest[1], 'MUTATIONS_JSON')) as unknown;
      const r = await formulas.mutateVariant({ variantId: need(rest[0], 'VARIANT'), mutations, proposedBy: 'cli' });
      return out(args, r, () => `${r.created ? 'created' : 'same as'} ${r.variantId} (g${r.generation}): ${r.summary}\n${r.diff}${r.evolutionFile ? `\nwrote ${r.evolutionFile}` : ''}`);
    }
    case 'select': {
      const r = await formulas.selectVariant({ variantId: need(rest[0], 'VARIANT'), reason: rest[1] ?? 'selected from the CLI' });
      return out(args, r, () => `${r.familyId}: active is now ${r.variantId} (was ${r.previousVariantId ?? 'none'})`);
    }
    case 'rollback': {
      const r = await formulas.rollback({ familyId: need(rest[0], 'FAMILY'), reason: rest[1] ?? 'rolled back from the CLI' });
      return out(args, r, () => `${r.familyId}: rolled back to ${r.variantId} (from ${r.previousVariantId})`);
    }
    case 'trial': {
      const stage = rest[1] === 'screen' ? 'screen' : 'trial';
      const t = await promotion.startTrial({ variantId: need(rest[0], 'VARIANT'), stage });
      return out(args, t, () => `trial ${t.id}: ${t.candidateId} against ${t.incumbentId} (${t.stage}, ${Math.round(t.share * 100)}% of new runs)`);
    }
    case 'assess': {
      const a = await promotion.assess(need(rest[0], 'VARIANT'));
      return out(args, a, () => [
        `${a.variantId} [${a.status}] ${a.stage}: the rule says ${a.verdict}${a.verdict !== a.ruleVerdict ? ` (on its own: ${a.ruleVerdict})` : ''}`,
        `  candidate ${a.arms.candidate.successes}/${a.arms.candidate.runs}, incumbent ${a.arms.incumbent.successes}/${a.arms.incumbent.runs}; ` +
          `P(better) ${a.statistics.probBetter.toFixed(3)}, expected loss ${a.statistics.expectedLoss.toFixed(4)}`,
        ...a.guardrails.map((g) => `  guardrail ${g.name}: ${g.status}`),
        ...a.missing.map((m) => `  missing: ${m}`),
      ].join('\n'));
    }
    case 'promote': {
      const r = await promotion.promote(need(rest[0], 'VARIANT'), { actor: `person:cli:${process.env.USER ?? 'unknown'}`, reason: rest[1] ?? 'promoted from the CLI' });
      return out(args, r, () => `${r.familyId}: ${r.action} — ${r.reason}`);
    }
    case 'reject': {
      const r = await promotion.reject(need(rest[0], 'VARIANT'), { actor: `person:cli:${process.env.USER ?? 'unknown'}`, reason: rest[1] ?? 'rejected from the CLI' });
      return out(args, r, () => `${r.familyId}: ${r.action} — ${r.reason}`);
    }
    case 'decisions': {
      const ds = promotion.decisions(need(rest[0], 'FAMILY'));
      return out(args, ds, () => ds.map((d) => `${d.at} ${d.verdict.padEnd(8)} ${d.candidateId} by ${d.actor} (policy v${d.policyVersion ?? '?'} ${d.policyHash?.slice(0, 8) ?? ''}): ${d.reason}`).join('\n') || 'no decisions yet');
    }
    case 'start': {
      const family = need(rest[0], 'FAMILY');
      const vars: Record<string, string> = {};
      for (const kv of rest.slice(1)) {
        const i = kv.indexOf('=');
        if (i <= 0) throw new LedgerError(`"${kv}" is not k=v`, 'invalid_input', 'vars');
        vars[kv.slice(0, i)] = kv.slice(i + 1);
      }
      const r = await formulas.startRunFromFormula({ family, vars, taskKey: args.task });
      return out(args, r, () => `started ${r.runId} (${family} ${r.variantId}, g${r.generation}) with ${r.nodeIds.length} node(s)`);
    }
    case 'runs': {
      const runs = ledger.listRuns({ limit: 50 });
      return out(args, runs, () => runs.map((r) => `${r.id} ${r.status.padEnd(9)} ${r.outcome ?? ''} ${r.title} ${r.variantId ? `(${r.variantId} g${r.generation})` : ''}`).join('\n') || 'no runs');
    }
    case 'run': {
      const g = ledger.runGraph(need(rest[0], 'ID'));
      if (!g) throw new LedgerError(`no run "${rest[0]}"`, 'not_found', 'ID');
      return out(args, g, () => [
        `${g.run.id} ${g.run.status} ${g.run.title}`,
        ...g.nodes.map((n) => `  ${n.state.padEnd(8)} ${n.id}${n.worker ? ` [${n.worker}]` : ''} — ${n.title}`),
        ...g.edges.map((e) => `  ${e.from} -${e.kind}-> ${e.to}`),
      ].join('\n'));
    }
    case 'ready': {
      const nodes = ledger.readyWork();
      return out(args, nodes, () => nodes.map((n) => `${n.id} — ${n.title}`).join('\n') || 'nothing is ready');
    }
    case 'claim': {
      const r = await ledger.claimNode({ worker: need(rest[0], 'WORKER'), nodeId: rest[1] });
      return out(args, r, () => (r ? `claimed ${r.nodeId} until ${r.expiresAt}` : 'nothing is ready to claim'));
    }
    case 'report': {
      const r = await ledger.reportNode({ nodeId: need(rest[0], 'NODE'), worker: need(rest[1], 'WORKER'), outcome: need(rest[2], 'done|failed'), summary: rest[3] ?? '' });
      return out(args, r, () => `${r.nodeId} is ${r.state}; run is ${r.runStatus}`);
    }
    case 'events': {
      const events = ledger.events(Number(rest[0] ?? 0));
      return out(args, events, () => events.map((e) => `${e.seq} ${e.ts} ${e.actor} ${e.kind}`).join('\n'));
    }
    case 'checkpoint': {
      await ledger.store.checkpoint();
      return out(args, { seq: ledger.seq }, () => `checkpoint at seq ${ledger.seq}`);
    }
    case 'verify': {
      const integrity = ledger.sql.all<{ integrity_check: string }>('PRAGMA integrity_check').map((r) => r.integrity_check);
      const rebuilt = await replay(ledgerProjection, ledger.events(0, Number.MAX_SAFE_INTEGER));
      const live = dumpProjection(ledger.sql);
      const fresh = dumpProjection(rebuilt);
      const differing = PROJECTION_TABLES.filter((t) => JSON.stringify(fresh[t]) !== JSON.stringify(live[t]));
      rebuilt.close();
      const ok = integrity.join() === 'ok' && differing.length === 0;
      out(args, { ok, integrity, differing, seq: ledger.seq }, () =>
        ok ? `ok: integrity check passed and replaying ${ledger.seq} events rebuilds every table exactly` : `NOT OK: integrity ${integrity.join('; ')}; tables differing after replay: ${differing.join(', ') || 'none'}`);
      if (!ok) process.exitCode = 1;
      return;
    }
    case 'demo':
      return demo(args, ledger, formulas);
    default:
      throw new LedgerError(`unknown command "${cmd}"; run gascity help`, 'invalid_input', 'command');
  }
}

/** The main job on a fresh machine: import the shipped formulas and drive one run to its end. */
async function demo(args: Args, ledger: Ledger, formulas: FormulaService): Promise<void> {
  const log = (s: string) => { if (!args.json) process.stdout.write(`${s}\n`); };
  const imported = await formulas.importFormulas(path.resolve(args.workspace, 'formulas'));
  log(`imported ${imported.imported.length} formula variant(s) into ${ledger.store.dir}`);
  const family = formulas.listFamilies().find((f) => f.id === 'implement-and-review') ?? formulas.listFamilies()[0];
  if (!family) throw new LedgerError('no formulas to run; put *.formula.toml files under formulas/', 'not_found', 'formulas');
  const formula = formulas.variantFormula(family.activeVariantId!);
  const vars = Object.fromEntries(Object.entries(formula.vars).filter(([, s]) => s.required).map(([n, s]) => [n, s.enum?.[0] ?? `demo ${n}`]));
  const started = await formulas.startRunFromFormula({ family: family.id, vars, taskKey: `demo-${Date.now()}` });
  log(`started run ${started.runId} of ${family.id} (variant ${started.variantId}, generation ${started.generation}), ${started.nodeIds.length} nodes`);
  for (let guard = 0; guard < 500; guard++) {
    const run = ledger.getRun(started.runId)!;
    if (run.status !== 'running') break;
    const [next] = ledger.readyWork({ runId: started.runId, limit: 1 });
    if (next) {
      await ledger.claimNode({ nodeId: next.id, worker: 'demo-worker' });
      const r = await ledger.reportNode({ nodeId: next.id, worker: 'demo-worker', outcome: 'done', summary: 'done by the demo', tokens: 100, durationMs: 1000 });
      log(`  ${next.id}: ${r.state}`);
      continue;
    }
    const waiting = ledger.runGraph(started.runId)!.nodes.find((n) => n.state === 'review' || n.state === 'blocked');
    if (!waiting) break;
    if (waiting.state === 'review') await ledger.reviewNode({ nodeId: waiting.id, verdict: 'approve', note: 'approved by the demo' });
    else await ledger.openGate({ nodeId: waiting.id, note: 'opened by the demo' });
    log(`  ${waiting.id}: ${waiting.state === 'review' ? 'review approved' : 'gate opened'}`);
  }
  const run = ledger.getRun(started.runId)!;
  log(`run ${run.id} is ${run.status} (${run.outcome ?? 'no outcome'}), ${ledger.seq} events in the ledger`);
  if (args.json) out(args, { run, seq: ledger.seq }, () => '');
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    const err = e as Error & { field?: string };
    process.stderr.write(`gascity: ${err instanceof LedgerError || err instanceof SyntaxError ? err.message : err.stack ?? String(err)}\n`);
    process.exitCode = 2;
  },
);
