import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { createTestDatabase, databaseKind, makeTempDir, type TestDatabase } from '../helpers/database.ts';

const opened: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((subject) => subject.close()));
});

async function fresh(): Promise<TestDatabase> {
  const subject = await createTestDatabase();
  opened.push(subject);
  return subject;
}

describe(`database on ${databaseKind}`, () => {
  it('answers a ping and runs parameterized queries', async () => {
    const { database } = await fresh();
    await database.ping();
    const value = "x'); drop table users; --";
    const result = await database.db.execute(sql`select ${value}::text as echoed`);
    expect(result.rows[0]).toEqual({ echoed: value });
  });

  it('applies migrations once and is idempotent on a second run', async () => {
    const { database } = await fresh();
    await database.migrate();
    await database.migrate();
    const applied = await database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    const files = fs.readdirSync(path.resolve('drizzle')).filter((file) => file.endsWith('.sql'));
    expect(applied.rows[0]).toEqual({ n: files.length });
  });

  it('lets concurrent migrations wait for each other instead of colliding', async () => {
    const { database } = await fresh();
    await Promise.all([database.migrate(), database.migrate(), database.migrate()]);
    await database.ping();
  });

  it('runs a transaction that rolls back completely on error', async () => {
    const { database } = await fresh();
    await database.db.execute(sql`create table scratch (id int primary key)`);
    await expect(
      database.db.transaction(async (tx) => {
        await tx.execute(sql`insert into scratch values (1)`);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const rows = await database.db.execute(sql`select count(*)::int as n from scratch`);
    expect(rows.rows[0]).toEqual({ n: 0 });
  });
});

describe.runIf(databaseKind === 'pglite')('embedded PGlite', () => {
  it('keeps its data across a restart', async () => {
    const subject = await fresh();
    await subject.database.db.execute(sql`create table kept (note text)`);
    await subject.database.db.execute(sql`insert into kept values ('still here')`);
    await subject.database.close();

    const reopened = await openDatabase({ url: undefined, dataDir: subject.dataDir, poolSize: 1 });
    try {
      const rows = await reopened.db.execute(sql`select note from kept`);
      expect(rows.rows).toEqual([{ note: 'still here' }]);
    } finally {
      await reopened.close();
    }
  });

  it('refuses a second opener of the same directory with a clear message', async () => {
    const subject = await fresh();
    await expect(openDatabase({ url: undefined, dataDir: subject.dataDir, poolSize: 1 })).rejects.toThrow(
      /in use by process \d+; the embedded database allows one process at a time/,
    );
  });

  it('takes over a lock left by a process that died', async () => {
    const dataDir = makeTempDir();
    const subject = await fresh();
    fs.cpSync(subject.dataDir, dataDir, { recursive: true, force: true });
    fs.writeFileSync(path.join(dataDir, 'pglite.lock'), '999999999');
    const database = await openDatabase({ url: undefined, dataDir, poolSize: 1 });
    await database.ping();
    await database.close();
    expect(fs.existsSync(path.join(dataDir, 'pglite.lock'))).toBe(false);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('PostgreSQL adapter', () => {
  it('reports a server that does not answer as down, with the password masked', async () => {
    const database = await openDatabase({
      url: 'postgres://intake:hunter2@127.0.0.1:9/nowhere',
      dataDir: makeTempDir(),
      poolSize: 1,
    });
    try {
      expect(database.location).not.toContain('hunter2');
      await expect(database.ping()).rejects.toThrow();
    } finally {
      await database.close();
    }
  });
});
