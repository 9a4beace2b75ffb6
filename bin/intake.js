#!/usr/bin/env node
// Runs the compiled CLI (dist/, no loader at run time). A development checkout without a
// current build runs the sources through tsx instead, so nobody runs code older than what
// they edited; INTAKE_RUN=compiled or INTAKE_RUN=sources forces one or the other.
import { pathToFileURL } from 'node:url';
import { COMPILED_ENTRY, SOURCE_ENTRY, compiledState } from './entry.js';

const forced = process.env.INTAKE_RUN;
if (forced !== undefined && forced !== 'compiled' && forced !== 'sources') {
  console.error(`intake: INTAKE_RUN must be "compiled" or "sources" (got "${forced}")`);
  process.exit(2);
}
const state = forced === 'compiled' ? 'fresh' : forced === 'sources' ? 'forced' : compiledState();

if (state === 'fresh') {
  await import(pathToFileURL(COMPILED_ENTRY).href).catch(missingBuild);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    // No tsx: an install without development dependencies. Run the build it has, if any.
    if (state === 'stale') console.error('intake: warning: dist/ is older than src/; run `npm run build`.');
    await import(pathToFileURL(COMPILED_ENTRY).href).catch(missingBuild);
  }
  if (register) {
    if (process.stderr.isTTY && state !== 'forced') {
      console.error(
        `intake: dist/ is ${state === 'missing' ? 'missing' : 'older than src/'}: running the sources through tsx (\`npm run build\` compiles them).`,
      );
    }
    register();
    await import(pathToFileURL(SOURCE_ENTRY).href);
  }
}

function missingBuild(error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes(COMPILED_ENTRY)) throw error;
  console.error('intake: the compiled files (dist/) are missing: run `npm run build` (`npm install` runs it too).');
  process.exit(1);
}
