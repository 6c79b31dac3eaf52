// A copy of the MCP server at a path that survives extension updates. An installed extension lives in a folder named
// by its version (…/extensions/gascity.gascity-codex-0.1.0/), which an update deletes; Codex's config.toml must name
// a path that stays. The extension copies its bundle into its global storage on activation, when it changed, and
// registers that copy.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../ledger/store/atomicWrite';

/** The files the server needs at run time: the bundle and sql.js's WASM, which the bundle looks for beside itself. */
export const SERVER_FILES = ['sql-wasm.wasm', 'mcp.js'] as const;

export interface InstalledServer {
  /** Absolute path of the copied server script, to register with Codex. */
  readonly script: string;
  /** The files that were copied because they were missing or differed; empty when the copy was up to date. */
  readonly copied: readonly string[];
}

function sameContent(a: Buffer, file: string): boolean {
  try {
    const st = fs.statSync(file);
    return st.size === a.length && fs.readFileSync(file).equals(a);
  } catch {
    return false;
  }
}

/**
 * Copies dist/mcp.js and dist/sql-wasm.wasm from `fromDir` into `toDir` when they differ from what is there; each
 * file atomically, the WASM first, so a Codex session starting meanwhile finds either the old pair or a new WASM
 * beside the old script (the WASM comes from the same sql.js version unless sql.js was upgraded). A running server
 * keeps the script it already loaded. Throws the file system's error when a file cannot be read or written.
 */
export function installServer(fromDir: string, toDir: string): InstalledServer {
  fs.mkdirSync(toDir, { recursive: true });
  const copied: string[] = [];
  for (const name of SERVER_FILES) {
    const data = fs.readFileSync(path.join(fromDir, name));
    const target = path.join(toDir, name);
    if (sameContent(data, target)) continue;
    writeFileAtomic(target, data, { mode: 0o644 });
    copied.push(name);
  }
  // The bundle is CommonJS; a package.json saying so keeps a "type": "module" further up from changing that.
  const pkg = path.join(toDir, 'package.json');
  const pkgText = '{ "type": "commonjs", "private": true }\n';
  if (!sameContent(Buffer.from(pkgText), pkg)) writeFileAtomic(pkg, pkgText, { mode: 0o644 });
  return { script: path.join(toDir, 'mcp.js'), copied };
}
