import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MIGRATIONS_FOLDER, openDatabase } from '../../src/db/database.ts';

/**
 * A fresh PGlite directory runs initdb, which takes seconds (tens on a busy machine). The test
 * run migrates one template directory, keyed by the migrations' content, and every test copies
 * it: about a second instead.
 */
export async function preparePgliteTemplate(): Promise<string> {
  const digest = createHash('sha256');
  for (const file of fs.readdirSync(MIGRATIONS_FOLDER, { recursive: true }).map(String).sort()) {
    const full = path.join(MIGRATIONS_FOLDER, file);
    if (fs.statSync(full).isFile()) digest.update(file).update(fs.readFileSync(full));
  }
  const template = path.join(os.tmpdir(), `intake-pglite-template-${digest.digest('hex').slice(0, 16)}`);
  if (fs.existsSync(path.join(template, 'ready'))) return template;

  const building = `${template}.${process.pid}.tmp`;
  fs.rmSync(building, { recursive: true, force: true });
  const database = await openDatabase({ url: undefined, dataDir: building, poolSize: 1 });
  try {
    await database.migrate();
  } finally {
    await database.close();
  }
  fs.writeFileSync(path.join(building, 'ready'), new Date().toISOString());
  try {
    fs.renameSync(building, template);
  } catch {
    // Another run finished first; its template is as good as ours.
    fs.rmSync(building, { recursive: true, force: true });
  }
  return template;
}
