// What the controller tests share: a workspace with formulas, a ledger, the real Codex CLI pointed at a
// scripted model through CODEX_HOME/config.toml (as a person's Codex would be configured), and a model
// script that plays a worker per node: it reads the node from the thread's developer instructions.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Controller } from '../../src/controller/index';
import type { ControllerEvent, ControllerOptions } from '../../src/controller/index';
import { FormulaService, PromotionService, openLedger } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import { CODEX_BIN, REPO, ScriptedModel, messages } from '../support/scriptedModel';
import type { ModelStep, ResponsesRequest } from '../support/scriptedModel';

export { CODEX_BIN, REPO };

const cleanups: Array<() => Promise<void> | void> = [];

/** Runs every cleanup registered so far, newest first (call it from `after`). */
export async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The node a request is about: its thread's developer instructions name it ("…, node r-abc.plan)"). */
export function nodeOf(request: ResponsesRequest): string {
  const m = /\bnode (r-[a-z0-9]+(?:\.[A-Za-z0-9_.\-[\]]+)+)\), attempt/.exec(messages(request, 'developer'));
  if (!m) throw new Error('the request names no node');
  return m[1]!;
}

/** True when Codex already sent the model a tool's output in this turn. */
export function afterToolCall(request: ResponsesRequest): boolean {
  return (request.input ?? []).some((i) => i.type === 'function_call_output');
}

/** What the worker model does for one node's first request: report, hang, or answer slowly. */
export type NodeBehaviour = { outcome?: 'done' | 'failed'; delayMs?: number; hang?: boolean; summary?: string };

/**
 * A model that finishes every node it is given: on a thread's first request it calls report_result
 * (per `behaviour(nodeId, attempt)`), after the tool's output it says one sentence.
 */
export function workerScript(behaviour: (nodeId: string, n: number) => NodeBehaviour = () => ({})): (request: ResponsesRequest, n: number) => ModelStep {
  return (request, n) => {
    const nodeId = nodeOf(request);
    if (afterToolCall(request)) return { say: `Reported ${nodeId}.` };
    const b = behaviour(nodeId, n);
    if (b.hang) return { hang: true };
    return { call: 'report_result', args: { outcome: b.outcome ?? 'done', summary: b.summary ?? `finished ${nodeId}` }, delayMs: b.delayMs, usage: { input: 100, output: 20 } };
  };
}

/** Writes formulas (name → TOML text) into `<workspace>/formulas`. */
export function writeFormulas(workspace: string, formulas: Record<string, string>): void {
  const dir = path.join(workspace, 'formulas');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(formulas)) fs.writeFileSync(path.join(dir, `${name}.formula.toml`), text);
}

/** A CODEX_HOME whose config.toml points Codex at the model on `baseUrl` and approves without asking. */
export function codexHomeFor(baseUrl: string): string {
  const home = tempDir('gascity-ctl-codex-home-');
  fs.writeFileSync(path.join(home, 'config.toml'), [
    'model_provider = "mock"',
    'model = "mock-model"',
    'approval_policy = "never"',
    '[model_providers.mock]',
    'name = "mock"',
    `base_url = "${baseUrl}"`,
    'wire_api = "responses"',
    'requires_openai_auth = false',
    'supports_websockets = false',
    '',
  ].join('\n'));
  return home;
}

export interface Setup {
  workspace: string;
  ledgerDir: string;
  codexHome: string;
  ledger: Ledger;
  formulas: FormulaService;
  promotion: PromotionService;
  model: ScriptedModel;
  events: ControllerEvent[];
  /** A controller on this ledger (started), with its events collected in `events`. */
  controller(options?: Partial<ControllerOptions>): Promise<Controller>;
}

export async function setup(formulas: Record<string, string>, script: (request: ResponsesRequest, n: number) => ModelStep): Promise<Setup> {
  const workspace = tempDir('gascity-ctl-ws-');
  writeFormulas(workspace, formulas);
  const ledgerDir = path.join(workspace, '.gascity', 'ledger');
  const ledger = await openLedger(ledgerDir, { actor: 'test' });
  cleanups.push(() => ledger.close());
  const service = new FormulaService(ledger, { workspaceDir: workspace });
  const imported = await service.importFormulas(path.join(workspace, 'formulas'));
  if (imported.problems.length) throw new Error(`formula problems: ${JSON.stringify(imported.problems)}`);
  const promotion = new PromotionService(ledger, service);
  cleanups.push(() => promotion.dispose());
  const model = new ScriptedModel(script);
  const baseUrl = await model.start();
  cleanups.push(() => model.stop());
  const codexHome = codexHomeFor(baseUrl);
  const events: ControllerEvent[] = [];
  return {
    workspace, ledgerDir, codexHome, ledger, formulas: service, promotion, model, events,
    async controller(options = {}) {
      const c = new Controller({
        ledger, formulas: service, promotion, workspaceDir: workspace,
        codex: { command: CODEX_BIN, codexHome, cwd: workspace, requestTimeoutMs: 20_000 },
        maxConcurrentNodes: 2, pollMs: 200, ...options,
      });
      c.onEvent((e) => events.push(e));
      cleanups.push(() => c.stop());
      await c.start();
      return c;
    },
  };
}

/** Resolves when `predicate` holds, polling every 50 ms; rejects after `timeoutMs` naming `what`. */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
