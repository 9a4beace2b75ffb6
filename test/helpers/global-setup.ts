import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/database.ts';

declare module 'vitest' {
  interface ProvidedContext {
    /** A migrated PGlite directory that `createTestDatabase` copies instead of running initdb. */
    pgliteTemplate: string | null;
  }
}

/**
 * PGlite's initdb takes seconds per new directory; copying one migrated, cleanly closed
 * directory takes a fraction of that. Built once per `vitest run`, removed at the end.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  if (process.env.DATABASE_URL) {
    project.provide('pgliteTemplate', null);
    return () => undefined;
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-pglite-template-'));
  const database = await openDatabase({ url: undefined, dataDir: root, poolSize: 1 });
  try {
    await database.migrate();
  } finally {
    await database.close();
  }
  project.provide('pgliteTemplate', path.join(root, 'pglite'));
  return () => fs.rmSync(root, { recursive: true, force: true });
}
