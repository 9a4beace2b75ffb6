/**
 * Runs after `tsc` in `npm run build`: each `src/vendor/*.ts` module's compiled output becomes a
 * single file holding the package it re-exports, so that production loads one module where the
 * package has hundreds (see src/vendor/typebox.ts). Only dist/ changes; a development checkout
 * and the tests keep importing the package's own files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const vendor = path.join(root, 'src', 'vendor');
const entries = fs.readdirSync(vendor).filter((name) => name.endsWith('.ts'));
for (const entry of entries) {
  const outfile = path.join(root, 'dist', 'vendor', entry.replace(/\.ts$/, '.js'));
  await build({
    entryPoints: [path.join(vendor, entry)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    allowOverwrite: true,
    logLevel: 'warning',
  });
}
console.log(`bundled ${entries.length} vendor module(s) into dist/vendor/`);
