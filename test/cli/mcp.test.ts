// `gascity mcp register|unregister|check` as a person types them: what they print, their exit codes, what lands in
// config.toml (read back by the real Codex CLI), and that a file it cannot edit safely stays as it was.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mcpCommand, stableServerDir } from '../../src/cli/mcp';
import type { McpCommandIo } from '../../src/cli/mcp';
import { verifyWithCodex } from '../../src/codex/config/registration';
import { buildServer, tempDir } from '../mcp/helpers';
import { CODEX_BIN } from '../support/scriptedModel';

let distDir = '';
before(() => {
  distDir = path.dirname(buildServer());
});

async function gascity(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: McpCommandIo = { out: (t) => { out += t; }, err: (t) => { err += t; }, env, distDir };
  const code = await mcpCommand(args, io);
  return { code, out, err };
}

function machine(config: string | null): { env: NodeJS.ProcessEnv; home: string; file: string } {
  const home = tempDir('gascity-cli-codex-home-');
  const file = path.join(home, 'config.toml');
  if (config !== null) fs.writeFileSync(file, config);
  return { env: { ...process.env, CODEX_HOME: home, XDG_DATA_HOME: tempDir('gascity-cli-data-') }, home, file };
}

test('register writes the table with approvals and a stable server copy; unregister restores the file', async () => {
  const original = '# mine\nmodel = "o3"\n\n[mcp_servers.docs]\ncommand = "docs"\n';
  const { env, home, file } = machine(original);
  const r = await gascity(['register', '--codex', CODEX_BIN], env);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`Wrote \\[mcp_servers\\.gascity\\] into the Codex config ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(r.out, /these ask first \(codex exec refuses them\): .*formula_rollback/);
  assert.match(r.out, /codex mcp get gascity reads it back/);
  const copy = path.join(stableServerDir(env), 'mcp.js');
  assert.ok(fs.existsSync(copy) && fs.existsSync(path.join(stableServerDir(env), 'sql-wasm.wasm')), 'the stable copy is in XDG_DATA_HOME');
  const entry = verifyWithCodex(CODEX_BIN, 'gascity', { codexHome: home });
  assert.deepEqual(entry?.transport.args, [copy]);
  assert.ok(fs.readFileSync(file, 'utf8').startsWith(original), 'the rest of the file is as it was');

  const u = await gascity(['unregister'], env);
  assert.equal(u.code, 0, u.err);
  assert.match(u.out, /Removed \[mcp_servers\.gascity\]/);
  assert.equal(fs.readFileSync(file, 'utf8').trimEnd(), original.trimEnd());
  const again = await gascity(['unregister'], env);
  assert.equal(again.code, 0);
  assert.match(again.out, /Nothing changed.*has no \[mcp_servers\.gascity\] table/);
});

test('a config.toml it cannot edit safely: exit 1, the line and what to do, nothing written', async () => {
  const inline = 'model = "o3"\nmcp_servers = { docs = { command = "docs" } }\n';
  const { env, file } = machine(inline);
  const r = await gascity(['register', '--codex', CODEX_BIN], env);
  assert.equal(r.code, 1);
  assert.match(r.err, /line 2.*rewrite it as \[mcp_servers\.<name>\] tables/);
  assert.equal(fs.readFileSync(file, 'utf8'), inline);
  const check = await gascity(['check', '--json'], env);
  assert.equal(check.code, 1);
  assert.equal((JSON.parse(check.out) as { line: number }).line, 2);

  const { env: env2, file: file2 } = machine('model = "o3\n');
  const bad = await gascity(['register'], env2);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /not valid TOML: line 1/);
  assert.equal(fs.readFileSync(file2, 'utf8'), 'model = "o3\n');
});

test('a table someone else wrote is not unregistered without --force; usage errors exit 2', async () => {
  const foreign = '[mcp_servers.gascity]\ncommand = "mine"\n';
  const { env, file } = machine(foreign);
  const r = await gascity(['unregister'], env);
  assert.equal(r.code, 1);
  assert.match(r.out, /not written by Gas City; pass --force/);
  assert.equal(fs.readFileSync(file, 'utf8'), foreign);
  assert.equal((await gascity(['unregister', '--force'], env)).code, 0);

  for (const args of [[], ['frobnicate'], ['register', '--approvals', 'all'], ['register', '--bogus'], ['register', 'extra']]) {
    const u = await gascity(args, env);
    assert.equal(u.code, 2, args.join(' '));
    assert.ok(u.err.length > 0, `${args.join(' ')} says what is wrong`);
  }
  const help = await gascity(['--help'], env);
  assert.equal(help.code, 0);
  assert.match(help.out, /gascity mcp register\n/);
});

test('without Codex installed, the entry is written and the message says so', async () => {
  const { env, home } = machine(null);
  const r = await gascity(['register', '--codex', path.join(home, 'no-such-codex')], env);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /was not found: Codex reads this entry once it is installed/);
  assert.ok(verifyWithCodex(CODEX_BIN, 'gascity', { codexHome: home }), 'a Codex installed later reads it');
});
