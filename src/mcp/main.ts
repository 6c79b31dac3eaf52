// The stdio entry of the MCP server that Codex starts (bundled to dist/mcp.js). stdout carries the protocol
// and nothing else, so every diagnostic goes to stderr, and console.log is pointed there too in case a
// dependency writes to it. The ledger is opened after the server has answered initialize and tools/list
// (see createLazyServer), so Codex sees the tools even when the journal takes a while to replay.
import * as path from 'node:path';
import { FormulaService, openLedger, PromotionService, resolveLedgerDir } from '../ledger/index';
import { parseArgs } from './args';
import { createLazyServer } from './server';
import type { LedgerServices } from './server';
import { LineStdioServerTransport } from './transport';

async function main(): Promise<void> {
  const log = (message: string) => process.stderr.write(`[gascity-mcp] ${message}\n`);
  console.log = (...args: unknown[]) => log(args.map(String).join(' '));
  const args = parseArgs(process.argv.slice(2));
  const workspace = path.resolve(args.workspace ?? process.cwd());
  const dir = args.ledger ? path.resolve(args.ledger) : resolveLedgerDir({ cwd: workspace });
  const actor = args.actor ?? `mcp:${process.pid}`;
  let opened: LedgerServices | undefined;
  const open = async (): Promise<LedgerServices> => {
    const ledger = await openLedger(dir, { actor });
    const formulas = new FormulaService(ledger, { workspaceDir: workspace });
    // Constructing the promotion service routes runs of a family in trial to the candidate's arm.
    const promotions = new PromotionService(ledger, formulas);
    opened = { ledger, formulas, promotions };
    return opened;
  };
  const { server } = createLazyServer(open, { offers: { formulas: true, promotions: true }, actor, log });
  const transport = new LineStdioServerTransport(process.stdin, process.stdout, { log });
  let closing = false;
  const shutdown = (why: string) => {
    if (closing) return;
    closing = true;
    log(`closing (${why})`);
    void server.close().finally(() => {
      // A ledger still opening is left to the exit: nothing was written through it.
      opened?.promotions?.dispose();
      opened?.ledger.close();
      process.exit(0);
    });
  };
  // Codex ends a server by closing its stdin (or by a signal); the ledger is closed before exiting.
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await server.connect(transport);
  log(`serving ledger ${dir} for workspace ${workspace} as ${actor}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`[gascity-mcp] ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
