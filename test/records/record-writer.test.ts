import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCopyIn, type CopyIn } from '../../src/db/copy-in.ts';
import { hasPgCode, PG_FOREIGN_KEY_VIOLATION } from '../../src/db/pg-errors.ts';
import { insertPlan, RecordWriter, type InsertPlan, type RecordRun } from '../../src/records/record-writer.ts';
import { createTestDatabase, databaseKind, type TestDatabase } from '../helpers/database.ts';

type Row = { row: number; data: Record<string, unknown> };

function rows(from: number, to: number): Row[] {
  return Array.from({ length: to - from + 1 }, (_, index) => ({
    row: from + index,
    data: { id: String(from + index), note: `line ${from + index}` },
  }));
}

async function* inBatches(all: readonly Row[], size = 40): AsyncIterable<readonly Row[]> {
  for (let start = 0; start < all.length; start += size) yield all.slice(start, start + size);
}

/**
 * The record writer on the suite's engine: on PostgreSQL through COPY (its own connections),
 * on PGlite through INSERT … ON CONFLICT. A second attempt of a run stores each row once.
 */
describe('RecordWriter', () => {
  let subject: TestDatabase;
  let copy: CopyIn | undefined;
  let plan: InsertPlan;
  let owner: string;

  beforeAll(async () => {
    subject = await createTestDatabase();
    copy = subject.url === undefined ? undefined : openCopyIn(subject.url, 2);
    // Small statements, so that one file takes several of them.
    plan = { ...insertPlan(databaseKind === 'postgres', copy), statementRows: 100 };
    owner = randomUUID();
    await subject.database.query(
      `insert into users (id, email, password_hash) values ($1, $2, 'unused')`,
      [owner, `${owner}@example.com`],
      'object',
    );
  });

  afterAll(async () => {
    await copy?.close();
    await subject.close();
  });

  async function newRun(): Promise<RecordRun> {
    const fileId = randomUUID();
    await subject.database.query(
      `insert into files (id, owner_id, filename, content_type, size_bytes, storage_key, status) values ($1, $2, 'rows.csv', 'text/csv', 1, $3, 'processing')`,
      [fileId, owner, `key-${fileId}`],
      'object',
    );
    return { fileId, run: randomUUID() };
  }

  async function stored(target: RecordRun): Promise<{ row: number; data: Record<string, unknown> }[]> {
    const result = await subject.database.query(
      `select "row", data from records where file_id = $1 and run = $2 order by "row"`,
      [target.fileId, target.run],
      'object',
    );
    return result.rows as { row: number; data: Record<string, unknown> }[];
  }

  it('stores every row of a run, with text COPY would read as escapes kept as it was', async () => {
    const target = await newRun();
    const awkward = { tab: 'a\tb', newline: 'a\nb\r\n', backslash: 'C:\\dir\\n', quote: '"\\"', unicode: 'é 😀' };
    const all = [...rows(1, 349), { row: 350, data: awkward }];
    const written = await new RecordWriter(subject.database.db, plan).write(target, inBatches(all));
    expect(written).toEqual({ stored: 350, refused: [] });
    const back = await stored(target);
    expect(back).toHaveLength(350);
    expect(back.at(-1)).toEqual({ row: 350, data: awkward });
    expect(back[0]).toEqual(all[0]);
  });

  it('stores each row once when a second attempt of the run meets rows the first one stored', async () => {
    const target = await newRun();
    const writer = new RecordWriter(subject.database.db, plan);
    // The first attempt stopped part-way: rows 1–230 are stored.
    await writer.write(target, inBatches(rows(1, 230)));
    const again = await writer.write(target, inBatches(rows(1, 600)));
    expect(again.refused).toEqual([]);
    const back = await stored(target);
    expect(back.map((record) => record.row)).toEqual(Array.from({ length: 600 }, (_, index) => index + 1));
    expect(back[599]).toEqual(rows(600, 600)[0]);
  });

  it('refuses a row whose value the database cannot hold and stores the others', async () => {
    const target = await newRun();
    const all = [...rows(1, 150), { row: 151, data: { id: 'nul \u0000 here' } }, ...rows(152, 210)];
    const written = await new RecordWriter(subject.database.db, plan).write(target, inBatches(all));
    expect(written.stored).toBe(209);
    expect(written.refused).toEqual([{ row: 151, message: expect.stringContaining('NUL') }]);
    expect(await stored(target)).toHaveLength(209);
  });

  it('refuses rows for a file that no longer exists, as the former foreign key did', async () => {
    const target = await newRun();
    await subject.database.query(`delete from files where id = $1`, [target.fileId], 'object');
    const writing = new RecordWriter(subject.database.db, plan).write(target, inBatches(rows(1, 30)));
    await expect(writing).rejects.toSatisfy((error: unknown) => hasPgCode(error, PG_FOREIGN_KEY_VIOLATION));
    expect(await stored(target)).toEqual([]);
  });

  it("removes a file's records with the file", async () => {
    const target = await newRun();
    await new RecordWriter(subject.database.db, plan).write(target, inBatches(rows(1, 120)));
    await subject.database.query(`delete from files where id = $1`, [target.fileId], 'object');
    expect(await stored(target)).toEqual([]);
  });

  it('discards a run', async () => {
    const target = await newRun();
    const writer = new RecordWriter(subject.database.db, plan);
    await writer.write(target, inBatches(rows(1, 120)));
    await writer.discard(target);
    expect(await stored(target)).toEqual([]);
  });
});
