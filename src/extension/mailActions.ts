// Mail in VS Code (issue 13; docs/overlays.md, "Mail"): Read Mail shows a run's or a node's messages as a read-only
// document, and Send Mail writes one to a worker, a node, a run, a coalition or a person. Both take a runs-tree row,
// an id or an options object (scripts and tests), or nothing (then they ask).
import * as vscode from 'vscode';
import type { MailAddressKind, MailRow } from '../ledger/index';
import { ACTOR } from './actions';
import type { LedgerModel } from './model';
import type { Reports } from './reports';

/** Who a person's mail is from: the same actor name the extension writes every person's action under. */
export const MAIL_FROM = ACTOR;

const KINDS: readonly { kind: MailAddressKind; label: string; detail: string }[] = [
  { kind: 'node', label: 'A node', detail: 'whoever runs the node next reads it at the start of its turn' },
  { kind: 'run', label: 'A run', detail: 'every node of the run reads it once' },
  { kind: 'worker', label: 'A worker', detail: 'a worker by name (a Codex profile or a person)' },
  { kind: 'coalition', label: 'A coalition', detail: 'its members at the time of sending' },
  { kind: 'person', label: 'A person', detail: 'a person by name' },
];

/** What Send Mail was given by a script or test: any field left out is asked for. */
export interface SendMailOptions {
  readonly toKind?: MailAddressKind;
  readonly to?: string;
  readonly subject?: string;
  readonly body?: string;
  readonly runId?: string;
}

/** The run and node a command's argument names: a runs-tree row, `{ runId?, nodeId? }`, or an id string. */
function targetOf(arg: unknown, model: LedgerModel): { runId?: string; nodeId?: string } {
  if (typeof arg === 'string') {
    if (model.ledger.getRun(arg)) return { runId: arg };
    const node = model.ledger.getNode(arg);
    return node ? { runId: node.runId, nodeId: node.id } : {};
  }
  if (typeof arg !== 'object' || arg === null) return {};
  const row = arg as { run?: { id?: unknown }; node?: { id?: unknown; runId?: unknown }; runId?: unknown; nodeId?: unknown };
  if (row.node && typeof row.node.id === 'string' && typeof row.node.runId === 'string') return { runId: row.node.runId, nodeId: row.node.id };
  if (row.run && typeof row.run.id === 'string') return { runId: row.run.id };
  return {
    ...(typeof row.runId === 'string' ? { runId: row.runId } : {}),
    ...(typeof row.nodeId === 'string' ? { nodeId: row.nodeId } : {}),
  };
}

/** One message as the mail document shows it. */
export function mailText(m: MailRow): string {
  const head = `### ${m.subject || '(no subject)'}`;
  const meta = `${m.at.replace('T', ' ').slice(0, 19)} · from ${m.from} to ${m.toKind} ${m.to}${m.replyTo ? ` · reply to ${m.replyTo}` : ''}`;
  // The body is the worker's own text; indenting it keeps its headings and lists from breaking the document's.
  return [head, '', meta, '', ...m.body.split('\n').map((l) => `    ${l}`), ''].join('\n');
}

export class MailActions {
  constructor(private readonly model: LedgerModel, private readonly reports: Reports) {}

  private async pickRun(placeHolder: string): Promise<string | undefined> {
    const runs = this.model.ledger.listRuns({ limit: 200 });
    const pick = await vscode.window.showQuickPick(runs.map((r) => ({ label: r.title, description: `${r.id} · ${r.status}`, id: r.id })), { placeHolder });
    return pick?.id;
  }

  /**
   * Read Mail: the messages of a run (all of its mail, newest first) or of a node (mail to that node and to its run),
   * as a read-only document. Returns the messages shown (undefined when the person picked nothing).
   */
  async read(arg?: unknown): Promise<MailRow[] | undefined> {
    const target = targetOf(arg, this.model);
    const nodeId = target.nodeId;
    const runId = target.runId ?? await this.pickRun('Read the mail of which run?');
    if (!runId) return undefined;
    const run = this.model.ledger.getRun(runId);
    if (!run) throw new Error(`runId: no run ${runId} in this ledger; pick one from the Runs view`);
    const { mail } = this.model.overlays.runOverlays(runId);
    const messages = nodeId
      ? mail.recent.filter((m) => (m.toKind === 'node' && m.to === nodeId) || (m.toKind === 'run' && m.to === runId))
      : mail.recent;
    const title = nodeId ? `Mail of node ${nodeId}` : `Mail of run “${run.title}”`;
    const more = mail.total > mail.recent.length ? `\n_The newest ${mail.recent.length} of ${mail.total} messages of the run._\n` : '';
    const text = [`# ${title}`, '', messages.length ? '' : '_No mail._', more, ...messages.map(mailText)].join('\n');
    await this.reports.show(`mail-${nodeId ?? runId}.md`, text);
    return messages;
  }

  /**
   * Send Mail to a worker, node, run, coalition or person. What the argument does not say is asked for; a tree row
   * addresses its node or run. Returns the message written (undefined when the person cancelled).
   */
  async send(arg?: unknown): Promise<MailRow | undefined> {
    // A runs-tree row has a `kind`; anything else that is an object is options from a script.
    const isRow = typeof arg === 'object' && arg !== null && 'kind' in arg;
    const row = isRow || typeof arg === 'string' ? targetOf(arg, this.model) : {};
    const options: SendMailOptions = !isRow && typeof arg === 'object' && arg !== null ? (arg as SendMailOptions) : {};
    let toKind: MailAddressKind | undefined = options.toKind ?? (row.nodeId ? 'node' : row.runId ? 'run' : undefined);
    let to = options.to ?? (options.toKind ? undefined : (row.nodeId ?? row.runId));
    let runId = options.runId ?? row.runId;
    if (!toKind) {
      toKind = (await vscode.window.showQuickPick(KINDS.map((k) => ({ label: k.label, detail: k.detail, addressKind: k.kind })), { placeHolder: 'Send mail to…' }))?.addressKind;
      if (!toKind) return undefined;
    }
    if (!to) {
      if (toKind === 'run' || toKind === 'node' || toKind === 'coalition') {
        runId ??= await this.pickRun(toKind === 'run' ? 'To which run?' : 'In which run?');
        if (!runId) return undefined;
      }
      if (toKind === 'run') to = runId;
      else if (toKind === 'node') {
        const nodes = this.model.ledger.runGraph(runId!)?.nodes ?? [];
        to = (await vscode.window.showQuickPick(nodes.map((n) => ({ label: n.title, description: `${n.id} · ${n.state}`, id: n.id })), { placeHolder: 'To which node?' }))?.id;
      } else if (toKind === 'coalition') {
        const coalitions = this.model.overlays.coalitions(runId!);
        to = (await vscode.window.showQuickPick(coalitions.map((c) => ({ label: c.name, description: `${c.id} · ${c.members.join(', ')}`, id: c.id })),
          { placeHolder: coalitions.length ? 'To which coalition?' : 'This run has no coalition' }))?.id;
      } else {
        to = await vscode.window.showInputBox({ title: 'Send mail', prompt: `The ${toKind}'s name`, ignoreFocusOut: true });
      }
      if (!to) return undefined;
    }
    const subject = options.subject ?? (await vscode.window.showInputBox({ title: 'Send mail', prompt: 'Subject (optional)', ignoreFocusOut: true }));
    if (subject === undefined) return undefined;
    const body = options.body ?? (await vscode.window.showInputBox({ title: 'Send mail', prompt: 'Message', ignoreFocusOut: true, validateInput: (v) => (v.trim() ? undefined : 'write the message') }));
    if (body === undefined) return undefined;
    // The overlay service checks every field (and names the one to fix) before anything is written.
    const sent = await this.model.overlays.sendMail({ from: MAIL_FROM, toKind, to, subject, body, ...(runId ? { runId } : {}) }, ACTOR);
    void vscode.window.showInformationMessage(`Mail sent to ${toKind} ${to}.`);
    return sent;
  }
}
