// Which files `bin/intake.js` runs: the compiled JavaScript in dist/ (`npm run build`, run by
// `npm install` through `prepare`), or the TypeScript sources through tsx in a development
// checkout whose dist/ is missing or older than src/. Kept apart from bin/intake.js so the
// build test can ask the same question.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const COMPILED_ENTRY = path.join(ROOT, 'dist', 'main.js');
export const SOURCE_ENTRY = path.join(ROOT, 'src', 'main.ts');

/** Newest modification time under src/ (0 without src/, as in a package without sources). */
export function newestSourceTime(directory = path.join(ROOT, 'src')) {
  let newest = 0;
  let entries;
  try {
    entries = fs.readdirSync(directory, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * 'missing' without dist/, 'stale' when a source file changed after the last build (tsc
 * rewrites every output file, so dist/main.js carries the build's time), 'fresh' otherwise.
 */
export function compiledState() {
  let built;
  try {
    built = fs.statSync(COMPILED_ENTRY).mtimeMs;
  } catch {
    return 'missing';
  }
  return newestSourceTime() > built ? 'stale' : 'fresh';
}
