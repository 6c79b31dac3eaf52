// A separate process that writes blackboard entries to one ledger folder: argv dir, runId, author, count.
// Prints "ack <entryId> <title>" once each write is durable.
import { OverlayService, openLedger } from '../../../src/ledger/index';

async function main(): Promise<void> {
  const [dir, runId, author, count] = process.argv.slice(2);
  const ledger = await openLedger(dir!, { actor: `writer:${author}` });
  const overlays = new OverlayService(ledger);
  let previous: string | undefined;
  for (let i = 0; i < Number(count); i++) {
    const kind = i % 3 === 0 ? 'claim' : i % 3 === 1 ? 'finding' : 'question';
    const title = `${author}-${i}`;
    // Every third entry supersedes the writer's previous one, so supersession races with the other writer too.
    const supersedes = i % 3 === 2 ? previous : undefined;
    const { entryId } = await overlays.writeEntry({ runId, kind, author: author!, title, body: `entry ${i}`, paths: kind === 'claim' ? [`src/${author}/**`] : [], supersedes });
    previous = entryId;
    process.stdout.write(`ack ${entryId} ${title}\n`);
  }
  ledger.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
