import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

const ROOT = path.join(__dirname, '..', '..');
const built = new Map<string, Promise<string>>();

/**
 * Bundles `entry` (a path from the repository root) into one JavaScript file for Node, with sql.js's
 * WASM beside it, as esbuild.mjs does for dist/: a test that starts hundreds of processes cannot pay
 * tsx's start-up for each, and a test of the CLI should run what users run. Returns the bundle's path.
 */
export function bundle(entry: string): Promise<string> {
  let p = built.get(entry);
  if (!p) {
    p = (async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-bundle-'));
      const outfile = path.join(dir, `${path.basename(entry, '.ts')}.js`);
      await esbuild.build({
        entryPoints: [path.join(ROOT, entry)], outfile, bundle: true, platform: 'node', format: 'cjs', target: 'node20',
        external: ['vscode'], logLevel: 'warning',
      });
      fs.copyFileSync(path.join(ROOT, 'node_modules', 'sql.js', 'dist', 'sql-wasm.wasm'), path.join(dir, 'sql-wasm.wasm'));
      return outfile;
    })();
    built.set(entry, p);
  }
  return p;
}
