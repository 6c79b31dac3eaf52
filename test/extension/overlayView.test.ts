import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { OverlayService, openLedger } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import { toOverlayView } from '../../src/extension/overlayView';
import { isHostMessage } from '../../src/shared/protocol';
import type { RunOverlayView } from '../../src/shared/protocol';
import { tempDir } from '../ledger/helpers';

let dir: string;
let ledger: Ledger;
let overlays: OverlayService;
let runId: string;
let plan: string;
let code: string;

before(async () => {
  dir = tempDir('gascity-overlay-view-');
  ledger = await openLedger(dir, { actor: 'test' });
  overlays = new OverlayService(ledger);
  ({ runId } = await ledger.startRun({ title: 'overlays', nodes: [{ key: 'plan', title: 'Plan' }, { key: 'code', title: 'Code' }, { key: 'docs', title: 'Docs' }] }));
  plan = `${runId}.plan`;
  code = `${runId}.code`;
});
after(() => {
  ledger.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function view(): RunOverlayView {
  const nodes = ledger.runGraph(runId)!.nodes.map((n) => n.id);
  return toOverlayView(runId, overlays.runOverlays(runId), new Set(nodes));
}

describe('toOverlayView (what the run graph draws when an overlay is on)', () => {
  it('draws nothing for a run without overlays', () => {
    assert.deepEqual(view(), { runId, marks: [] });
  });

  it('puts a claim, a round with its bids, a coalition and node mail on their nodes, and run mail on the run', async () => {
    await overlays.writeEntry({ runId, kind: 'claim', author: 'codex-a', nodeId: plan, title: 'ledger code', paths: ['src/ledger/**'] });
    await overlays.announce({ nodeId: plan, announcedBy: 'lead', deadlineSeconds: 600, quorum: 3 });
    await overlays.submitBid({ nodeId: plan, bidder: 'codex-b', cost: 12_000, confidence: 0.8, rationale: 'knows the store' });
    await overlays.formCoalition({ runId, name: 'docs-team', members: ['codex-a', 'codex-c'], lead: 'codex-a', leadScope: [code] });
    await overlays.sendMail({ from: 'person', toKind: 'node', to: code, subject: 'careful', body: 'keep the old API', runId });
    await overlays.sendMail({ from: 'person', toKind: 'run', to: runId, subject: 'status', body: 'ship by Friday', runId });
    const v = view();
    const on = (kind: string, nodeId?: string) => v.marks.find((m) => m.kind === kind && m.nodeId === nodeId);
    assert.equal(on('claims', plan)?.badge, '1 claim');
    assert.match(on('claims', plan)!.lines[0]!, /codex-a claims src\/ledger\/\*\*: ledger code/);
    assert.equal(on('bids', plan)?.badge, 'bidding · 1 bid');
    assert.ok(on('bids', plan)!.lines.some((l) => /codex-b: 12,000 tokens at confidence 0.8 — knows the store/.test(l)));
    assert.equal(on('coalitions', code)?.badge, 'docs-team');
    assert.match(on('coalitions', code)!.lines[0]!, /docs-team \(codex-a, codex-c\): led by codex-a/);
    assert.equal(on('mail', code)?.badge, '1 message');
    assert.match(on('mail', code)!.lines[0]!, /person → node .*: careful — keep the old API/);
    assert.match(on('mail', undefined)!.lines[0]!, /person → run .*: status — ship by Friday/);
    assert.ok(isHostMessage(JSON.parse(JSON.stringify({ type: 'runOverlays', overlays: v }))), 'the page accepts it');
  });

  it('cuts long worker text to one short line and shows marks for unknown nodes on the run', async () => {
    await overlays.writeEntry({ runId, kind: 'claim', author: 'codex-z', title: 'x'.repeat(190), body: '', paths: Array.from({ length: 30 }, (_, i) => `dir${i}/**/${'y'.repeat(40)}`) });
    const v = toOverlayView(runId, overlays.runOverlays(runId), new Set());
    for (const m of v.marks) {
      assert.equal(m.nodeId, undefined, 'no node is known, so every mark is on the run');
      for (const line of m.lines) assert.ok(line.length <= 300, `a line of ${line.length} characters`);
    }
  });

  it('the page refuses overlay messages of unknown kinds or without bounds', () => {
    const ok = { runId: 'r-1', marks: [{ kind: 'mail', badge: '1 message', lines: ['hi'] }] };
    assert.ok(isHostMessage({ type: 'runOverlays', overlays: ok }));
    for (const overlays of [
      { ...ok, marks: [{ kind: 'gossip', badge: '', lines: [] }] },
      { ...ok, marks: [{ kind: 'mail', badge: '', lines: Array.from({ length: 101 }, () => 'x') }] },
      { ...ok, marks: Array.from({ length: 5001 }, () => ({ kind: 'mail', badge: '', lines: [] })) },
      { ...ok, runId: '' },
    ]) {
      assert.equal(isHostMessage({ type: 'runOverlays', overlays }), false);
    }
  });
});
