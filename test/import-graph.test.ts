// The layering of src/, checked statically: no import circle anywhere, and the CLI stands on the public API only.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findCycles, importGraph } from './support/imports.js';

const SRC = join(import.meta.dirname, '..', 'src');

test('src/ has no import circle (type-only imports count too)', async () => {
  const edges = await importGraph(SRC);
  assert.ok(edges.length > 100, `the scan found the imports (${edges.length})`);
  const cycles = findCycles(edges);
  assert.deepEqual(cycles.map((cycle) => cycle.join(' → ')), []);
});

test('files under src/cli import only the public entry (src/index.ts), other CLI files, node and packages', async () => {
  const offending = (await importGraph(SRC))
    .filter((edge) => edge.from.startsWith('cli/'))
    .filter((edge) => {
      if (edge.to === undefined) return false; // node:… and packages
      return edge.to !== 'index.ts' && !edge.to.startsWith('cli/');
    })
    .map((edge) => `${edge.from} imports ${edge.specifier}`);
  assert.deepEqual(offending, []);
});

test('the scan finds a circle, type-only and re-export edges included, and a CLI import past the entry', async () => {
  const root = await mkdtemp(join(tmpdir(), 'aqevent-imports-'));
  try {
    await mkdir(join(root, 'cli'));
    await writeFile(join(root, 'a.ts'), "import { b } from './b.js';\nexport const a = b;\n");
    await writeFile(join(root, 'b.ts'), "// import { a } from './a.js' in a comment is no import\nexport { c as b } from './c.js';\n");
    await writeFile(join(root, 'c.ts'), "import type { A } from './a.js';\nexport const c = 1;\n");
    await writeFile(join(root, 'd.ts'), "import './a.js';\n");
    await writeFile(join(root, 'cli', 'main.ts'), "import { a } from '../a.js';\nimport pg from 'pg';\n");
    const edges = await importGraph(root);
    assert.deepEqual(findCycles(edges), [['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
    assert.deepEqual(edges.filter((e) => e.from === 'cli/main.ts').map((e) => e.to), ['a.ts', undefined]);
    assert.deepEqual(edges.filter((e) => e.from === 'b.ts').map((e) => e.to), ['c.ts'], 'the commented import is not counted');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
