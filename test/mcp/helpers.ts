import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FormulaService, openLedger, PromotionService } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import { createServer } from '../../src/mcp/server';

export const REPO = path.join(__dirname, '..', '..');
export const SHIPPED_FORMULAS = path.join(REPO, 'formulas');

const made: string[] = [];

/** A fresh folder under the system temp folder, removed when the test process exits. */
export function tempDir(prefix = 'gascity-mcp-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

process.on('exit', () => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

export interface Harness {
  workspace: string;
  ledger: Ledger;
  formulas: FormulaService;
  promotions: PromotionService;
  client: Client;
  /** Calls a tool and returns its result as the client received it. */
  call(name: string, args: unknown): Promise<CallToolResult>;
  /** Calls a tool that must succeed and returns its structured content. */
  ok<T = Record<string, unknown>>(name: string, args: unknown): Promise<T>;
  close(): Promise<void>;
}

/** A server over a fresh ledger in a temp workspace (with the shipped formulas imported), and a client connected in-process. */
export async function harness(options: { importFormulas?: boolean } = {}): Promise<Harness> {
  const workspace = tempDir('gascity-mcp-ws-');
  const ledger = await openLedger(path.join(workspace, '.gascity', 'ledger'), { actor: 'mcp-test' });
  const formulas = new FormulaService(ledger, { workspaceDir: workspace });
  if (options.importFormulas !== false) await formulas.importFormulas(SHIPPED_FORMULAS);
  const promotions = new PromotionService(ledger, formulas);
  const server = createServer(ledger, { formulas, promotions });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'test', version: '0.0.0' });
  await server.connect(serverSide);
  await client.connect(clientSide);
  const call = async (name: string, args: unknown) => (await client.callTool({ name, arguments: args as Record<string, unknown> })) as CallToolResult;
  return {
    workspace, ledger, formulas, promotions, client, call,
    async ok<T>(name: string, args: unknown): Promise<T> {
      const r = await call(name, args);
      if (r.isError) throw new Error(`${name} failed: ${textOf(r)}`);
      return r.structuredContent as T;
    },
    async close() {
      await client.close();
      await server.close();
      promotions.dispose();
      ledger.close();
    },
  };
}

export function textOf(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');
}

/**
 * Builds dist/ with the project's esbuild script and returns a private copy of the server bundle (with
 * the sql.js WASM beside it), so that another build running at the same time cannot swap the file
 * under a test that is starting it.
 */
export function buildServer(): string {
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`node esbuild.mjs failed: ${built.stderr}`);
  const dir = tempDir('gascity-mcp-dist-');
  for (const file of ['mcp.js', 'sql-wasm.wasm']) fs.copyFileSync(path.join(REPO, 'dist', file), path.join(dir, file));
  return path.join(dir, 'mcp.js');
}
