/**
 * Runs after `tsc` in `npm run build`: creates an embedded database once, applies the
 * migrations, and saves it as dist/pglite-template.tar.gz. A new DATA_DIR is then unpacked
 * from it instead of running PostgreSQL's `initdb` and every migration at the first start
 * (src/db/database.ts); without the file (a checkout never built) the first start does both.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const target = path.join(root, 'dist', 'pglite-template.tar.gz');
const client = await PGlite.create();
try {
  await migrate(drizzle(client), { migrationsFolder: path.join(root, 'drizzle') });
  const dump = await client.dumpDataDir('gzip');
  fs.mkdirSync(path.dirname(target), { recursive: true });
  // Written beside and renamed: a build stopped part-way leaves no truncated template.
  fs.writeFileSync(`${target}.tmp`, Buffer.from(await dump.arrayBuffer()));
  fs.renameSync(`${target}.tmp`, target);
} finally {
  await client.close();
}
console.log(
  `embedded database template: ${path.relative(root, target)} (${(fs.statSync(target).size / 1048576).toFixed(1)} MiB)`,
);
