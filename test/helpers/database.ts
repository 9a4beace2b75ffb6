import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.ts';

export interface TestDatabase {
  database: Database;
  /** The DATABASE_URL of the fresh database, when the suite runs on PostgreSQL. */
  url: string | undefined;
  dataDir: string;
  /** Closes the database and removes everything the test created. */
  close(): Promise<void>;
}

/** Which engine the suite runs on: PostgreSQL when DATABASE_URL is set, PGlite otherwise. */
export const databaseKind: 'postgres' | 'pglite' = process.env.DATABASE_URL ? 'postgres' : 'pglite';

export function makeTempDir(label = 'intake-test'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${label}-`));
}

/**
 * A migrated database that belongs to one test (or file) alone: a copy of the migrated PGlite
 * template, or a new database on the PostgreSQL server named by DATABASE_URL.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const dataDir = makeTempDir();
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    fs.cpSync(inject('pgliteTemplate'), dataDir, { recursive: true });
    fs.rmSync(path.join(dataDir, 'ready'));
    const database = await openDatabase({ url: undefined, dataDir, poolSize: 1 });
    return {
      database,
      url: undefined,
      dataDir,
      async close() {
        await database.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }

  const name = `intake_test_${randomBytes(6).toString('hex')}`;
  await withAdminClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), dataDir, poolSize: 5 });
  await database.migrate();
  return {
    database,
    url: url.toString(),
    dataDir,
    async close() {
      await database.close();
      await withAdminClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function withAdminClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
