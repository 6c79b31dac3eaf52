// What a node waits for and who moves it on, in words, for every surface (MCP results, the CLI, VS Code):
// "blocked" alone tells a model nothing. Pure functions over the ledger's public rows; no vscode, no MCP.
import type { EvaluationResult, NodeRow, RunRow } from '../ledger/index';

/** The kinds of wait, by who or what ends it. */
export type WaitKind = 'human_gate' | 'escalation' | 'cancelled' | 'timer_gate' | 'run_gate' | 'review' | 'needs';

/** Why a node is not being worked on now, and what moves it on. */
export interface NodeWait {
  nodeId: string;
  kind: WaitKind;
  /** Who or what ends the wait: a person, a reviewer (or a person), a time, another run, earlier nodes. */
  waitsFor: 'person' | 'reviewer' | 'time' | 'run' | 'nodes';
  /** When a timer gate opens (ISO 8601), for a timer gate. */
  opensAt?: string;
  /** One or two sentences for a person or a model: what the node waits for, and how it moves on. */
  text: string;
}

/** The node fields an explanation reads. */
export type WaitingNode = Pick<NodeRow, 'id' | 'state' | 'gate' | 'gateOpen' | 'attempts' | 'maxAttempts' | 'onExhausted' | 'unmet' | 'updatedAt'>
  & Partial<Pick<NodeRow, 'gateDueAt' | 'gateRunId' | 'result' | 'skip'>>;

/**
 * Explains why `node` waits, or returns null when it does not wait (ready, held, or finished).
 * - A `blocked` node whose attempts ran out with `on_exhausted = "escalate"` is an escalation: it sits behind a
 *   human gate that a person opens after looking at it, and then gets one more attempt.
 * - Any other `blocked` node waits at its gate: a human gate for a person; a timer gate until `updatedAt` (when it
 *   reached the gate) plus the gate's seconds; a run gate for a run of the gate's formula to end.
 * - `review` waits for a reviewer's or a person's verdict; `pending` for its earlier nodes.
 * `now` only words a timer's remaining time.
 */
export function explainWait(node: WaitingNode, now: Date = new Date()): NodeWait | null {
  const id = node.id;
  const openByPerson = `they open it in VS Code (Needs you) or with \`gascity gate open ${id} [note]\``;
  if (node.state === 'review') {
    return {
      nodeId: id, kind: 'review', waitsFor: 'reviewer',
      text: `${id} was reported and waits for a reviewer or a person: \`gascity review ${id} approve|changes [note]\`, Approve / Request Changes in VS Code (Needs you), or node_review.`,
    };
  }
  if (node.state === 'pending') {
    const n = node.unmet;
    const skip = node.skip ? ' Its condition was false, so it is then skipped.' : '';
    return { nodeId: id, kind: 'needs', waitsFor: 'nodes', text: `${id} waits for ${n} earlier node${n === 1 ? '' : 's'} to finish.${skip}` };
  }
  if (node.state !== 'blocked') return null;
  const gate = node.gate;
  if (node.result?.startsWith('handed off to a person') && (!gate || gate.kind === 'human')) {
    return {
      nodeId: id, kind: 'human_gate', waitsFor: 'person',
      text: `${id} was ${node.result.slice(0, 300)}; it waits for them: they do what it needs, then ${openByPerson} to give it back to the workers (or cancel the run).`,
    };
  }
  if (node.result?.startsWith('cancelled') && (!gate || gate.kind === 'human')) {
    return {
      nodeId: id, kind: 'cancelled', waitsFor: 'person',
      text: `${id} was ${node.result} and waits for a person: to run it again ${openByPerson}; or cancel the run.`,
    };
  }
  if (node.onExhausted === 'escalate' && node.attempts >= node.maxAttempts && (!gate || gate.kind === 'human')) {
    return {
      nodeId: id, kind: 'escalation', waitsFor: 'person',
      text: `${id} was escalated after ${node.attempts} failed attempt${node.attempts === 1 ? '' : 's'} and waits for a person to look at it: ${openByPerson}; it then gets one more attempt.`,
    };
  }
  if (gate?.kind === 'timer') {
    // The ledger records when the gate opens (gateDueAt); older rows fall back to when the node reached it.
    const at = new Date(node.gateDueAt ? Date.parse(node.gateDueAt) : Date.parse(node.updatedAt) + (gate.seconds ?? 0) * 1000);
    const opensAt = at.toISOString();
    const left = at.getTime() - now.getTime();
    const when = left > 0 ? `opens at ${opensAt} (in ${duration(left)})` : `was due to open at ${opensAt}`;
    return {
      nodeId: id, kind: 'timer_gate', waitsFor: 'time', opensAt,
      text: `${id} waits at a timer gate that ${when}; the Gas City controller (VS Code, or \`gascity run\`) opens it then.`,
    };
  }
  if (gate?.kind === 'run') {
    const what = node.gateRunId
      ? `run ${node.gateRunId}${gate.formula ? ` (formula \`${gate.formula}\`)` : ''} to end with success`
      : `${gate.formula ? `a run of formula \`${gate.formula}\`` : 'another run'} to end`;
    const starts = node.gateRunId ? '' : ', after starting that run itself';
    return {
      nodeId: id, kind: 'run_gate', waitsFor: 'run',
      text: `${id} waits at a run gate for ${what}; the Gas City controller opens it then${starts} (a person can open it early: \`gascity gate open ${id}\`).`,
    };
  }
  return { nodeId: id, kind: 'human_gate', waitsFor: 'person', text: `${id} waits for a person at its human gate: ${openByPerson}.` };
}

/** "3 min", "2 h 5 min", "40 s": a duration in milliseconds, roughly, for a sentence. */
function duration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** What a run looks like to someone deciding what to do next: its ready, held and waiting nodes. */
export interface RunSituation {
  run: Pick<RunRow, 'id' | 'status'>;
  /** Ready nodes (of this run), how many. */
  ready: number;
  /** Nodes claimed or active, how many. */
  held: number;
  /** Nodes that wait on a person, a reviewer, a time or a run (not those that only wait for earlier nodes). */
  waiting: NodeWait[];
}

/** Collects a run's situation from its nodes. */
export function situationOf(run: Pick<RunRow, 'id' | 'status'>, nodes: readonly WaitingNode[], now: Date = new Date()): RunSituation {
  let ready = 0;
  let held = 0;
  const waiting: NodeWait[] = [];
  for (const n of nodes) {
    if (n.state === 'ready') ready++;
    else if (n.state === 'claimed' || n.state === 'active') held++;
    else {
      const w = explainWait(n, now);
      if (w && w.kind !== 'needs') waiting.push(w);
    }
  }
  return { run, ready, held, waiting };
}

/**
 * One paragraph on what happens next in a run, for a worker (a model) that just acted on it: whether there is
 * work to claim, what waits on people, a time or a run, and that it need not wait for them.
 * `claim` names the call that claims work on the surface that asks (e.g. "node_claim" or "`gascity claim`").
 */
export function explainNext(s: RunSituation, claim = 'node_claim'): string {
  if (s.run.status !== 'running') return `Run ${s.run.id} is ${s.run.status}; nothing in it is left to do.`;
  const parts: string[] = [];
  if (s.ready > 0) parts.push(`${s.ready} node${s.ready === 1 ? ' is' : 's are'} ready: claim one with ${claim}.`);
  const byPerson = s.waiting.filter((w) => w.waitsFor === 'person' || w.waitsFor === 'reviewer').length;
  if (s.waiting.length > 0) {
    const first = s.waiting[0]!.text;
    const others = s.waiting.length - 1;
    const more = others > 0
      ? ` ${others} more node${others === 1 ? ' waits' : 's wait'} too (workflow_view with states ["blocked","review"] lists them).`
      : '';
    parts.push(`${first}${more}`);
  }
  if (s.ready === 0) {
    if (s.held > 0) parts.push(`${s.held} node${s.held === 1 ? ' is' : 's are'} being worked on; the next nodes become ready when they are reported.`);
    else if (byPerson > 0) parts.push('Nothing is ready until a person acts: do not wait or poll for it; tell the person what is needed, then end your turn or take other work.');
    else if (s.waiting.length > 0) parts.push('Nothing is ready until then: do not poll; end your turn or take other work.');
    else parts.push('Nothing is ready yet.');
  }
  return parts.join(' ');
}

/** The candidate of a decision, when the caller can look it up (a promotion result names only the family and trial). */
export interface DecidedVariant {
  candidateId: string | null;
  activeVariantId: string | null;
}

/**
 * A promotion decision that a write triggered (the family's recorded rule acting on new evidence), in words;
 * null for an evaluation that decided nothing.
 */
export function explainPromotion(r: Pick<EvaluationResult, 'familyId' | 'action' | 'reason'>, v: DecidedVariant = { candidateId: null, activeVariantId: null }): string | null {
  const f = r.familyId;
  const cand = v.candidateId ? `candidate ${v.candidateId}` : 'the candidate';
  // What it means comes first and the rule's reason last, so that clipping a long reason keeps the news.
  const why = r.reason ? ` Why: ${r.reason}` : '';
  switch (r.action) {
    case 'none':
      return null;
    case 'promoted':
      return `The evidence this call recorded made family ${f}'s rule promote ${cand}: new runs of ${f} use it, watched against the variant it replaced.${why}`;
    case 'rejected':
      return `The evidence this call recorded made family ${f}'s rule reject ${cand}; runs keep using ${v.activeVariantId ?? 'the active variant'}.${why}`;
    case 'paused':
      return `Family ${f}'s trial of ${cand} is paused for a person to decide: they promote or reject it in VS Code or with \`gascity promote ${v.candidateId ?? 'VARIANT'}\` / \`gascity reject ${v.candidateId ?? 'VARIANT'}\`.${why}`;
    case 'advanced':
      return `Family ${f}'s trial advanced: a share of new runs of ${f} now use ${cand}.${why}`;
    case 'confirmed':
      return `Family ${f}'s watch window closed clean: ${v.activeVariantId ?? 'the promoted variant'} stays active.${why}`;
    case 'rolled_back':
      return `Family ${f} was rolled back: ${v.activeVariantId ?? 'the previous variant'} is active again.${why}`;
    case 'recorded':
      return `Family ${f}'s rule looked at the evidence and recorded that ${cand}'s trial continues; nothing changes for runs.${why}`;
    case 'superseded':
      return `Family ${f}'s trial of ${cand} ended.${why}`;
    default:
      return `Family ${f}: ${String(r.action).replace(/_/g, ' ')}.${why}`;
  }
}

/** The node fields explainState reads. */
export type StatedNode = WaitingNode & Pick<NodeRow, 'worker' | 'leaseExpires'>;

/**
 * A node's state in a sentence, for the answer to a write that moved it (a report, a review, an opened gate):
 * done, ready again (a retry, with its attempt count), failed for good, held, or what it waits for.
 */
export function explainState(node: StatedNode, now: Date = new Date()): string {
  const id = node.id;
  switch (node.state) {
    case 'done':
      return `${id} is done.`;
    case 'skipped':
      return `${id} is skipped; the nodes after it go on without it.`;
    case 'failed':
      return `${id} failed and has no attempts left (${node.attempts} of ${node.maxAttempts}).`;
    case 'ready':
      return node.attempts > 0
        ? `${id} is ready to be claimed again for attempt ${node.attempts + 1} of ${node.maxAttempts} (${node.attempts} failed).`
        : `${id} is ready to be claimed.`;
    case 'claimed':
    case 'active':
      return `${id} is held by ${node.worker ?? 'a worker'}${node.leaseExpires ? ` until ${node.leaseExpires}` : ''}.`;
    default:
      return explainWait(node, now)?.text ?? `${id} is ${node.state}.`;
  }
}

/** What a person can do about a node that waits for one. */
export type PersonAction = 'open_gate' | 'review';

/** The action a person takes on a node that waits for one, or null when it waits for nobody. */
export function personAction(node: Pick<NodeRow, 'state' | 'gate'>): PersonAction | null {
  if (node.state === 'review') return 'review';
  if (node.state === 'blocked' && (!node.gate || node.gate.kind === 'human')) return 'open_gate';
  return null;
}
