// Child process of archive.watch.test.ts: records a note on the given runs, one after another round
// and round, until the stop file exists; prints each acknowledged note ("<runId> <note>"), and
// "refused <runId>" for a run that was archived meanwhile (it can no longer change).
import * as fs from 'node:fs';
import { openLedger } from '../../src/ledger/index';
import { LedgerError } from '../../src/ledger/errors';

async function main(): Promise<void> {
  const [dir, stop, ...runIds] = process.argv.slice(2);
  const ledger = await openLedger(dir!, { actor: 'noter', retentionDays: null });
  process.stdout.write('ready\n');
  try {
    for (let i = 0; !fs.existsSync(stop!); i++) {
      const runId = runIds[i % runIds.length]!;
      const note = `late-${i}`;
      try {
        await ledger.recordEvidence({ runId, kind: 'note', note });
        process.stdout.write(`${runId} ${note}\n`);
      } catch (err) {
        if (!(err instanceof LedgerError) || err.code !== 'conflict') throw err;
        process.stdout.write(`refused ${runId}\n`);
      }
    }
  } finally {
    ledger.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
