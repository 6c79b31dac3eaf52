// Worker profiles under the controller, with the real Codex CLI and a scripted model (issue 13, branch overlays-2):
// each profile bids for an announced node through its own bidding turn (the model sees which model a request names
// and bids accordingly), the award follows the rule, and the node runs on a thread of the winning profile's model;
// a person's winning bid puts the node under Needs you; bad profiles are refused by field.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Controller } from '../../src/controller/index';
import { parseProfileFlag, parseWorkerProfiles } from '../../src/controller/profiles';
import { LedgerError, OverlayService } from '../../src/ledger/index';
import { messages, parsedToolOutputs } from '../support/scriptedModel';
import type { ModelStep, ResponsesRequest } from '../support/scriptedModel';
import { CODEX_BIN, cleanup, nodeOf, setup, until } from './helpers';

after(cleanup);

const BUILD = `
name = "build"
version = 1
description = "one step up for bids"
[[steps]]
id = "build"
instructions = "Build the parser."
`;

/** What each model bids: the deep model is dearer but surer (1200 / 0.9 = 1333 < 1000 / 0.5 = 2000). */
const BIDS: Record<string, { cost: number; confidence: number }> = { 'mock-fast': { cost: 1000, confidence: 0.5 }, 'mock-deep': { cost: 1200, confidence: 0.9 } };

const isBidding = (r: ResponsesRequest) => messages(r, 'developer').includes('announced for bids and you are asked for yours');
const toolNames = (r: ResponsesRequest) => (r.tools ?? []).map((t) => t.name ?? '');

/** A model that bids in bidding turns (by the model the request names) and finishes node turns. */
function script(request: ResponsesRequest): ModelStep {
  const outputs = parsedToolOutputs(request).length;
  if (isBidding(request)) {
    // Bidding turns cost tokens like any turn: 300 + 7 for the bid, 40 + 2 for the closing message.
    if (outputs > 0) return { say: 'Bid.', usage: { input: 40, output: 2 } };
    const round = /Round: (\S+)\./.exec(messages(request, 'developer'))![1]!;
    if (request.model === 'mock-slow') return { hang: true };
    const bid = BIDS[request.model ?? ''];
    if (!bid) return { say: `I do not bid (model ${request.model}).` };
    return { call: 'bid_submit', args: { roundId: round, ...bid, rationale: `as ${request.model}` }, usage: { input: 300, output: 7 } };
  }
  if (outputs > 0) return { say: 'Built.' };
  return { call: 'report_result', args: { outcome: 'done', summary: `built by ${request.model} for ${nodeOf(request)}` } };
}

test('two profiles bid through their own turns; the node runs on a thread of the winning profile\'s model', { timeout: 180_000 }, async () => {
  const s = await setup({ build: BUILD }, script);
  const { runId } = await s.formulas.startRunFromFormula({ family: 'build', vars: {} });
  const build = `${runId}.build`;
  const overlays = new OverlayService(s.ledger);
  const round = await overlays.announce({ nodeId: build, announcedBy: 'lead', deadlineSeconds: 600, quorum: 2 });
  const c = await s.controller({ profiles: [{ name: 'fast', model: 'mock-fast', effort: 'low' }, { name: 'deep', model: 'mock-deep', effort: 'high' }] });
  const [run] = await c.waitForRuns([runId]);
  await s.ledger.refresh();
  assert.equal(run!.status, 'done', JSON.stringify(s.ledger.getNode(build)) + JSON.stringify(s.ledger.events(0, 1000).map((e) => [e.kind, e.payload])));

  // One bidding turn per profile, each on its own model, offered bid_submit and not the node's tools.
  const bidding = s.model.requests.filter(isBidding);
  assert.deepEqual([...new Set(bidding.map((r) => r.model))].sort(), ['mock-deep', 'mock-fast']);
  assert.ok(bidding.every((r) => toolNames(r).includes('bid_submit') && !toolNames(r).includes('report_result')));
  assert.equal(bidding.filter((r) => parsedToolOutputs(r).length === 0).length, 2, 'two bidding turns, no more');

  // The award followed the rule: the deep profile won on quorum, both bids compared.
  const awarded = overlays.round(round.id)!;
  assert.equal(awarded.status, 'awarded');
  assert.equal(awarded.closedBy, 'quorum');
  assert.equal(awarded.winner, `${c.worker}:deep`);
  assert.deepEqual(awarded.compared.map((b) => [b.bidder, b.score]), [[`${c.worker}:deep`, 1200 / 0.9], [`${c.worker}:fast`, 2000]]);

  // The node ran under the award's claim on a thread of the deep model, bound as the profile's.
  const turns = s.model.requests.filter((r) => !isBidding(r));
  assert.ok(turns.length >= 1);
  assert.deepEqual([...new Set(turns.map((r) => r.model))], ['mock-deep']);
  // Each profile's reasoning effort reached the model with its requests (Codex's model_reasoning_effort).
  const effort = (r: ResponsesRequest) => (r as { reasoning?: { effort?: string } }).reasoning?.effort;
  assert.ok(bidding.every((r) => effort(r) === (r.model === 'mock-deep' ? 'high' : 'low')));
  assert.ok(turns.every((r) => effort(r) === 'high'));
  assert.equal(s.ledger.getNode(build)!.result, 'built by mock-deep for ' + build);
  assert.deepEqual(s.ledger.runGraph(runId)!.bindings.map((b) => b.workerKind), ['codex/deep']);
  const events = s.ledger.events(0, 10_000);
  assert.equal(events.filter((e) => e.kind === 'node.claimed' && (e.payload as { nodeId: string }).nodeId === build).length, 1, 'one claim: the award\'s');
  const dispatched = events.find((e) => e.kind === 'node.dispatched')!;
  assert.equal((dispatched.payload as { worker: string }).worker, `${c.worker}:deep`);

  // The bidding turns' tokens are evidence on the node (kind bidding, one per profile), so the run's and the
  // variant's tokens include them beside the node turn's.
  const evidence = s.ledger.evidence({ nodeId: build, limit: 100 });
  const bids = evidence.filter((e) => e.kind === 'bidding');
  assert.equal(bids.length, 2, JSON.stringify(evidence));
  assert.deepEqual(bids.map((e) => e.tokens), [349, 349]);
  assert.ok(bids.some((e) => /^bidding turn of profile deep in round \S+ \(codex thread \S+\): bid; 340 input tokens/.test(e.note)), JSON.stringify(bids));
  const turnTokens = evidence.filter((e) => e.kind === 'tokens').reduce((n, e) => n + (e.tokens ?? 0), 0);
  assert.ok(turnTokens > 0);
  assert.equal(s.ledger.getNode(build)!.tokens, turnTokens + 698);
  assert.equal(s.ledger.getRun(runId)!.tokens, turnTokens + 698);
});

const PAIR = `
name = "pair"
version = 1
description = "one step up for bids, one not"
[[steps]]
id = "build"
instructions = "Build the parser."
[[steps]]
id = "docs"
instructions = "Write the docs."
`;

test('a profile that declines or whose bidding turn hangs is absent from the round; other nodes are dispatched meanwhile', { timeout: 180_000 }, async () => {
  const s = await setup({ pair: PAIR }, script);
  const { runId } = await s.formulas.startRunFromFormula({ family: 'pair', vars: {} });
  const [build, docs] = [`${runId}.build`, `${runId}.docs`];
  const overlays = new OverlayService(s.ledger);
  const round = await overlays.announce({ nodeId: build, announcedBy: 'lead', deadlineSeconds: 20, quorum: 5 });
  const logs: string[] = [];
  const c = await s.controller({
    profiles: [{ name: 'fast', model: 'mock-fast' }, { name: 'mute', model: 'mock-mute' }, { name: 'slow', model: 'mock-slow' }],
    bidding: { maxTurns: 3, turnTimeoutMs: 3000 }, log: (m) => logs.push(m),
  });
  const [run] = await c.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
  await s.ledger.refresh();
  const awarded = overlays.round(round.id)!;
  assert.equal(awarded.closedBy, 'deadline');
  assert.deepEqual(awarded.compared.map((b) => b.bidder), [`${c.worker}:fast`], 'only the profile that bid is in the round');
  assert.ok(logs.some((l) => l.includes('profile mute did not bid')));
  assert.ok(logs.some((l) => l.includes('profile slow did not bid')), 'the hanging turn was cut off at its timeout');
  // Each profile was asked once, and the node that was not announced did not wait for the round.
  const bidding = s.model.requests.filter(isBidding).filter((r) => parsedToolOutputs(r).length === 0);
  assert.deepEqual(bidding.map((r) => r.model).sort(), ['mock-fast', 'mock-mute', 'mock-slow']);
  const events = s.ledger.events(0, 10_000);
  const docsDone = events.find((e) => e.kind === 'node.reported' && (e.payload as { nodeId: string }).nodeId === docs)!;
  const award = events.find((e) => e.kind === 'round.awarded')!;
  assert.ok(docsDone.seq < award.seq, 'docs ran while the round was open');
  assert.equal(s.ledger.getNode(build)!.result, `built by mock-fast for ${build}`);
});

test('a profile\'s node whose app-server is killed mid-turn resumes on its thread with the profile\'s model and claim', { timeout: 180_000 }, async () => {
  // The deep model hangs on the node's first turn; the turn that resumes it after the crash reports.
  const hangFirst = (request: ResponsesRequest): ModelStep => {
    if (isBidding(request) || parsedToolOutputs(request).length > 0) return script(request);
    return messages(request, 'user').includes('was cut off') ? script(request) : { hang: true };
  };
  const s = await setup({ build: BUILD }, hangFirst);
  const { runId } = await s.formulas.startRunFromFormula({ family: 'build', vars: {} });
  const build = `${runId}.build`;
  const round = await new OverlayService(s.ledger).announce({ nodeId: build, announcedBy: 'lead', deadlineSeconds: 600, quorum: 1 });
  const c = await s.controller({ profiles: [{ name: 'deep', model: 'mock-deep' }], restartBackoffMs: { initial: 200, max: 1000 } });
  await until(() => s.model.requests.some((r) => !isBidding(r)), 60_000, 'the node\'s turn to reach the model');
  const thread = s.ledger.runGraph(runId)!.bindings.find((b) => b.nodeId === build)!.threadId;
  process.kill(-c.serverPid!, 'SIGKILL');
  const [run] = await c.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
  await s.ledger.refresh();
  assert.ok(s.events.some((e) => e.type === 'dispatched' && e.nodeId === build && e.resumed), 'the node was resumed');
  const turns = s.model.requests.filter((r) => !isBidding(r));
  assert.ok(turns.some((r) => messages(r, 'user').includes('was cut off')));
  assert.deepEqual([...new Set(turns.map((r) => r.model))], ['mock-deep'], 'the resumed thread kept the profile\'s model');
  assert.deepEqual(s.ledger.runGraph(runId)!.bindings.map((b) => [b.threadId, b.workerKind]), [[thread, 'codex/deep']]);
  const claims = s.ledger.events(0, 10_000).filter((e) => e.kind === 'node.claimed' && (e.payload as { nodeId: string }).nodeId === build);
  assert.deepEqual(claims.map((e) => (e.payload as { worker: string }).worker), [`${c.worker}:deep`], 'the award\'s claim carried the node through the crash');
  assert.equal(new OverlayService(s.ledger).round(round.id)!.winner, `${c.worker}:deep`);
});

test('a person\'s winning bid holds the node for them under Needs you; the profile\'s turn bid but the node is not run', { timeout: 180_000 }, async () => {
  const s = await setup({ build: BUILD }, script);
  const { runId } = await s.formulas.startRunFromFormula({ family: 'build', vars: {} });
  const build = `${runId}.build`;
  const overlays = new OverlayService(s.ledger);
  const round = await overlays.announce({ nodeId: build, announcedBy: 'lead', deadlineSeconds: 600, quorum: 2 });
  await overlays.submitBid({ roundId: round.id, bidder: 'ana', cost: 300, confidence: 0.9, rationale: 'I wrote the grammar', person: true });
  const c = await s.controller({ profiles: [{ name: 'fast', model: 'mock-fast' }] });
  await until(() => s.events.some((e) => e.type === 'needsPerson' && e.nodes.some((n) => n.id === build)), 90_000, 'the node to wait for ana');
  await s.ledger.refresh();
  const awarded = overlays.round(round.id)!;
  assert.equal(awarded.winner, 'ana');
  assert.deepEqual(awarded.compared.map((b) => b.bidder), ['ana', `${c.worker}:fast`]);
  const node = s.ledger.getNode(build)!;
  assert.equal(node.state, 'blocked');
  assert.equal(node.gate?.kind, 'human');
  assert.match(node.result ?? '', /ana won round/);
  assert.ok(s.ledger.needsPerson().some((n) => n.id === build));
  assert.ok(!s.events.some((e) => e.type === 'dispatched' && e.nodeId === build), 'the controller did not run the person\'s node');
  assert.ok(s.model.requests.every(isBidding), 'only the bidding turn reached the model');
});

test('bad worker profiles are refused by field, before a controller starts anything', async () => {
  const s = await setup({ build: BUILD }, script);
  const make = (profiles: unknown) => () => new Controller({
    ledger: s.ledger, formulas: s.formulas, workspaceDir: s.workspace, codex: { command: CODEX_BIN, codexHome: s.codexHome },
    profiles: profiles as never,
  });
  const cases: Array<[unknown, RegExp]> = [
    [{ name: 'fast' }, /^profiles: give a list/],
    [[{ name: 'fast', model: 'm', temperature: 0.2 }], /^profiles\.0\.temperature: unknown key; a profile has name, model/],
    [[{ name: 'a b', model: 'm' }], /^profiles\.0\.name: name is 1 to 40 letters/],
    [[{ name: 'ok', model: '' }], /^profiles\.0\.model: model must not be empty/],
    [[{ name: 'ok', model: 'gpt 5' }], /^profiles\.0\.model: model has no spaces/],
    [[{ name: 'ok', model: 'm', effort: 'max' }], /^profiles\.0\.effort: effort is one of minimal, low/],
    [[{ name: 'ok', model: 'm', sandbox: 'none' }], /^profiles\.0\.sandbox: sandbox is one of/],
    [[{ name: 'ok', model: 'm' }, { name: 'ok', model: 'n' }], /^profiles\.1\.name: "ok" is named twice/],
    [JSON.parse('[{"name":"ok","model":"m","__proto__":{"x":1}}]'), /^profiles\.0\.__proto__: unknown key/],
    [[null], /^profiles\.0: a profile is an object/],
    [Array.from({ length: 17 }, (_, i) => ({ name: `p${i}`, model: 'm' })), /^profiles: at most 16 profiles/],
    [[{ name: 'ok', model: 'm'.repeat(201) }], /^profiles\.0\.model: model is at most 200 characters/],
  ];
  for (const [profiles, message] of cases) {
    const started = Date.now();
    assert.throws(make(profiles), (e: unknown) => e instanceof LedgerError && message.test(e.message), `refused: ${JSON.stringify(profiles)?.slice(0, 80)}`);
    assert.ok(Date.now() - started < 1000);
  }
  // The CLI form, and its mistakes.
  assert.deepEqual(parseWorkerProfiles([parseProfileFlag('deep=gpt-5,effort=high,sandbox=read-only')]), [{ name: 'deep', model: 'gpt-5', effort: 'high', sandbox: 'read-only' }]);
  assert.throws(() => parseProfileFlag('gpt-5'), /--profile 1: write NAME=MODEL/);
  assert.throws(() => parseProfileFlag('a=m,effort'), /--profile 1: "effort" is not key=value/);
  assert.throws(() => parseProfileFlag('a=m,effort=low,effort=high'), /--profile 1: effort is given twice/);
  assert.throws(() => parseWorkerProfiles([parseProfileFlag('a=m,colour=red')]), /profiles\.0\.colour: unknown key/);
});
