import { OverlayService, openLedger } from '../../../src/ledger/index';
import type { Ledger } from '../../../src/ledger/index';
import { tempDir } from '../helpers';

/** A fresh ledger in a temporary folder with an overlay service on it, and a clock the test moves. */
export async function overlayLedger(): Promise<{ dir: string; ledger: Ledger; overlays: OverlayService; clock: { now: number }; close(): void }> {
  const dir = tempDir('gascity-overlays-');
  const clock = { now: Date.parse('2026-01-01T00:00:00.000Z') };
  const ledger = await openLedger(dir, { actor: 'test', now: () => new Date(clock.now) });
  return { dir, ledger, overlays: new OverlayService(ledger), clock, close: () => ledger.close() };
}

/** Starts a run of independent nodes with the given keys; returns the run id and node ids by key. */
export async function startRun(ledger: Ledger, keys: string[], title = 'overlay run'): Promise<{ runId: string; node: (key: string) => string }> {
  const r = await ledger.startRun({ title, nodes: keys.map((key) => ({ key, title: `step ${key}` })) });
  return { runId: r.runId, node: (key) => `${r.runId}.${key}` };
}
