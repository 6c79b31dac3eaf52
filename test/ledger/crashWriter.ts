// A writer process for the crash suite, bundled by the test (test/ledger/storeBundle.ts) so that it
// starts fast: it uses the store and the ledger's projection directly (what every ledger command ends
// in), without the command layer's input schemas, so that a thousand of them fit in CI's time.
// It prints "ready" once the store is open and "ack <runId> <title>" after each commit returns, i.e.
// after its journal line is written and synced.
// Usage: crashWriter.js <dir> <name> cli|mcp|checkpoint [checkpointEvery]
//   cli         one commit, then exit (what `gascity start` does)
//   mcp         commits in a loop, as a long-running MCP server answering calls does (40, then exit)
//   checkpoint  folds the journal into the snapshot in a loop, with a commit now and then (12, then exit)
// The caps keep the ledger small, so that a thousand writers open it quickly; most are killed first.
import { EventStore } from '../../src/ledger/store/store';
import { ledgerProjection } from '../../src/ledger/projection';
import { event } from '../../src/ledger/events';

async function main(): Promise<void> {
  const [dir, name, mode, every] = process.argv.slice(2);
  const store = await EventStore.open(dir!, ledgerProjection, { checkpointEvery: every ? Number(every) : undefined, lockTimeoutMs: 60_000 });
  process.stdout.write('ready\n');
  const cap = mode === 'cli' ? 1 : mode === 'mcp' ? 40 : 12;
  for (let i = 0; i < cap; i++) {
    if (mode === 'checkpoint' && i % 4 !== 0) {
      await store.checkpoint();
      continue;
    }
    const title = `${name}-${i}`;
    const runId = `r-${name}-${i}`;
    await store.write(`${mode}:${name}`, () => ({
      events: [event('run.started', {
        runId, familyId: null, variantId: null, generation: null, title, vars: {}, taskKey: null, arm: null,
        nodes: [{ id: `${runId}.only`, stepId: 'only', title: 'only step', instructions: '', maxAttempts: 1, onExhausted: 'fail', gate: null, review: false, skipped: false }],
        edges: [],
      })],
      result: null,
    }));
    process.stdout.write(`ack ${runId} ${title}\n`);
  }
  store.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`writer failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
