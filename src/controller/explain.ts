import type { NodeRow } from '../ledger/index';

/** What a person can do about a node that waits for one, in the words every surface uses. */
export type PersonAction = 'open_gate' | 'review';

/**
 * Why a node is not moving and what will move it, as one sentence a person or a model can act on,
 * naming the VS Code and terminal actions; null for a finished node. "blocked" alone tells nobody
 * anything: a human gate, an escalation, a cancel, a timer and a run gate each say what they wait for.
 */
export function explainWait(node: NodeRow, now: Date = new Date()): string | null {
  const openGate = `a person opens its gate (VS Code: Gas City › Needs you › Open Gate; terminal: gascity gate open ${node.id} [note])`;
  switch (node.state) {
    case 'ready':
      return 'is ready: the next free worker claims it';
    case 'pending':
      return node.skip
        ? 'waits for the nodes it needs; its condition was false, so it is skipped once they are done'
        : 'waits for the nodes it needs';
    case 'claimed':
    case 'active':
      if (node.leaseExpires && Date.parse(node.leaseExpires) <= now.getTime()) {
        return `was held by ${node.worker} whose lease ran out at ${node.leaseExpires}: it is claimable again`;
      }
      return `is being worked on by ${node.worker}${node.leaseExpires ? ` (lease until ${node.leaseExpires})` : ''}`;
    case 'review':
      return `waits for a review: a person approves or requests changes (VS Code: Gas City › Needs you › Approve / Request Changes; terminal: gascity review ${node.id} approve|changes [note])`;
    case 'blocked': {
      const gate = node.gate;
      if (!gate || gate.kind === 'human') {
        if (node.result?.startsWith('cancelled')) return `was ${node.result}; it waits for a person: to run it again ${openGate}, or cancel the run`;
        if (node.attempts > 0 && node.attempts >= node.maxAttempts) {
          return `failed ${node.attempts} attempt(s) and was escalated: it waits for a person, who reads its last result and gives it another attempt when ${openGate}, or cancels the run`;
        }
        return `waits at a human gate until ${openGate}`;
      }
      if (gate.kind === 'timer') return `waits at a timer gate that opens at ${node.gateDueAt ?? `${gate.seconds ?? 0} s after it is reached`}`;
      return node.gateRunId
        ? `waits for run ${node.gateRunId} (formula ${gate.formula ?? '?'}) to end with success`
        : `waits for a run of formula ${gate.formula ?? '?'}, which the controller starts`;
    }
    default:
      return null;
  }
}

/** The action a person takes on a node that waits for one, or null when it waits for nobody. */
export function personAction(node: NodeRow): PersonAction | null {
  if (node.state === 'review') return 'review';
  if (node.state === 'blocked' && (!node.gate || node.gate.kind === 'human')) return 'open_gate';
  return null;
}
