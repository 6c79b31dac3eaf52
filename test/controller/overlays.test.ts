// Coordination overlays under the controller, with the real Codex CLI and a scripted model (issue 13): mail sent
// while no worker runs reaches the node's next turn; a node's dynamic tools write the blackboard and call the
// formula tools; announced nodes wait for their round, which the controller closes at its deadline.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { OverlayService } from '../../src/ledger/index';
import { messages, parsedToolOutputs } from '../support/scriptedModel';
import type { ModelStep, ResponsesRequest } from '../support/scriptedModel';
import { cleanup, nodeOf, setup, until, workerScript } from './helpers';

after(cleanup);

const ONE = `
name = "mailbox"
version = 1
description = "one step that hands off, then finishes"
[[steps]]
id = "a"
instructions = "Parse the grammar."
`;

const TWO = `
name = "auction"
version = 1
description = "two independent steps"
[[steps]]
id = "a"
instructions = "A."
[[steps]]
id = "b"
instructions = "B."
`;

const MAIL = 'the grammar file moved to spec/grammar.ebnf';

test('mail sent while no worker runs reaches the node\'s next turn; the turn\'s tools write the blackboard and list formulas', { timeout: 180_000 }, async () => {
  // Turn 1: write a claim, list the formulas, hand off to a person. Turn 2 (after the mail): report done.
  const script = (request: ResponsesRequest): ModelStep => {
    const outputs = parsedToolOutputs(request).length;
    if (messages(request, 'user').includes(MAIL)) return outputs === 0 ? { call: 'report_result', args: { outcome: 'done', summary: 'used the moved grammar' } } : { say: 'Done.' };
    switch (outputs) {
      case 0: return { call: 'blackboard_write', args: { kind: 'claim', title: 'the grammar', paths: ['spec/**', 'src/parse'] } };
      case 1: return { call: 'formula_list', args: {} };
      case 2: return { call: 'request_handoff', args: { note: 'where is the grammar?' } };
      default: return { say: 'Handed off.' };
    }
  };
  const s = await setup({ mailbox: ONE }, script);
  const { runId } = await s.formulas.startRunFromFormula({ family: 'mailbox', vars: {} });
  const a = `${runId}.a`;
  const first = await s.controller();
  await until(() => s.ledger.getNode(a)?.state === 'blocked', 90_000, 'the first turn to hand the node to a person');
  await first.stop();

  // The first turn's tools: a claim on the blackboard by the controller's worker, and the formula list.
  const overlays = new OverlayService(s.ledger);
  await s.ledger.refresh();
  const [claim] = overlays.readBoard({ runId, kind: 'claim' });
  assert.deepEqual([claim!.nodeId, claim!.paths, claim!.title], [a, ['spec/**', 'src/parse'], 'the grammar']);
  const handoff = s.ledger.events(0, 10_000).find((e) => e.kind === 'node.handed_off')!;
  assert.equal(claim!.author, (handoff.payload as { fromWorker: string }).fromWorker, 'written as the worker that ran the turn');
  const listed = s.model.requests.flatMap(parsedToolOutputs).map((o) => o.json as { families?: Array<{ id: string }> }).find((j) => j?.families);
  assert.deepEqual(listed?.families?.map((f) => f.id), ['mailbox']);

  // While nothing runs, a person writes to the node and to the run, then opens the gate.
  await overlays.sendMail({ from: 'ana', toKind: 'node', to: a, subject: 'grammar', body: MAIL });
  await overlays.sendMail({ from: 'ana', toKind: 'run', to: runId, body: 'run-wide: keep the old API' });
  assert.equal((await overlays.readMail({ reader: 'anyone', nodeId: a })).length, 2, 'the mail waits unread');
  await s.ledger.openGate({ nodeId: a, note: 'see your mail' });

  const second = await s.controller();
  const [run] = await second.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
  // The second turn's input carried both messages; the first turn's did not.
  const inputs = s.model.requests.filter((r) => nodeOf(r) === a).map((r) => messages(r, 'user'));
  const firstTurn = inputs.filter((m) => !m.includes(MAIL));
  const secondTurn = inputs.filter((m) => m.includes(MAIL));
  assert.ok(firstTurn.length >= 1 && secondTurn.length >= 1);
  assert.match(secondTurn[0]!, /Mail that arrived for you .*\(2 messages/);
  assert.match(secondTurn[0]!, /from ana to node .* — grammar/);
  assert.match(secondTurn[0]!, /run-wide: keep the old API/);
  assert.ok(firstTurn.every((m) => !m.includes('run-wide')));
  // Delivered once: read now, not offered again.
  await s.ledger.refresh();
  assert.deepEqual(await overlays.readMail({ reader: 'anyone', nodeId: a }), []);
  assert.equal(s.ledger.getNode(a)!.result, 'used the moved grammar');
});

test('announced nodes wait for their round: awarded to the best bid, or dispatched as usual when nobody bid', { timeout: 180_000 }, async () => {
  const s = await setup({ auction: TWO }, workerScript());
  const { runId } = await s.formulas.startRunFromFormula({ family: 'auction', vars: {} });
  const [a, b] = [`${runId}.a`, `${runId}.b`];
  const overlays = new OverlayService(s.ledger);
  const ra = await overlays.announce({ nodeId: a, announcedBy: 'lead', deadlineSeconds: 3, quorum: 5 });
  await overlays.submitBid({ roundId: ra.id, bidder: 'ana', cost: 900, confidence: 0.9, rationale: 'I wrote A' });
  await overlays.submitBid({ roundId: ra.id, bidder: 'bo', cost: 500, confidence: 0.25 });
  const rb = await overlays.announce({ nodeId: b, announcedBy: 'lead', deadlineSeconds: 3 });
  const c = await s.controller();
  await until(async () => { await s.ledger.refresh(); return s.ledger.getNode(b)?.state === 'done'; }, 90_000, 'node b to be done');
  await until(async () => { await s.ledger.refresh(); return overlays.round(ra.id)?.status === 'awarded'; }, 30_000, 'the round on a to be awarded');
  // a went to the best bid by the rule (900 / 0.9 = 1000 < 500 / 0.25 = 2000); the controller never ran it.
  const awarded = overlays.round(ra.id)!;
  assert.equal(awarded.winner, 'ana');
  assert.equal(awarded.closedBy, 'deadline');
  assert.deepEqual(awarded.compared.map((x) => [x.bidder, x.score]), [['ana', 1000], ['bo', 2000]]);
  assert.equal(s.ledger.getNode(a)!.worker, 'ana');
  assert.ok(!s.events.some((e) => e.type === 'dispatched' && e.nodeId === a), 'the controller did not dispatch the announced node');
  // b's round lapsed with no bid, and only then did the controller claim b.
  assert.equal(overlays.round(rb.id)!.status, 'lapsed');
  assert.equal(overlays.round(rb.id)!.closedBy, 'deadline', 'a lapse records what closed the round');
  const events = s.ledger.events(0, 10_000);
  const lapsed = events.find((e) => e.kind === 'round.closed' && (e.payload as { roundId: string }).roundId === rb.id)!;
  const claimedB = events.find((e) => e.kind === 'node.claimed' && (e.payload as { nodeId: string }).nodeId === b)!;
  assert.ok(claimedB.seq > lapsed.seq, 'b was claimed after its round closed');
  assert.equal(lapsed.actor, 'controller');
  await c.stop();
});

const PAIR = `
name = "pair"
version = 1
description = "two independent steps"
[[steps]]
id = "store"
instructions = "Store."
[[steps]]
id = "ui"
instructions = "UI."
`;

test('a turn that changes files inside another worker\'s claim tells both by mail (fileChange items of the real Codex)', { timeout: 180_000 }, async () => {
  const patch = "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: src/ledger/store/cache.ts\n+export const cache = new Map<string, string>();\n*** End Patch\nEOF\n";
  const script = (request: ResponsesRequest): ModelStep => {
    const outputs = parsedToolOutputs(request).length;
    if (outputs === 0) return { call: 'exec_command', args: { cmd: patch } };
    if (outputs === 1) return { call: 'report_result', args: { outcome: 'done', summary: 'added a cache' } };
    return { say: 'Done.' };
  };
  const s = await setup({ pair: PAIR }, script);
  const { runId } = await s.formulas.startRunFromFormula({ family: 'pair', vars: {} });
  const [store, ui] = [`${runId}.store`, `${runId}.ui`];
  const overlays = new OverlayService(s.ledger);
  // A person works on the store node and claims its folder; the ui node is for Codex.
  await s.ledger.claimNode({ worker: 'ana', nodeId: store, leaseSeconds: 3600 });
  const claim = await overlays.writeEntry({ runId, kind: 'claim', author: 'ana', nodeId: store, title: 'the store', paths: ['src/ledger/store'] });
  await s.controller({ threadParams: { sandbox: 'workspace-write' } });
  await until(async () => { await s.ledger.refresh(); return overlays.overlaps(runId).length > 0 && s.ledger.getNode(ui)?.state === 'done'; }, 90_000, 'the overlap to be recorded');
  const [o] = overlays.overlaps(runId);
  assert.equal(o!.entryId, claim.entryId);
  assert.equal(o!.nodeId, ui);
  assert.deepEqual(o!.files, ['src/ledger/store/cache.ts']);
  const toAna = await overlays.readMail({ reader: 'ana' });
  assert.equal(toAna.length, 1);
  assert.match(toAna[0]!.body, /changed files inside your claim .*: src\/ledger\/store\/cache\.ts/);
  const toUi = await overlays.readMail({ reader: 'someone', nodeId: ui });
  assert.equal(toUi.length, 1);
  assert.match(toUi[0]!.body, /ana \(node .*\.store\) claimed/);
});

const SCOUT = `
name = "scout"
version = 1
description = "a scout that bids for the build"
[[steps]]
id = "scout"
instructions = "Look around, then bid for the build."
[[steps]]
id = "build"
instructions = "Build it."
`;

test('a turn bids for an announced node from inside Codex; the award is a claim its controller then runs', { timeout: 180_000 }, async () => {
  let buildId = '';
  const script = (request: ResponsesRequest): ModelStep => {
    const outputs = parsedToolOutputs(request);
    const nodeId = nodeOf(request);
    if (nodeId.endsWith('.build')) return outputs.length === 0 ? { call: 'report_result', args: { outcome: 'done', summary: 'built' } } : { say: 'Built.' };
    switch (outputs.length) {
      case 0: return { call: 'bids_view', args: {} };
      case 1: return { call: 'bid_submit', args: { nodeId: buildId, cost: 1200, confidence: 0.8, rationale: 'I know the layout now' } };
      case 2: return { call: 'report_result', args: { outcome: 'done', summary: 'scouted and bid' } };
      default: return { say: 'Done.' };
    }
  };
  const s = await setup({ scout: SCOUT }, script);
  const { runId } = await s.formulas.startRunFromFormula({ family: 'scout', vars: {} });
  buildId = `${runId}.build`;
  const overlays = new OverlayService(s.ledger);
  const round = await overlays.announce({ nodeId: buildId, announcedBy: 'lead', deadlineSeconds: 600, quorum: 1 });
  const c = await s.controller();
  const [run] = await c.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
  await s.ledger.refresh();
  // The scout's turn saw the open round, bid for it, and its bid closed the round on quorum.
  const seen = s.model.requests.flatMap(parsedToolOutputs).map((o) => o.json as { rounds?: Array<{ id: string; status: string }> }).find((j) => j?.rounds);
  assert.deepEqual(seen?.rounds?.map((r) => [r.id, r.status]), [[round.id, 'open']]);
  const awarded = overlays.round(round.id)!;
  assert.equal(awarded.status, 'awarded');
  assert.equal(awarded.closedBy, 'quorum');
  const scoutHolder = (s.ledger.events(0, 10_000).find((e) => e.kind === 'node.claimed' && (e.payload as { nodeId: string }).nodeId === `${runId}.scout`)!.payload as { worker: string }).worker;
  assert.equal(awarded.winner, scoutHolder, 'the bid was made as the worker that ran the turn');
  // The controller ran the build under the award's claim, after the award.
  const events = s.ledger.events(0, 10_000);
  const award = events.find((e) => e.kind === 'round.awarded')!;
  const dispatched = events.find((e) => e.kind === 'node.dispatched' && (e.payload as { nodeId: string }).nodeId === buildId)!;
  assert.ok(dispatched.seq > award.seq);
  assert.equal(s.ledger.getNode(buildId)!.result, 'built');
  assert.equal(events.filter((e) => e.kind === 'node.claimed' && (e.payload as { nodeId: string }).nodeId === buildId).length, 1, 'one claim: the award\'s');
});
