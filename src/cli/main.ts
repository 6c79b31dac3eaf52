import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppServerError } from '../codex/appServer';
import { parseProfileFlag, parseWorkerProfiles } from '../controller/profiles'; // branch overlays-2
import type { WorkerProfile } from '../controller/profiles';
import { explainWait } from '../controller/explain';
import { FormulaService, LedgerError, OverlayService, PromotionService, formatVariant, openLedger, resolveLedgerDir } from '../ledger/index';
import type { Ledger, StoredEvent } from '../ledger/index';
import { archiveDigest } from '../ledger/archive';
import { instantiate } from '../ledger/formula/instantiate';
import { ledgerProjection } from '../ledger/projection';
import { PROJECTION_TABLES, dumpProjection } from '../ledger/schema';
import { replay } from '../ledger/store/store';
import { COMMAND_SHAPES, checkCommandArguments, parseOptions, refuseExtra, unexpectedArguments } from './args';
import { demo } from './demo';
import { drive } from './drive';
import { mcpCommand } from './mcp';
import { evidenceCommand } from './evidence';
import { isRunWorktreeCommand, replayCommand, worktreeCommand } from './replay';

/**
 * `gascity`: the ledger from a terminal. It opens the same ledger the extension and the MCP servers
 * use (see resolveLedgerDir), so everything it does is visible to them at once, and the reverse.
 */
const HELP = `gascity — the Gas City for Codex ledger from the command line

Usage: gascity [--ledger DIR] [--workspace DIR] [--json] <command> [args]

Formulas
  import [DIR]                    import *.formula.toml from DIR (default: <workspace>/formulas) and evolution files
  families                        formula families and their active variants
  lineage FAMILY                  variants of a family by generation, with parents and status
  variant ID                      a variant's formula text and its diff against its parent
  mutate VARIANT MUTATIONS_JSON   derive a candidate variant, e.g.
                                  gascity mutate v-1a2b3c4d '[{"op":"edit_instructions","stepId":"plan","instructions":"Ask first."}]'
  select VARIANT [REASON]         make a variant the active one of its family
  rollback FAMILY [REASON]        go back to the previously active variant

Promotion
  trial VARIANT [screen|trial]    start a promotion trial of a candidate against the active variant
  assess VARIANT                  where a candidate stands: arms, statistics, guardrails, what is missing
  promote VARIANT [REASON]        promote by hand (recorded as a person's decision, then watched)
  reject VARIANT [REASON]         reject by hand (recorded; the same content is refused later)
  decisions FAMILY                the family's recorded decisions
  evidence VARIANT|FAMILY         per step: attempts, failures, retries, interventions, tokens; failing runs (gascity evidence --help)

Runs
  run FAMILY [k=v ...] --codex [--workers N] [--task KEY]
                                  start a run and drive it to its end with Codex in the foreground (Ctrl-C stops cleanly)
  run RUN_ID --codex [--workers N]  drive an existing run with Codex
    --profile NAME=MODEL[,key=value]  (repeatable) a Codex worker profile that bids for nodes announced for bids;
                                  keys: modelProvider, effort, sandbox, approvalPolicy, baseInstructions
  start FAMILY [k=v ...] [--task KEY]   record a run without running it (a controller or a worker picks it up)
  runs                            recent runs
  show RUN_ID                     a run's nodes in workflow order, what each waits for, and its edges
  needs                           what waits for a person: human gates, escalations, reviews
  gate open NODE [NOTE]           open a node's gate (a human gate, an escalation, a cancelled node)
  review NODE approve|changes [NOTE]   approve a node's result, or request changes (a failed attempt)
  cancel RUN_ID|NODE [REASON]     cancel a whole run, or one node (it then waits for a person)
  worktrees                       runs' git worktrees: branch, base commit, diff stats, status
  run merge RUN_ID                merge a finished run's branch (gascity/RUN_ID) into the workspace's branch; removes its worktree
  run discard RUN_ID              discard a run's worktree and branch
  replay VARIANT [--tasks N] [--budget-tokens T] [--budget-runs R] [--budget-minutes M]
                                  replay the incumbent's past tasks on the candidate and the incumbent with Codex (the screen)

Workers by hand
  ready                           nodes that can be claimed now (including ones whose lease ran out)
  claim WORKER [NODE]             claim a node (the oldest claimable one if NODE is omitted)
  report NODE WORKER done|failed [SUMMARY]

Codex
  mcp register|unregister|check [--approvals write|read|codex]
                                  register the Gas City MCP server in ~/.codex/config.toml (see gascity mcp --help)

Ledger
  status                          ledger location, families, runs, ready work
  events [AFTER_SEQ]              the event log
  checkpoint                      fold the journal into a new snapshot
  archive [DAYS]                  move finished runs older than DAYS days (default 30) out of memory into the archive
  verify                          integrity check, and replay of every event compared with the tables
  demo [--model demo|codex] [--workers N]
                                  create a sample repository and let Codex run a shipped formula on it, end to end
`;

/** The command line after parsing: options, then the command and its positional arguments. */
interface Args {
  ledger?: string;
  workspace: string;
  json: boolean;
  task?: string;
  codex: boolean;
  workers: number;
  model: 'demo' | 'codex';
  rest: string[];
  /** branch replay: `gascity replay` options, checked by src/cli/replay.ts. */
  replay: { tasks?: string; budgetTokens?: string; budgetRuns?: string; budgetMinutes?: string };
  /** branch overlays-2: `--profile NAME=MODEL[,key=value…]`, checked. */
  profiles: WorkerProfile[];
}

/** The options of the main parser; `multiple` ones may be given more than once, any other twice is refused. */
const MAIN_OPTIONS = {
  ledger: { type: 'string' }, workspace: { type: 'string' }, json: { type: 'boolean' }, task: { type: 'string' },
  codex: { type: 'boolean' }, workers: { type: 'string' }, model: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  // branch replay
  tasks: { type: 'string' }, 'budget-tokens': { type: 'string' }, 'budget-runs': { type: 'string' }, 'budget-minutes': { type: 'string' },
  // branch overlays-2
  profile: { type: 'string', multiple: true },
} as const;

/**
 * Parses argv with the one parser (src/cli/args.ts); an unknown option, an option given twice, a bad value or
 * a positional argument the command does not take is a LedgerError naming it.
 */
function parseCommandLine(argv: string[]): Args {
  const parsed = parseOptions(argv, MAIN_OPTIONS, 'gascity help');
  const v = parsed.values;
  const workers = v.workers === undefined ? 2 : Number(v.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new LedgerError(`--workers: give a whole number from 1 to 64, not "${v.workers}"`, 'invalid_input', 'workers');
  if (v.model !== undefined && v.model !== 'demo' && v.model !== 'codex') throw new LedgerError(`--model: "demo" (the shipped offline model) or "codex" (your Codex configuration), not "${v.model}"`, 'invalid_input', 'model');
  // `--help` anywhere shows the help, whatever else was given.
  const rest = v.help ? ['help'] : [...parsed.positionals];
  if (!v.help) checkCommandArguments(rest[0] ?? 'help', rest.slice(1), parsed.options);
  // A mistyped --workspace would otherwise get a new, empty ledger made inside a folder created for it
  // (only `demo` makes its sample workspace itself).
  if (v.workspace !== undefined && rest[0] !== 'demo' && rest[0] !== 'help' && !isFolder(v.workspace)) {
    throw new LedgerError(`--workspace: ${v.workspace.slice(0, 200)} is not a folder; give the folder of your workspace`, 'invalid_input', 'workspace');
  }
  return {
    ledger: v.ledger, workspace: path.resolve(v.workspace ?? process.cwd()), json: v.json ?? false, task: v.task, codex: v.codex ?? false,
    workers, model: (v.model as Args['model'] | undefined) ?? 'demo', rest,
    replay: { tasks: v.tasks, budgetTokens: v['budget-tokens'], budgetRuns: v['budget-runs'], budgetMinutes: v['budget-minutes'] },
    profiles: parseWorkerProfiles((v.profile ?? []).map((p, i) => parseProfileFlag(p, i)), '--profile'),
  };
}

function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function out(args: Args, value: unknown, text: () => string): void {
  process.stdout.write(args.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

function need(v: string | undefined, what: string): string {
  if (!v) throw new LedgerError(`missing argument: ${what} (see gascity help)`, 'invalid_input', what);
  return v;
}

/** The person running the CLI, for decisions and gate openings: `person:cli:<OS user>`. */
function person(): string {
  let user = process.env.USER ?? process.env.USERNAME;
  try {
    user = os.userInfo().username || user;
  } catch {
    // No passwd entry (some containers): the environment's name, if any.
  }
  return `person:cli:${user ?? 'unknown'}`;
}

/**
 * `k=v` arguments of `command` as run variables; a value that is a JSON array is a list. Arguments that are
 * not `k=v` are refused together, by name, with the command's usage (they are not variables, and nothing else
 * takes them).
 */
function parseVars(command: 'run' | 'start', pairs: string[]): Record<string, string | string[]> {
  const notVars = pairs.filter((kv) => kv.indexOf('=') <= 0);
  if (notVars.length) throw unexpectedArguments(command, notVars, COMMAND_SHAPES.get(command)!.usage, 'run variables are name=value');
  // Collected in a Map and made an object with own properties, so that `__proto__=x` is a variable the
  // formula check refuses by name instead of an assignment to the object's prototype that vanishes.
  const vars = new Map<string, string | string[]>();
  for (const kv of pairs) {
    const i = kv.indexOf('=');
    const name = kv.slice(0, i);
    if (vars.has(name)) throw new LedgerError(`vars.${name}: given twice; give each variable once`, 'invalid_input', `vars.${name}`);
    const value = kv.slice(i + 1);
    vars.set(name, value.startsWith('[') ? parseJson<string[]>(value, `vars.${name}`) : value);
  }
  return Object.fromEntries(vars);
}

/** JSON from the command line; a parse failure names the argument and shows where it broke. */
function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new LedgerError(`${what}: not valid JSON (${(e as Error).message}); quote it for your shell, e.g. '[{"op":"..."}]'`, 'invalid_input', what);
  }
}

/** Where the command word is: after the options every command takes (--ledger DIR, --workspace DIR, --json). */
function commandIndex(argv: readonly string[]): number {
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    if (a === '--json' || a.startsWith('--ledger=') || a.startsWith('--workspace=')) i += 1;
    else if (a === '--ledger' || a === '--workspace') i += 2;
    else break;
  }
  return i;
}

async function main(argv: string[]): Promise<number> {
  // `gascity [--ledger DIR] [--workspace DIR] [--json] evidence … --runs N`: evidence and mcp have options of their
  // own, so they get their arguments before the common parser (which does not know --runs) can refuse them.
  const word = commandIndex(argv);
  if (argv[word] === 'mcp') {
    // mcp needs no ledger or workspace: its parser refuses --ledger and --workspace rather than ignore them.
    return mcpCommand([...argv.slice(0, word), ...argv.slice(word + 1)], { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
  }
  if (argv[word] === 'evidence') {
    return evidenceCommand([...argv.slice(0, word), ...argv.slice(word + 1)], { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }); // branch evidence
  }
  const args = parseCommandLine(argv);
  const [cmd = 'help', ...rest] = args.rest;
  if (cmd === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (cmd === 'demo') {
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    return demo({ workspace: args.workspace, model: args.model, workers: args.workers, print: (l) => process.stdout.write(`${l}\n`), signal: abort.signal });
  }
  const dir = resolveLedgerDir({ dir: args.ledger, cwd: args.workspace });
  const ledger = await openLedger(dir, { actor: `cli:${process.pid}` });
  const formulas = new FormulaService(ledger, { workspaceDir: args.workspace });
  // Constructing the promotion service routes new runs of a family in trial to their arm.
  const promotion = new PromotionService(ledger, formulas);
  try {
    const before = ledger.seq;
    const code = await run(cmd, rest, args, ledger, formulas, promotion, dir);
    // Evidence this command wrote (a finished run, a review) is put before the family's rule at once.
    if (ledger.seq > before) {
      for (const r of await promotion.evaluateAndRecord(before)) {
        if (r.action !== 'none') process.stderr.write(`promotion: ${r.familyId} ${r.action}: ${r.reason}\n`);
      }
    }
    return code ?? 0;
  } finally {
    promotion.dispose();
    ledger.close();
  }
}

async function run(cmd: string, rest: string[], args: Args, ledger: Ledger, formulas: FormulaService, promotion: PromotionService, dir: string): Promise<number | void> {
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
      if (!fs.existsSync(from)) {
        throw new LedgerError(`no folder ${from}: put *.formula.toml files there, or name the folder (gascity import DIR)`, 'not_found', 'DIR');
      }
      const r = await formulas.importFormulas(from);
      out(args, r, () => [
        ...r.imported.map((i) => `${i.created ? 'new ' : 'same'} ${i.familyId} ${i.variantId}`),
        ...r.problems.map((p) => `problem ${p.file}:${p.line} ${p.field}: ${p.message} — ${p.fix}`),
        `${r.imported.filter((i) => i.created).length} new variant(s), ${r.problems.length} problem(s)`,
      ].join('\n'));
      return r.problems.length ? 1 : 0;
    }
    case 'families': {
      const fams = formulas.listFamilies();
      return out(args, fams, () => fams.map((f) => `${f.id.padEnd(32)} active ${f.activeVariantId ?? '-'} (g${f.activeGeneration ?? '?'}), ${f.variantCount} variant(s), ${f.candidateCount} candidate(s)`).join('\n') || 'no families; run `gascity import`');
    }
    case 'lineage': {
      const l = formulas.lineage(need(rest[0], 'FAMILY'));
      if (!l) throw new LedgerError(`no family "${rest[0]}"`, 'not_found', 'FAMILY');
      return out(args, l, () => l.variants.map((v) =>
        `${formatVariant(v)}${v.id === l.activeVariantId ? ' *active*' : ''} [${v.status}] ${v.summary}` +
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
      const mutations = parseJson<unknown>(need(rest[1], 'MUTATIONS_JSON'), 'MUTATIONS_JSON');
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
      // Anything but the two stages would otherwise silently start a live trial.
      if (rest[1] !== undefined && rest[1] !== 'screen' && rest[1] !== 'trial') {
        throw new LedgerError(`trial: the stage is screen or trial, not "${rest[1].slice(0, 40)}"; usage: gascity ${COMMAND_SHAPES.get('trial')!.usage}`, 'invalid_input', 'stage');
      }
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
      const r = await promotion.promote(need(rest[0], 'VARIANT'), { actor: person(), reason: rest[1] ?? 'promoted from the CLI' });
      return out(args, r, () => `${r.familyId}: ${r.action} — ${r.reason}`);
    }
    case 'reject': {
      const r = await promotion.reject(need(rest[0], 'VARIANT'), { actor: person(), reason: rest[1] ?? 'rejected from the CLI' });
      return out(args, r, () => `${r.familyId}: ${r.action} — ${r.reason}`);
    }
    case 'evidence': // branch evidence: `gascity --json evidence X` (options before the command) reaches it here
      return evidenceCommand(['--ledger', dir, ...(args.json ? ['--json'] : []), ...rest], { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
    case 'decisions': {
      const ds = promotion.decisions(need(rest[0], 'FAMILY'));
      return out(args, ds, () => ds.map((d) => `${d.at} ${d.verdict.padEnd(8)} ${d.candidateId} by ${d.actor} (policy v${d.policyVersion ?? '?'} ${d.policyHash?.slice(0, 8) ?? ''}): ${d.reason}`).join('\n') || 'no decisions yet');
    }
    case 'start': {
      const family = need(rest[0], 'FAMILY');
      const r = await formulas.startRunFromFormula({ family, vars: parseVars('start', rest.slice(1)), taskKey: args.task });
      return out(args, r, () => `started ${r.runId} (${family} ${r.variantId}, g${r.generation}) with ${r.nodeIds.length} node(s); ` +
        `run it with Codex: gascity run ${r.runId} --codex`);
    }
    case 'runs': {
      const runs = ledger.listRuns({ limit: 50 });
      return out(args, runs, () => runs.map((r) => `${r.id} ${r.status.padEnd(9)} ${r.outcome ?? ''} ${r.title} ${r.variantId ? `(${r.variantId} g${r.generation})` : ''}`).join('\n') || 'no runs');
    }
    // ---- branch replay: worktrees and the replay lab (src/cli/replay.ts)
    case 'worktrees':
    case 'replay': {
      const ctx = { ledger, formulas, promotion, workspaceDir: args.workspace, json: args.json, workers: args.workers, person: person(), flags: args.replay, print: (t: string) => process.stdout.write(`${t}\n`) };
      if (cmd === 'worktrees') return worktreeCommand('worktrees', undefined, ctx);
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        return await replayCommand(rest[0], ctx, abort.signal);
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    }
    case 'run': {
      // `run merge` / `run discard` without a run id would otherwise be read as a family named "merge".
      if ((rest[0] === 'merge' || rest[0] === 'discard') && rest.length === 1 && !args.codex) {
        throw new LedgerError(`missing argument: RUN_ID (gascity run ${rest[0]} RUN_ID; see gascity worktrees)`, 'invalid_input', 'RUN_ID');
      }
      if (isRunWorktreeCommand(rest)) {
        refuseExtra(`run ${rest[0]}`, rest.slice(1), 1, `run ${rest[0]} RUN_ID`);
        const ctx = { ledger, formulas, promotion, workspaceDir: args.workspace, json: args.json, workers: args.workers, person: person(), flags: args.replay, print: (t: string) => process.stdout.write(`${t}\n`) };
        return worktreeCommand(rest[0] as 'merge' | 'discard', rest[1], ctx);
      }
      // ---- end branch replay
      const target = need(rest[0], 'FAMILY or RUN_ID');
      const existing = ledger.getRun(target);
      // An existing run takes no variables; a family's are checked before anything else is said or written.
      if (existing) refuseExtra('run', rest, 1, 'run RUN_ID [--codex] [--workers N]');
      const vars = existing ? {} : parseVars('run', rest.slice(1));
      if (!args.codex) {
        if (existing) return show(args, ledger, target);
        throw new LedgerError(`add --codex to start ${target} and run it with Codex here (gascity run ${target} ... --codex), ` +
          `or use gascity start to only record the run`, 'invalid_input', 'codex');
      }
      if (existing && existing.status !== 'running') throw new LedgerError(`run ${target} is already ${existing.status}`, 'conflict', 'RUN_ID');
      // A new run is recorded only once Codex has started (drive's startRun): a missing or failing Codex leaves
      // no run behind. What can be checked without Codex is checked first, so a typo is refused at once.
      if (!existing) checkNewRun(formulas, target, vars);
      let runId = target;
      const startRun = existing ? undefined : async () => {
        const r = await formulas.startRunFromFormula({ family: target, vars, taskKey: args.task });
        runId = r.runId;
        process.stdout.write(`started ${r.runId} (${target} ${r.variantId}, g${r.generation}) with ${r.nodeIds.length} node(s)\n`);
        return r.runId;
      };
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        const { runs, interrupted } = await drive({
          ledger, formulas, promotion, workspaceDir: args.workspace, runIds: existing ? [runId] : [], startRun, workers: args.workers, signal: abort.signal, profiles: args.profiles,
          print: (line) => process.stdout.write(`${line}\n`),
        });
        const r = runs[0];
        if (interrupted && !r) {
          process.stdout.write('stopped before Codex started; no run was recorded\n');
          return 130;
        }
        if (interrupted) {
          process.stdout.write(`stopped; run ${runId} is ${r?.status ?? '?'} and nothing of it is claimed. Continue with: gascity run ${runId} --codex\n`);
          return 130;
        }
        out(args, r, () => `run ${runId} ${r?.status ?? '?'}${r?.outcome ? ` (${r.outcome})` : ''}`);
        return r?.status === 'done' && r.outcome === 'success' ? 0 : 1;
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    }
    case 'show':
      return show(args, ledger, need(rest[0], 'RUN_ID'));
    case 'needs': {
      const nodes = ledger.needsPerson();
      return out(args, nodes.map((n) => ({ ...n, waitsFor: explainWait(n, ledger.now())?.text ?? null })), () =>
        nodes.map((n) => `${n.id} — ${n.title}: ${explainWait(n, ledger.now())?.text ?? n.state}`).join('\n') || 'nothing waits for a person');
    }
    case 'gate': {
      if (rest[0] !== 'open') throw new LedgerError('gate: the command is "gate open NODE [NOTE]"', 'invalid_input', 'gate');
      const r = await ledger.openGate({ nodeId: need(rest[1], 'NODE'), note: rest[2] ?? 'opened from the CLI' }, person());
      return out(args, r, () => `${r.nodeId} is ${r.state}; run is ${r.runStatus}`);
    }
    case 'review': {
      const verdict = need(rest[1], 'approve|changes');
      if (verdict !== 'approve' && verdict !== 'changes') throw new LedgerError(`review: the verdict is approve or changes, not "${verdict}"`, 'invalid_input', 'verdict');
      const r = await ledger.reviewNode({ nodeId: need(rest[0], 'NODE'), verdict: verdict === 'approve' ? 'approve' : 'reject', note: rest[2] ?? '' }, person());
      return out(args, r, () => `${r.nodeId} is ${r.state}${r.state === 'ready' ? ' (changes requested: it gets another attempt)' : ''}; run is ${r.runStatus}`);
    }
    case 'cancel': {
      const target = need(rest[0], 'RUN_ID or NODE');
      const reason = rest[1] ?? 'cancelled from the CLI';
      if (ledger.getRun(target)) {
        const r = await ledger.cancelRun({ runId: target, reason }, person());
        return out(args, r, () => `run ${target} cancelled; a controller running it interrupts its turns`);
      }
      const r = await ledger.cancelNode({ nodeId: target, reason }, person());
      return out(args, r, () => `${r.nodeId} is ${r.state}: it waits for a person (gascity gate open ${r.nodeId} to run it again)`);
    }
    case 'ready': {
      // Rounds past their deadline close here too (as on a controller's pass), or their nodes stay held without one.
      await new OverlayService(ledger).closeDueRounds(ledger.actor);
      const nodes = ledger.readyWork();
      return out(args, nodes, () => nodes.map((n) => `${n.id} — ${n.title}`).join('\n') || 'nothing is ready');
    }
    case 'claim': {
      await new OverlayService(ledger).closeDueRounds(ledger.actor);
      const r = await ledger.claimNode({ worker: need(rest[0], 'WORKER'), nodeId: rest[1] });
      return out(args, r, () => (r ? `claimed ${r.nodeId} until ${r.expiresAt}` : 'nothing is claimable: no node is ready and no lease has run out'));
    }
    case 'report': {
      const r = await ledger.reportNode({ nodeId: need(rest[0], 'NODE'), worker: need(rest[1], 'WORKER'), outcome: need(rest[2], 'done|failed'), summary: rest[3] ?? '' });
      return out(args, r, () => `${r.nodeId} is ${r.state}; run is ${r.runStatus}`);
    }
    case 'events': {
      const after = rest[0] ?? '0';
      if (!/^\d{1,15}$/.test(after)) throw new LedgerError(`AFTER_SEQ: give a whole number of 0 or more (an event's seq), not "${after.slice(0, 40)}"`, 'invalid_input', 'AFTER_SEQ');
      const events = ledger.events(Number(after));
      return out(args, events, () => events.map((e) => `${e.seq} ${e.ts} ${e.actor} ${e.kind}`).join('\n'));
    }
    case 'archive': {
      const days = rest[0] ?? '30';
      if (!/^\d{1,5}(\.\d{1,3})?$/.test(days)) throw new LedgerError(`DAYS: give a number of days, 0 or more (e.g. 30), not "${days.slice(0, 40)}"`, 'invalid_input', 'DAYS');
      const r = await ledger.archiveRuns({ olderThanDays: Number(days) });
      return out(args, r, () => `${r.archived} run${r.archived === 1 ? '' : 's'} finished before ${r.before} archived${r.files.length ? ` (${r.files.join(', ')})` : ''}` +
        (r.evicted ? `; ${r.evicted} run row${r.evicted === 1 ? '' : 's'} moved there too (still found by id)` : ''));
    }
    case 'checkpoint': {
      await ledger.store.checkpoint();
      return out(args, { seq: ledger.seq }, () => `checkpoint at seq ${ledger.seq}`);
    }
    case 'verify': {
      const integrity = ledger.sql.all<{ integrity_check: string }>('PRAGMA integrity_check').map((r) => r.integrity_check);
      // Every archive file a runs.archived event names must still hold what it held (its SHA-256).
      const archives: Array<{ archive: string; sha256: string }> = [];
      const events = function* (all: Iterable<StoredEvent>): Generator<StoredEvent> {
        for (const e of all) {
          if (e.kind === 'runs.archived') archives.push(e.payload as { archive: string; sha256: string });
          yield e;
        }
      };
      const rebuilt = await replay(ledgerProjection, events(ledger.iterateEvents(0)));
      const live = dumpProjection(ledger.sql);
      const fresh = dumpProjection(rebuilt);
      const differing = PROJECTION_TABLES.filter((t) => JSON.stringify(fresh[t]) !== JSON.stringify(live[t]));
      rebuilt.close();
      const damaged = archives.filter((a) => archiveDigest(ledger.store.dir, a.archive) !== a.sha256).map((a) => a.archive);
      const ok = integrity.join() === 'ok' && differing.length === 0 && damaged.length === 0;
      out(args, { ok, integrity, differing, damagedArchives: damaged, seq: ledger.seq }, () =>
        ok ? `ok: integrity check passed and replaying ${ledger.seq} events rebuilds every table exactly; ${archives.length} archive file${archives.length === 1 ? '' : 's'} match their digests`
          : `NOT OK: integrity ${integrity.join('; ')}; tables differing after replay: ${differing.join(', ') || 'none'}; archive files missing or changed: ${damaged.join(', ') || 'none'}`);
      // Returned, not set on process.exitCode: main sets the exit code from what run returns.
      return ok ? 0 : 1;
    }
    default:
      throw new LedgerError(`unknown command "${cmd}"; run gascity help`, 'invalid_input', 'command');
  }
}

/**
 * What `run FAMILY k=v… --codex` can check before Codex starts: the family exists, and its active variant takes
 * the variables (a family in trial may route the run to a candidate, whose own check follows when it is recorded).
 * Throws the LedgerError startRunFromFormula would, naming the field.
 */
function checkNewRun(formulas: FormulaService, family: string, vars: Record<string, string | string[]>): void {
  const f = formulas.getFamily(family);
  if (!f) {
    const known = formulas.listFamilies().map((x) => x.id);
    throw new LedgerError(`family: no formula family "${family.slice(0, 80)}"${known.length ? `; known families: ${known.join(', ')}` : ''}`, 'not_found', 'family');
  }
  if (!f.activeVariantId) return;
  const planned = instantiate(formulas.variantFormula(f.activeVariantId), vars);
  if (!planned.ok) throw new LedgerError(planned.problems.map((x) => `${x.field}: ${x.message} ${x.fix}`).join('; '), 'invalid_input', planned.problems[0]!.field);
}

/** A run's nodes in workflow order with what each waits for, and its edges. */
function show(args: Args, ledger: Ledger, runId: string): void {
  const g = ledger.runGraph(runId);
  if (!g) throw new LedgerError(`no run "${runId}"`, 'not_found', 'RUN_ID');
  const now = ledger.now();
  // Ground truth: what the formula's checks found, and the model's own report beside it.
  const truth = ledger.evidence({ runId, limit: 1000 }).reverse().filter((e) => ['check', 'model_report', 'false_done'].includes(e.kind));
  out(args, { ...g, nodes: g.nodes.map((n) => ({ ...n, waitsFor: explainWait(n, now)?.text ?? null })), checks: truth }, () => [
    `${g.run.id} ${g.run.status}${g.run.outcome ? ` (${g.run.outcome})` : ''} ${g.run.title}`,
    ...g.nodes.map((n) => {
      const wait = n.state === 'done' || n.state === 'failed' || n.state === 'skipped' ? '' : `: ${explainWait(n, now)?.text ?? n.state}`;
      const attempts = n.attempts > 0 ? ` [${n.attempts} failed attempt(s) of ${n.maxAttempts}]` : '';
      return `  ${n.state.padEnd(8)} ${n.id} — ${n.title}${attempts}${wait}`;
    }),
    ...g.edges.map((e) => `  ${e.from} -${e.kind}-> ${e.to}`),
    ...truth.map((e) => `  ${e.kind}: ${e.note.replace(/\n/g, '\n    ')}`),
  ].join('\n'));
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`gascity: ${describeError(e)}\n`);
    process.exitCode = 2;
  },
);

/** One line for a failure a person can act on; a stack trace only for a bug. */
function describeError(e: unknown): string {
  if (e instanceof LedgerError || e instanceof SyntaxError) return e.message;
  // Codex missing or not starting is the person's setup, not a bug: say what to fix instead of printing a stack.
  if (e instanceof AppServerError && e.code === 'spawn') {
    return `${e.message}; install the Codex CLI (npm install -g @openai/codex) or point GASCITY_CODEX_PATH at it`;
  }
  const err = e as NodeJS.ErrnoException;
  const fsCodes: Record<string, string> = {
    EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'the file system is read-only', ENOSPC: 'the disk is full',
    EDQUOT: 'the disk quota is used up', ENOENT: 'no such file or folder', EMFILE: 'too many open files', ENAMETOOLONG: 'a file name is too long',
  };
  if (err?.code && fsCodes[err.code]) return `${fsCodes[err.code]}${err.path ? `: ${err.path}` : ''} (${err.code}${err.syscall ? ` in ${err.syscall}` : ''}); nothing more was written`;
  return err?.stack ?? String(e);
}
