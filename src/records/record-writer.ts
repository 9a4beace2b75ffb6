import { and, eq, sql } from 'drizzle-orm';
import { copyTextField, type CopyIn } from '../db/copy-in.ts';
import { hasPgCode, PG_UNIQUE_VIOLATION } from '../db/pg-errors.ts';
import type { Db } from '../db/database.ts';
import { records } from './record.schema.ts';
import { storableRow } from '../db/storable.ts';

/**
 * The records of one processing run of a file. Runs never mix: readers are pointed at one
 * complete run (the file's `records_run`), so a run is written beside the previous one and
 * becomes visible only when the file switches to it.
 */
export interface RecordRun {
  fileId: string;
  /** The run's id (the processing job's id): stable across retries of the same job. */
  run: string;
}

/**
 * How rows reach the database. With `copy` (PostgreSQL), each statement is a `COPY … FROM STDIN`
 * straight into the records table on a connection of the writer's own. Otherwise each statement
 * carries its rows as one JSON text parameter (jsonb_to_recordset), not three parameters per row:
 * each row is encoded once, the server parses one value instead of binding thousands, and the
 * text crosses the worker-thread proxy as a single string.
 */
export interface InsertPlan {
  /** Most rows in one statement (a parsed batch is split into statements of this size). */
  statementRows: number;
  /** Statements in flight at once, while the next batch is parsed. */
  concurrency: number;
  copy?: CopyIn;
}

/**
 * PostgreSQL runs three statements at once on pooled connections while the parser fills the
 * next batch. PGlite runs SQL on the main thread's event loop, synchronously inside WebAssembly:
 * each statement pauses `/health` and the API for its length, so statements stay short (about
 * 12 µs of PGlite per row: 500 rows take ~6 ms). Two in flight let the worker thread parse and
 * encode the next statement while PGlite stores one, instead of the two taking turns.
 */
export function insertPlan(postgres: boolean, copy?: CopyIn): InsertPlan {
  if (!postgres) return { statementRows: 500, concurrency: 2 };
  return copy ? { statementRows: COPY_ROWS, concurrency: COPY_CONNECTIONS, copy } : { statementRows: 5_000, concurrency: 3 };
}

/** COPY statements: rows in each, and how many run at once (each on its own connection). */
export const COPY_ROWS = 10_000;
export const COPY_CONNECTIONS = 2;

/** A row the database cannot hold, reported like the parser's own row problems. */
export interface RefusedRow {
  row: number;
  message: string;
}

export interface WrittenRecords {
  stored: number;
  refused: RefusedRow[];
}

/** Largest text one statement carries (a single wider row still goes alone). */
const STATEMENT_CHARS = 16 * 1024 * 1024;

/** Writes and discards runs of records; the only code that writes the records table. */
export class RecordWriter {
  constructor(
    private readonly db: Db,
    private readonly plan: InsertPlan = insertPlan(false),
  ) {}

  /**
   * Stores the rows of `batches` under `target`. Idempotent without a transaction (worker
   * threads have none): rows already stored by an earlier attempt of the same run are skipped
   * by the (file, run, row) key. Each statement is one transaction, and the first ones of a run
   * neither skip nor check for stored rows (a plain INSERT or a COPY: `ON CONFLICT` costs a
   * second index lookup per row). A statement that meets a stored row (only a retry after a
   * crash does) stores nothing and fails with a unique violation; its rows and every later
   * statement's then go through `INSERT … ON CONFLICT DO NOTHING`. Every statement first checks
   * and locks the file (intake_records_file, drizzle/0017), which the records table's former
   * foreign key did once per row. Rows the database cannot hold (NUL, unpaired surrogates in a
   * value) are refused and reported instead of failing the statement and the file with it; keys
   * it cannot hold are sanitised.
   */
  async write(
    target: RecordRun,
    batches: AsyncIterable<readonly { row: number; data: Record<string, unknown> }[]>,
    onStored: (stored: number) => Promise<void> = async () => undefined,
  ): Promise<WrittenRecords> {
    const refused: RefusedRow[] = [];
    let stored = 0;
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    let copy = this.plan.copy;
    let skipStored = false;
    const store = async (statement: Statement) => {
      if (!skipStored) {
        try {
          if (copy) await this.copy(copy, target, statement);
          else await this.insert(target, statement, false);
          return;
        } catch (error) {
          if (!hasPgCode(error, PG_UNIQUE_VIOLATION)) throw error;
          copy = undefined;
          skipStored = true;
        }
      }
      await this.insert(target, statement, true);
    };
    const send = (statement: Statement) => {
      const insert = store(statement).then(
        () => {
          stored += statement.rows.length;
        },
        (error: unknown) => {
          failure ??= { error };
        },
      );
      const tracked = insert.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    };
    try {
      // The parser's batches are regrouped into statements of plan.statementRows rows, each row
      // encoded as soon as it arrives; a statement is also cut at STATEMENT_CHARS so that memory
      // stays bounded by bytes, not only by rows, when rows are wide.
      let pending: Statement = { rows: [], encoded: [] };
      let pendingChars = 0;
      const flush = async () => {
        send(pending);
        pending = { rows: [], encoded: [] };
        pendingChars = 0;
        while (inFlight.size >= this.plan.concurrency) await Promise.race(inFlight);
        if (failure) throw failure.error;
      };
      for await (const batch of batches) {
        for (const record of batch) {
          const storable = storableRow(record.data);
          if (!storable.ok) {
            refused.push({ row: record.row, message: storable.message });
            continue;
          }
          pending.rows.push(record.row);
          pending.encoded.push(storable.encoded);
          pendingChars += storable.encoded.length;
          if (pending.rows.length >= this.plan.statementRows || pendingChars >= STATEMENT_CHARS) await flush();
        }
        // After every parsed batch: the caller decides what is worth reporting (FileProgress
        // reports a whole percent of the bytes read, or every 10,000 rows without a size).
        await onStored(stored);
      }
      if (pending.rows.length > 0) await flush();
    } finally {
      // Never leave a statement running behind the caller's back (a retry would race it).
      await Promise.all(inFlight);
    }
    if (failure) throw failure.error;
    return { stored, refused };
  }

  /** Removes a run's rows: a run that failed or was cancelled, or one no longer current. */
  async discard(target: RecordRun): Promise<void> {
    await this.db.delete(records).where(and(eq(records.fileId, target.fileId), eq(records.run, target.run)));
  }

  /**
   * The file is checked once, in a CTE PostgreSQL runs once, before any row is stored. The rows'
   * data travel as one JSON array and their numbers as an integer array, zipped by ROWS FROM:
   * PostgreSQL's JSON parsing is about half of what an embedded insert costs per row, and an
   * object around each row only to carry its number was a fifth more of it to parse.
   */
  private async insert(target: RecordRun, statement: Statement, skipStored: boolean): Promise<void> {
    const { rows, encoded } = statement;
    if (rows.length === 0) return;
    const column = (name: string) => sql.identifier(name);
    await this.db.execute(sql`
      with file as materialized (select intake_records_file(${target.fileId}::uuid) as id)
      insert into ${records} (${column(records.fileId.name)}, ${column(records.run.name)}, ${column(records.row.name)}, ${column(records.data.name)})
      select file.id, ${target.run}::uuid, input."row", input.data
      from file, rows from (jsonb_array_elements(${`[${encoded.join(',')}]`}::jsonb), unnest(${`{${rows.join(',')}}`}::integer[])) as input(data, "row")
      ${skipStored ? sql`on conflict do nothing` : sql.empty()}`);
  }

  /** The ids are uuids the service made (checked below), so the text needs no escaping. */
  private async copy(copy: CopyIn, target: RecordRun, statement: Statement): Promise<void> {
    const { rows, encoded } = statement;
    if (rows.length === 0) return;
    if (!UUID.test(target.fileId) || !UUID.test(target.run)) throw new Error('a record run is named by uuids');
    const prefix = `${target.fileId}\t${target.run}\t`;
    let text = '';
    for (let index = 0; index < rows.length; index += 1) text += `${prefix}${rows[index]}\t${copyTextField(encoded[index]!)}\n`;
    await copy.copy(COPY_RECORDS, text, { text: 'select intake_records_file($1::uuid)', values: [target.fileId] });
  }
}

/** One statement's rows: their numbers and their data's JSON text, index by index. */
interface Statement {
  rows: number[];
  encoded: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const COPY_RECORDS = `copy records (file_id, run, "row", data) from stdin`;
