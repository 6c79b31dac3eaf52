// Registering the MCP server with Codex: the line-based table edit, what the result reports, the undo, the refusal
// of files that cannot be edited safely (nothing written), the approval settings, and a check of every result by the
// real Codex CLI (`codex mcp get <name> --json`) in a temporary CODEX_HOME.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  approvalsFor, checkConfig, registerMcpServer, RegistrationRefused, removeMcpServer, serverTable, toolsThatAsk, unregisterMcpServer, verifyWithCodex,
} from '../../../src/codex/config/registration';
import type { McpServerSpec } from '../../../src/codex/config/registration';
import { installServer } from '../../../src/codex/config/serverInstall';
import { tomlInline, tomlString } from '../../../src/codex/config/toml';
import { findBlocks, insertedAround, replaceTable } from '../../../src/codex/config/tomlTable';
import type { TomlEditError } from '../../../src/codex/config/tomlTable';
import { FORMULA_TOOLS, PROMOTION_TOOLS, WORKFLOW_TOOLS } from '../../../src/mcp/tools';
import { CODEX_BIN } from '../../support/scriptedModel';
import { tempDir } from '../../mcp/helpers';

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
  assert.equal(r.codex, null, 'no Codex CLI was asked');
  assert.equal(r.global, false, 'a given CODEX_HOME is not the global config');
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

test('without a config file one is created (private to its owner) and removed again', () => {
  for (const codex of [null, CODEX_BIN]) {
    const home = codexHome(null);
    const r = registerMcpServer(SPEC, { codexHome: home, codex });
    assert.equal(r.created, true);
    assertCodexSees(home);
    assert.equal(fs.statSync(path.join(home, 'config.toml')).mode & 0o777, 0o600);
    assert.equal(r.codex, codex);
    if (codex) assert.ok(r.verified, 'read back by codex mcp get');
    unregisterMcpServer(r);
    assert.equal(fs.existsSync(path.join(home, 'config.toml')), false, 'the file it created is gone');
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
  assert.throws(() => registerMcpServer(SPEC, { codexHome: home2, codex: null }), (e: RegistrationRefused) => e.line === 2 && /defined with keys on line 2/.test(e.message));
  assert.equal(read(home2), inline, 'nothing was written');
  assert.throws(() => registerMcpServer({ ...SPEC, name: 'gas city' }, { codexHome: home2, codex: null }), /may only use letters/);
  assert.throws(() => registerMcpServer({ ...SPEC, serverScript: 'dist/mcp.js' }, { codexHome: home2, codex: null }), /absolute path/);
});

/** Asserts that registering refuses the file with a message naming `line`, and leaves it byte for byte. */
function assertRefused(config: string, line: number, pattern: RegExp): RegistrationRefused {
  const home = codexHome(config);
  let refused: RegistrationRefused | undefined;
  assert.throws(() => registerMcpServer(SPEC, { codexHome: home, codex: null }), (e: unknown) => {
    refused = e as RegistrationRefused;
    return e instanceof RegistrationRefused;
  });
  assert.equal(refused!.line, line, refused!.message);
  assert.match(refused!.message, pattern);
  assert.match(refused!.message, /Nothing was changed/);
  assert.equal(read(home), config, 'the file is untouched');
  assert.deepEqual(fs.readdirSync(home), ['config.toml'], 'no temporary file is left');
  assert.equal(checkConfig({ codexHome: home })?.line, line, 'the check without writing says the same');
  return refused!;
}

test('a config it cannot edit safely is refused with the line and what to do, and nothing is written', () => {
  // The example: an inline mcp_servers table; a table added after it makes Codex refuse the whole file.
  const inlineRoot = 'model = "o3"\nmcp_servers = { docs = { command = "docs" } }\n';
  assertRefused(inlineRoot, 2, /mcp_servers is written as an inline value on line 2.*rewrite it as \[mcp_servers\.<name>\] tables/);
  // Codex itself refuses the file we would have produced: the refusal protects the person's Codex.
  const broken = `${inlineRoot}\n${serverTable(SPEC)}`;
  const home = codexHome(broken);
  assert.equal(verifyWithCodex(CODEX_BIN, 'docs', { codexHome: home }), null, 'Codex cannot read a file with both forms');

  assertRefused('model = "o3\n[mcp_servers.docs]\ncommand = "d"\n', 1, /not valid TOML: line 1, column \d+.*fix that line/);
  // smol-toml reports an unclosed array where it noticed: at the end of the file.
  assertRefused('a = 1\n[profiles]\nx = [1, 2\n', 4, /not valid TOML: line 4/);
  assertRefused('a = 1\na = 2\n', 2, /not valid TOML: line 2/);
  assertRefused('[mcp_servers]\ngascity.command = "x"\n', 2, /defined with keys on line 2/);
});

test('dotted keys under mcp_servers and odd but valid files: either a correct edit Codex reads, or a refusal', () => {
  for (const config of [
    'mcp_servers.docs.command = "docs"\n',
    '[mcp_servers]\ndocs = { command = "docs" }\n',
    '[mcp_servers]\n\n[mcp_servers.docs]\ncommand = "docs"\n',
    '\uFEFFmodel = "o3"\n',
    'key = "tab\\there"\r\n[profiles.x]\r\nmodel = "y"\r\n',
  ]) {
    const home = codexHome(config);
    try {
      const r = registerMcpServer(SPEC, { codexHome: home, codex: null });
      assertCodexSees(home);
      unregisterMcpServer(r);
      assert.equal(read(home), config, `undo restores ${JSON.stringify(config)}`);
    } catch (e) {
      assert.ok(e instanceof RegistrationRefused, `${JSON.stringify(config)}: ${String(e)}`);
      assert.equal(read(home), config);
    }
  }
});

const ALL_TOOLS = [...WORKFLOW_TOOLS, ...FORMULA_TOOLS, ...PROMOTION_TOOLS];

test('approvals: read-only and ordinary write tools are approved, destructive ones and unknown ones ask', () => {
  const write = approvalsFor(ALL_TOOLS, 'write')!;
  assert.equal(write.defaultMode, 'prompt');
  for (const t of ALL_TOOLS) {
    const expected = t.annotations.readOnlyHint || t.annotations.destructiveHint === false ? 'approve' : 'prompt';
    assert.equal(write.tools[t.name], expected, t.name);
  }
  assert.ok(toolsThatAsk(write).includes('formula_rollback') && toolsThatAsk(write).includes('formula_promote'));
  assert.ok(!toolsThatAsk(write).includes('workflow_start') && !toolsThatAsk(write).includes('formula_list'));
  const readOnly = approvalsFor(ALL_TOOLS, 'read')!;
  assert.equal(readOnly.tools.workflow_start, 'prompt');
  assert.equal(readOnly.tools.formula_list, 'approve');
  assert.equal(approvalsFor(ALL_TOOLS, 'codex'), null);
  // A tool without annotations is destructive by the MCP specification's defaults.
  assert.equal(approvalsFor([{ name: 'mystery', annotations: {} }], 'write')!.tools.mystery, 'prompt');

  const home = codexHome(HANDWRITTEN);
  const spec = { ...SPEC, approvals: write };
  const r = registerMcpServer(spec, { codexHome: home, codex: null });
  assert.match(r.after, /default_tools_approval_mode = "prompt"\n/);
  assert.match(r.after, /\[mcp_servers\.gascity\.tools\.workflow_start\]\napproval_mode = "approve"\n/);
  assert.match(r.after, /\[mcp_servers\.gascity\.tools\.formula_rollback\]\napproval_mode = "prompt"\n/);
  assert.match(r.after, /# Approved tools run without asking[\s\S]*formula_rollback/);
  assert.equal(read(home), HANDWRITTEN + r.around.before + r.after, 'still only an insertion');
  assertCodexSees(home, spec);
  unregisterMcpServer(r);
  assert.equal(read(home), HANDWRITTEN, 'the approval subtables go with it');
});

test('gascity mcp unregister without a saved registration removes only a table Gas City wrote', () => {
  const home = codexHome(HANDWRITTEN);
  registerMcpServer(SPEC, { codexHome: home, codex: null });
  const u = removeMcpServer({ codexHome: home });
  assert.equal(u.changed, true);
  assert.equal(read(home).trimEnd(), HANDWRITTEN.trimEnd());
  assert.equal(removeMcpServer({ codexHome: home }).changed, false);

  const foreign = `${HANDWRITTEN}\n[mcp_servers.gascity]\ncommand = "mine"\n`;
  const home2 = codexHome(foreign);
  const kept = removeMcpServer({ codexHome: home2 });
  assert.equal(kept.changed, false);
  assert.match(kept.reason, /not written by Gas City; pass --force/);
  assert.equal(read(home2), foreign);
  assert.equal(removeMcpServer({ codexHome: home2, force: true }).changed, true);
});

test('the server is copied to a stable folder once, and again only when it changed', () => {
  const from = tempDir('gascity-dist-');
  const to = path.join(tempDir('gascity-storage-'), 'mcp-server');
  fs.writeFileSync(path.join(from, 'mcp.js'), 'console.log(1)\n');
  fs.writeFileSync(path.join(from, 'sql-wasm.wasm'), Buffer.from([0, 97, 115, 109]));
  const first = installServer(from, to);
  assert.equal(first.script, path.join(to, 'mcp.js'));
  assert.deepEqual([...first.copied].sort(), ['mcp.js', 'sql-wasm.wasm']);
  assert.deepEqual(installServer(from, to).copied, [], 'nothing copied when up to date');
  fs.writeFileSync(path.join(from, 'mcp.js'), 'console.log(2)\n');
  assert.deepEqual(installServer(from, to).copied, ['mcp.js'], 'an update copies the changed file');
  assert.equal(fs.readFileSync(path.join(to, 'mcp.js'), 'utf8'), 'console.log(2)\n');
  assert.deepEqual(fs.readdirSync(to).sort(), ['mcp.js', 'package.json', 'sql-wasm.wasm']);
  assert.throws(() => installServer(path.join(from, 'missing'), to), /ENOENT/);
});

test('one TOML string escaper: what it writes, smol-toml and Codex read back as the same value', () => {
  const hostile = ['plain', 'quote " and \\ backslash', 'tab\tnew\nline', 'del \u007f nul \u0000', 'ünïcödé ✓ 𝄞', "'single'", '"""'];
  for (const v of hostile) {
    assert.equal(tomlInline(v), tomlString(v));
    const home = codexHome(null);
    // A path cannot hold NUL; the rest goes into paths as it is.
    const inPath = v.split('\u0000').join('');
    const spec = { ...SPEC, serverScript: `/opt/${inPath}/mcp.js`, ledgerDir: `/l/${inPath}` };
    const r = registerMcpServer(spec, { codexHome: home, codex: null });
    assertCodexSees(home, spec);
    unregisterMcpServer(r);
  }
  assert.equal(tomlInline({ a: [1, true, 'x'], 'b c': {} }), '{ a = [1, true, "x"], "b c" = {} }');
  assert.throws(() => tomlInline(Number.NaN), /no value for NaN/);
});
