import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { records } from './record.schema.ts';
import { storableRow } from './storable.ts';

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
 * How rows reach the database. Each statement carries its rows as one JSON text parameter
 * (jsonb_to_recordset), not three parameters per row: each row is encoded once, the server
 * parses one value instead of binding thousands, and the text crosses the worker-thread proxy
 * as a single string.
 */
export interface InsertPlan {
  /** Most rows in one INSERT statement (a parsed batch is split into statements of this size). */
  statementRows: number;
  /** Statements in flight at once, while the next batch is parsed. */
  concurrency: number;
}

/**
 * PostgreSQL runs three statements at once on pooled connections while the parser fills the
 * next batch. PGlite runs SQL on the main thread's event loop, synchronously inside WebAssembly:
 * small statements one at a time keep each pause short, so `/health` and the API stay
 * responsive while a file is ingested (see bench/README.md, "Ingest").
 */
export function insertPlan(postgres: boolean): InsertPlan {
  return postgres ? { statementRows: 5_000, concurrency: 3 } : { statementRows: 250, concurrency: 1 };
}

/** A row the database cannot hold, reported like the parser's own row problems. */
export interface RefusedRow {
  row: number;
  message: string;
}

export interface WrittenRecords {
  stored: number;
  refused: RefusedRow[];
}

/** Largest JSON text one INSERT carries (a single wider row still goes alone). */
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
   * by the (file, run, row) key. Rows the database cannot hold (NUL, unpaired surrogates in a
   * value) are refused and reported instead of failing the statement and the file with it;
   * keys it cannot hold are sanitised.
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
    const send = (encoded: string[]) => {
      const insert = this.insert(target, encoded).then(
        () => {
          stored += encoded.length;
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
      let pending: string[] = [];
      let pendingChars = 0;
      const flush = async () => {
        send(pending);
        pending = [];
        pendingChars = 0;
        while (inFlight.size >= this.plan.concurrency) await Promise.race(inFlight);
        if (failure) throw failure.error;
      };
      for await (const batch of batches) {
        for (const record of batch) {
          const storable = storableRow(record.row, record.data);
          if (!storable.ok) {
            refused.push({ row: record.row, message: storable.message });
            continue;
          }
          pending.push(storable.encoded);
          pendingChars += storable.encoded.length;
          if (pending.length >= this.plan.statementRows || pendingChars >= STATEMENT_CHARS) await flush();
        }
        // After every parsed batch: the caller decides what is worth reporting (FileProgress
        // reports a whole percent of the bytes read, or every 10,000 rows without a size).
        await onStored(stored);
      }
      if (pending.length > 0) await flush();
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

  /** `encoded` holds each row as the JSON text of `{row, data}`. */
  private async insert(target: RecordRun, encoded: readonly string[]): Promise<void> {
    if (encoded.length === 0) return;
    const column = (name: string) => sql.identifier(name);
    await this.db.execute(sql`
      insert into ${records} (${column(records.fileId.name)}, ${column(records.run.name)}, ${column(records.row.name)}, ${column(records.data.name)})
      select ${target.fileId}::uuid, ${target.run}::uuid, input."row", input.data
      from jsonb_to_recordset(${`[${encoded.join(',')}]`}::jsonb) as input("row" integer, data jsonb)
      on conflict do nothing`);
  }
}
