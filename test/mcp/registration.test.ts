// Registering the MCP server with Codex: the line-based table edit, the choice between `codex mcp add`
// and the edit, what the result reports, the undo, and a check of every result by the real Codex CLI
// (`codex mcp get <name> --json`) in a temporary CODEX_HOME.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { registerMcpServer, serverTable, unregisterMcpServer, verifyWithCodex } from '../../src/mcp/registration';
import type { McpServerSpec } from '../../src/mcp/registration';
import { findBlocks, insertedAround, replaceTable } from '../../src/mcp/tomlTable';
import type { TomlEditError } from '../../src/mcp/tomlTable';
import { CODEX_BIN } from '../support/scriptedModel';
import { tempDir } from './helpers';

const SPEC: McpServerSpec = { serverScript: '/opt/gascity/dist/mcp.js', workspace: '/work/ws', ledgerDir: '/var/ledgers/ws "one"' };
const SERVER_PATH = ['mcp_servers', 'gascity'];

/** A config a person wrote: comments everywhere, other servers, odd spacing, a multi-line string that mentions our table. */
const HANDWRITTEN = `# My Codex config. Keep this comment.
model = "o3"   # trailing comment
approval_policy = "on-request"

notes = """
A multi-line string that mentions
[mcp_servers.gascity]
and must not be taken for a table.
"""
matrix = [
  ["a", "b"],
  ["mcp_servers"],
]

[mcp_servers.docs]
# the docs server, spaced my way
command = "npx"
args = [
  "-y",
  "@acme/docs-mcp",   # pinned
]

[mcp_servers.docs.env]
DOCS_TOKEN_ENV = "X"

# Profiles below.
[profiles.fast]
model = "o4-mini"
`;

function codexHome(config: string | null): string {
  const home = tempDir('gascity-codex-home-');
  if (config !== null) fs.writeFileSync(path.join(home, 'config.toml'), config);
  return home;
}

function read(home: string): string {
  return fs.readFileSync(path.join(home, 'config.toml'), 'utf8');
}

function assertCodexSees(home: string, spec: McpServerSpec = SPEC): void {
  const entry = verifyWithCodex(CODEX_BIN, 'gascity', { codexHome: home });
  assert.ok(entry, 'codex mcp get gascity --json found the server');
  assert.equal(entry.transport.type, 'stdio');
  assert.equal(entry.transport.command, 'node');
  assert.deepEqual(entry.transport.args, [spec.serverScript, '--workspace', spec.workspace]);
  assert.deepEqual(entry.transport.env, { GASCITY_LEDGER_DIR: spec.ledgerDir });
}

test('the table scanner finds only real headers: not inside multi-line strings or arrays, quoted keys included', () => {
  assert.deepEqual(findBlocks(HANDWRITTEN, SERVER_PATH), []);
  const docs = findBlocks(HANDWRITTEN, ['mcp_servers', 'docs']);
  assert.equal(docs.length, 1, 'the table and its env subtable right after it are one block');
  assert.match(HANDWRITTEN.slice(docs[0]!.start, docs[0]!.end), /^\[mcp_servers\.docs\]\n# the docs server[\s\S]*DOCS_TOKEN_ENV = "X"\n$/);
  assert.doesNotMatch(HANDWRITTEN.slice(docs[0]!.start, docs[0]!.end), /Profiles below/, 'a comment before the next table stays with it');

  const quoted = 'a = 1\n[ mcp_servers . "gascity" ]\ncommand = "x"\n\n[other]\n[mcp_servers.\'gascity\'.env]\nK = "v"\n';
  assert.equal(findBlocks(quoted, SERVER_PATH).length, 2, 'quoted and spaced keys; a subtable elsewhere is a second block');
  assert.throws(() => findBlocks('[mcp_servers]\ngascity = { command = "x" }\n', SERVER_PATH), (e: TomlEditError) => e.line === 2 && /defined with keys on line 2/.test(e.message));
  assert.throws(() => findBlocks('mcp_servers.gascity.command = "x"\n', SERVER_PATH), /defined with keys/);
  assert.throws(() => findBlocks('[[mcp_servers.gascity]]\ncommand = "x"\n', SERVER_PATH), /array of tables/);
  assert.throws(() => findBlocks('x = """\nnever closed\n', SERVER_PATH), /inside a multi-line string/);
  assert.deepEqual(findBlocks('[mcp_servers.other]\ngascity = "not ours"\n', SERVER_PATH), [], 'a key named like the server inside another table is not it');
});

test('replaceTable adds, replaces and removes only the server\'s lines', () => {
  const table = serverTable(SPEC);
  const added = replaceTable(HANDWRITTEN, SERVER_PATH, table);
  assert.equal(added.text, `${HANDWRITTEN}\n${table}`, 'appended after a blank line, nothing else changed');
  assert.equal(added.before, null);
  const removed = replaceTable(added.text, SERVER_PATH, null, { around: added.around });
  assert.equal(removed.text, HANDWRITTEN, 'removing it restores the file byte for byte');
  assert.equal(removed.before, table);

  assert.equal(replaceTable('', SERVER_PATH, table).text, table);
  assert.equal(replaceTable('a = 1', SERVER_PATH, table).text, `a = 1\n\n${table}`, 'a file without a final newline gets one before the table');
  const crlf = 'a = 1\r\n[x]\r\nb = 2\r\n';
  assert.equal(replaceTable(crlf, SERVER_PATH, serverTable(SPEC, '\r\n')).text, `${crlf}\r\n${serverTable(SPEC, '\r\n')}`);

  assert.deepEqual(insertedAround('A\n\nB', 'A\n\nX\n\nB', 'X\n'), { before: '', after: '\n' });
  assert.equal(insertedAround('A\n\nB', 'A\n\nX\n\nC', 'X\n'), null, 'not a pure insertion');
  const original = 'a = 1\n\n[b]\nc = 2\n';
  const changed = 'a = 1\n\n[mcp_servers.gascity]\nd = 1\n\n[b]\nc = 2\n';
  const inserted = insertedAround(original, changed, '[mcp_servers.gascity]\nd = 1\n')!;
  assert.equal(replaceTable(changed, SERVER_PATH, null, { around: inserted }).text, original);
});

test('file edit: a hand-written config survives byte for byte, Codex reads the server, and unregister restores the file exactly', () => {
  const home = codexHome(HANDWRITTEN);
  const r = registerMcpServer(SPEC, { codexHome: home, codex: null });
  assert.equal(r.method, 'file-edit');
  assert.match(r.reason, /Codex CLI was not found/);
  assert.equal(r.before, null);
  assert.equal(r.after, serverTable(SPEC));
  assert.match(r.after, /^\[mcp_servers\.gascity\]\n# Written by Gas City/);
  assert.match(r.after, /env = \{ GASCITY_LEDGER_DIR = "\/var\/ledgers\/ws \\"one\\"" \}/);
  const text = read(home);
  assert.equal(text, HANDWRITTEN + r.around.before + r.after, 'every byte of the old file is still there, in place');
  assertCodexSees(home);
  const docs = verifyWithCodex(CODEX_BIN, 'docs', { codexHome: home });
  assert.deepEqual(docs?.transport.args, ['-y', '@acme/docs-mcp'], 'the other server is still readable');

  const u = unregisterMcpServer(r);
  assert.equal(u.changed, true);
  assert.equal(u.reason, 'removed the table');
  assert.equal(read(home), HANDWRITTEN);
  assert.equal(verifyWithCodex(CODEX_BIN, 'gascity', { codexHome: home }), null, 'Codex no longer knows the server');
});

test('an existing table of the same name is replaced, reported, and put back on unregister', () => {
  const previous = '[mcp_servers.gascity]\n# an older registration by hand\ncommand = "node"\nargs = ["/old/mcp.js"]\n\n[mcp_servers.gascity.env]\nGASCITY_LEDGER_DIR = "/old/ledger"\n';
  const original = `${HANDWRITTEN}\n${previous}\n# trailing comment of the file\n`;
  const home = codexHome(original);
  const r = registerMcpServer(SPEC, { codexHome: home, codex: null });
  assert.equal(r.before, previous, 'the report shows the table as it was');
  assert.equal(r.after, serverTable(SPEC));
  assert.equal(read(home), `${HANDWRITTEN}\n${serverTable(SPEC)}\n# trailing comment of the file\n`);
  assertCodexSees(home);
  const u = unregisterMcpServer(r);
  assert.equal(u.reason, 'restored the table that was there before');
  assert.equal(read(home), original);
});

test('codex mcp add is used when it keeps the rest of the file, and the undo is still exact', () => {
  const plain = 'model = "o3"\n\n[mcp_servers.other]\ncommand = "python"\nargs = ["-m", "srv"]\n\n[profiles.p]\nmodel = "y"\n';
  const home = codexHome(plain);
  const r = registerMcpServer(SPEC, { codexHome: home, codex: CODEX_BIN });
  assert.equal(r.method, 'codex-cli', r.reason);
  assert.match(r.reason, /leaves the rest of config.toml as it is/);
  assert.match(r.after, /^\[mcp_servers\.gascity\]\ncommand = "node"/);
  assert.ok(r.verified, 'verified through codex mcp get');
  assertCodexSees(home);
  assert.equal(unregisterMcpServer(r).changed, true);
  assert.equal(read(home), plain);
});

test('when codex mcp add would rewrite other tables, the table is written by the line edit instead', () => {
  const home = codexHome(HANDWRITTEN);
  const r = registerMcpServer(SPEC, { codexHome: home, codex: CODEX_BIN });
  assert.equal(r.method, 'file-edit');
  assert.match(r.reason, /codex mcp add would also rewrite other parts of config.toml/);
  assert.equal(read(home), HANDWRITTEN + r.around.before + r.after);
  assert.ok(r.verified);
  assert.deepEqual(r.verified.transport.args, [SPEC.serverScript, '--workspace', SPEC.workspace]);
  unregisterMcpServer(r);
  assert.equal(read(home), HANDWRITTEN);
});

test('without a config file one is created (private to its owner) and removed again', () => {
  for (const codex of [null, CODEX_BIN]) {
    const home = codexHome(null);
    const r = registerMcpServer(SPEC, { codexHome: home, codex });
    assert.equal(r.created, true);
    assertCodexSees(home);
    if (codex === null) assert.equal(fs.statSync(path.join(home, 'config.toml')).mode & 0o777, 0o600);
    unregisterMcpServer(r);
    assert.equal(fs.existsSync(path.join(home, 'config.toml')), false, `${r.method}: the file it created is gone`);
  }
});

test('a table edited since registration is left alone unless forced; a server defined by keys is refused', () => {
  const home = codexHome(HANDWRITTEN);
  const r = registerMcpServer(SPEC, { codexHome: home, codex: null });
  fs.writeFileSync(path.join(home, 'config.toml'), read(home).replace('command = "node"', 'command = "/usr/local/bin/node"'));
  const u = unregisterMcpServer(r);
  assert.equal(u.changed, false);
  assert.match(u.reason, /changed since it was registered/);
  assert.equal(unregisterMcpServer(r, { force: true }).changed, true);
  assert.equal(read(home), HANDWRITTEN);

  const inline = '[mcp_servers]\ngascity = { command = "x" }\n';
  const home2 = codexHome(inline);
  assert.throws(() => registerMcpServer(SPEC, { codexHome: home2, codex: null }), /defined with keys on line 2/);
  assert.equal(read(home2), inline, 'nothing was written');
  assert.throws(() => registerMcpServer({ ...SPEC, name: 'gas city' }, { codexHome: home2, codex: null }), /may only use letters/);
  assert.throws(() => registerMcpServer({ ...SPEC, serverScript: 'dist/mcp.js' }, { codexHome: home2, codex: null }), /absolute path/);
});

test('through the CLI too, an existing table is replaced and put back', () => {
  const previous = '[mcp_servers.gascity]\ncommand = "node"\nargs = ["/old/mcp.js"]\n';
  const original = `model = "o3"\n\n${previous}\n[mcp_servers.other]\ncommand = "python"\nargs = ["-m", "srv"]\n`;
  const home = codexHome(original);
  const r = registerMcpServer(SPEC, { codexHome: home, codex: CODEX_BIN });
  assert.equal(r.method, 'codex-cli', r.reason);
  assert.equal(r.before, previous);
  assertCodexSees(home);
  unregisterMcpServer(r);
  assert.equal(read(home), original);
});
