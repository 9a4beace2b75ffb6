/**
 * Lists import cycles in src/, type-only imports included (lint's import-x/no-cycle skips those).
 * Exits 1 when there is one. Folder-level too: two feature folders that import each other
 * (through any files) count as a cycle, since that is how layers start to knot.
 *
 *   node --import tsx scripts/import-cycles.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(import.meta.dirname, '..', 'src');

function sourceFiles(directory: string): string[] {
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative imports and re-exports of a file, type-only ones included. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map((imported) => imported.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => path.resolve(path.dirname(file), name))
    .filter((target) => fs.existsSync(target));
}

/** Tarjan's strongly connected components: every component of more than one node is a cycle. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

const files = new Map<string, Set<string>>();
const folders = new Map<string, Set<string>>();
const folderOf = (file: string) => path.relative(root, file).split(path.sep)[0] ?? '';
for (const file of sourceFiles(root)) {
  const targets = importsOf(file);
  files.set(path.relative(root, file), new Set(targets.map((target) => path.relative(root, target))));
  const from = folderOf(file);
  // Files directly under src/ are the composition root, and db/schema.ts gathers every table for
  // Drizzle: both import everything by design.
  if (!from.endsWith('.ts') && path.relative(root, file) !== path.join('db', 'schema.ts')) {
    const edges = folders.get(from) ?? new Set<string>();
    for (const target of targets) if (folderOf(target) !== from && !folderOf(target).endsWith('.ts')) edges.add(folderOf(target));
    folders.set(from, edges);
  }
}

const fileCycles = cycles(files);
const folderCycles = cycles(folders);
for (const cycle of fileCycles) console.log(`file cycle: ${cycle.join(' → ')}`);
for (const cycle of folderCycles) {
  const inside = new Set(cycle);
  const pairs = cycle.flatMap((from) =>
    [...(folders.get(from) ?? [])].filter((to) => inside.has(to)).map((to) => `${from} → ${to}`),
  );
  console.log(`folder cycle: ${cycle.join(' ↔ ')}\n  ${pairs.join('\n  ')}`);
}
if (fileCycles.length + folderCycles.length > 0) process.exit(1);
console.log(`no import cycles among ${files.size} files in ${folders.size} folders of src/ (type-only imports included)`);
