// Evolved variants as files: named by family, generation and hash; lineage in comments; idempotent import.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { applyMutations, contentHash, evolutionPath, parseFormula, readEvolutionDir, summarizeMutations, writeEvolutionFile } from '../../../src/ledger/formula/index';
import type { Formula, Mutation } from '../../../src/ledger/formula/index';

const formula = parseFormula(`name = "demo"\nversion = 1\n\n[[steps]]\nid = "a"\ninstructions = "x"\n`, 'x').formula as Formula;

describe('evolution files', () => {
  let root = '';
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'evolution-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('evolutionPath names the family folder, generation and short hash', () => {
    const hash = contentHash(formula);
    assert.equal(evolutionPath('demo', 3, hash), `formulas/evolution/demo/g3-${hash.slice(0, 8)}.formula.toml`);
    assert.throws(() => evolutionPath('../etc', 1, hash), /not a plain lowercase name/);
  });

  test('write then read gives back the formula, its hash and its lineage', async () => {
    const mutations: Mutation[] = [{ op: 'add_step', step: { id: 'b', instructions: 'y', needs: ['a'] } }];
    const result = applyMutations(formula, mutations);
    assert.ok(result.ok);
    if (!result.ok) return;
    const parentHash = contentHash(formula);
    const written = await writeEvolutionFile(root, result.formula, { generation: 1, parents: [parentHash], summary: summarizeMutations(mutations) });
    assert.equal(written.written, true);
    assert.equal(written.hash, contentHash(result.formula));
    const text = await readFile(join(root, written.path), 'utf8');
    assert.match(text, /^# lineage: family = "demo"$/m);
    assert.match(text, /^# lineage: summary = "add step b"$/m);
    assert.deepEqual(parseFormula(text, 'x').formula, result.formula, 'the file is a plain formula file');

    const { entries, problems } = await readEvolutionDir(root);
    assert.deepEqual(problems, []);
    assert.equal(entries.length, 1);
    const entry = entries[0]!;
    assert.deepEqual(
      { family: entry.family, generation: entry.generation, parents: entry.parents, summary: entry.summary, hash: entry.hash, path: entry.path },
      { family: 'demo', generation: 1, parents: [parentHash], summary: 'add step b', hash: written.hash, path: written.path },
    );
    assert.deepEqual(entry.formula, result.formula);
  });

  test('writing the same variant twice changes nothing and leaves no temp files', async () => {
    const first = await writeEvolutionFile(root, formula, { generation: 0, parents: [], summary: 'seed' });
    const second = await writeEvolutionFile(root, formula, { generation: 0, parents: [], summary: 'seed' });
    assert.equal(second.written, false);
    assert.equal(second.path, first.path);
    assert.deepEqual(await readdir(join(root, 'formulas/evolution/demo')), [first.path.split('/').pop()]);
  });

  test('the hash ignores the lineage header, and a hand edit is flagged but still loads as its content', async () => {
    const written = await writeEvolutionFile(root, formula, { generation: 2, parents: ['abc'], summary: 'x' });
    const file = join(root, written.path);
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('summary = "x"', 'summary = "a different story"'));
    let read = await readEvolutionDir(root);
    assert.deepEqual(read.problems, []);
    assert.equal(read.entries[0]!.hash, written.hash);

    await writeFile(file, text.replace('instructions = "x"', 'instructions = "edited"'));
    read = await readEvolutionDir(root);
    assert.equal(read.entries[0]!.formula.steps[0]!.instructions, 'edited');
    assert.notEqual(read.entries[0]!.hash, written.hash);
    assert.equal(read.problems.length, 1);
    assert.match(read.problems[0]!.message, /edited after the file was written/);
  });

  test('a broken file is reported and the others still load', async () => {
    await writeEvolutionFile(root, formula, { generation: 0, parents: [], summary: 'seed' });
    await writeFile(join(root, 'formulas/evolution/demo/g9-broken.formula.toml'), '# lineage: generation = 9\nname = "demo\n');
    const read = await readEvolutionDir(root);
    assert.equal(read.entries.length, 1);
    assert.equal(read.problems.length, 1);
    assert.equal(read.problems[0]!.file, 'formulas/evolution/demo/g9-broken.formula.toml');
    assert.equal(read.problems[0]!.line, 2);
  });

  test('an empty or missing evolution folder reads as no entries', async () => {
    assert.deepEqual(await readEvolutionDir(root), { entries: [], problems: [] });
  });
});
