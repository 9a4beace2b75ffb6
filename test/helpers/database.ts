import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.ts';

export interface TestDatabase {
  database: Database;
  /** DATA_DIR for the app: a fresh temporary directory, removed at the end. */
  dataDir: string;
  /** Set when the tests run against PostgreSQL: the URL of the database made for this test. */
  url: string | undefined;
  close(): Promise<void>;
}

/**
 * A migrated, empty database of its own: PGlite in a fresh temp directory, or, when
 * DATABASE_URL is set, a new PostgreSQL database created beside it and dropped afterwards,
 * so suites sharing one server never see each other's rows.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-test-'));
  const serverUrl = process.env.DATABASE_URL;
  let url: string | undefined;
  let dropDatabase: (() => Promise<void>) | undefined;
  if (serverUrl) {
    const name = `intake_test_${randomUUID().replace(/-/g, '')}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      await admin.query(`create database ${name}`);
    } finally {
      await admin.end();
    }
    const parsed = new URL(serverUrl);
    parsed.pathname = `/${name}`;
    url = parsed.toString();
    dropDatabase = async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    };
  }
  const template = url ? null : inject('pgliteTemplate');
  if (template) fs.cpSync(template, path.join(dataDir, 'pglite'), { recursive: true });
  const database = await openDatabase({ url, dataDir, poolSize: 5 });
  await database.migrate();
  return {
    database,
    dataDir,
    url,
    async close() {
      await database.close();
      await dropDatabase?.();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
