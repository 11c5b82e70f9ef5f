import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * A small static scan of a TypeScript tree's import graph: every `import …
 * from '…'`, `import '…'`, `export … from '…'` and `import('…')`, type-only
 * imports included (a type circle is a circle for a reader too).
 */

/** One import: the file it is in, the specifier as written, and the file it resolves to (relative specifiers only). */
export interface ImportEdge {
  from: string;
  specifier: string;
  to: string | undefined;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

async function tsFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return Promise.resolve(entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []);
  }));
  return nested.flat();
}

/** Comments removed, so that an import in a comment or doc example is not counted. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** Every import of every .ts file under root; paths relative to root, with '/' separators. */
export async function importGraph(root: string): Promise<ImportEdge[]> {
  const edges: ImportEdge[] = [];
  for (const file of await tsFiles(root)) {
    const from = relative(root, file).split('\\').join('/');
    for (const match of code(await readFile(file, 'utf8')).matchAll(IMPORT)) {
      const specifier = (match[1] ?? match[2])!;
      const to = specifier.startsWith('.')
        ? relative(root, resolve(dirname(file), specifier.replace(/\.js$/, '.ts'))).split('\\').join('/')
        : undefined;
      edges.push({ from, specifier, to });
    }
  }
  return edges;
}

/** The import circles of a graph, each as the files around it (first file repeated at the end); [] when there is none. */
export function findCycles(edges: ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    if (to === undefined) continue;
    next.set(from, [...(next.get(from) ?? []), to]);
  }
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    path.push(file);
    for (const target of next.get(file) ?? []) {
      if (state.get(target) === 'open') cycles.push([...path.slice(path.indexOf(target)), target]);
      else if (!state.has(target)) visit(target);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of [...next.keys()].sort()) if (!state.has(file)) visit(file);
  return cycles;
}
