import { Readable } from 'node:stream';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { Type } from 'typebox';
import type { Db } from '../db/database.ts';
import { defineJob, PermanentJobError, stopReasonOf, type JobContext } from '../jobs/job-definition.ts';
import type { JobRegistry } from '../jobs/job-registry.ts';
import {
  isPermanentProcessingError,
  processImage,
  processPdf,
  processTabular,
  supportedContentType,
  type RowProblem,
  type TabularSummary,
} from '../processing/index.ts';
import type { ProcessingLimits } from '../processing/processing-options.ts';
import { records } from '../records/record.schema.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { files, type FileRow, type FileStatus } from './file.schema.ts';
import { thumbnailKey } from './file.service.ts';

const ProcessFilePayload = Type.Object({ file_id: Type.String({ format: 'uuid' }) });

export const processFileJob = defineJob<typeof ProcessFilePayload, FileProcessingResult>({
  name: 'files.process',
  queue: 'files',
  version: 1,
  payload: ProcessFilePayload,
  // Storage hiccups retry; bad data fails at once (PermanentJobError).
  retry: { maxAttempts: 3, backoffMs: 2_000, maxBackoffMs: 60_000, jitter: 0.5 },
  softTimeLimitMs: 15 * 60_000,
  hardTimeLimitMs: 16 * 60_000,
});

export type FileProcessingResult =
  | { kind: 'tabular'; rows: number; columns: string[]; problem_count: number; problems: { row: number; message: string }[]; sheet?: string }
  | { kind: 'image'; width: number; height: number; format: string; thumbnail: boolean }
  | { kind: 'pdf'; page_count: number; info: Record<string, unknown> };

const STEPS = ['validate', 'parse', 'transform', 'store', 'clean up'] as const;

/** What the processing job needs, and nothing more (it crosses into worker threads). */
export interface FileJobDependencies {
  db: Db;
  /** The blob store, opened on first use (a worker thread opens its own). */
  blobs: () => Promise<BlobStore>;
  limits: Readonly<ProcessingLimits>;
  plan: InsertPlan;
}

export function registerFileJobs(registry: JobRegistry, deps: FileJobDependencies): void {
  registry.register(processFileJob, (payload, context) => processFile(deps.db, deps.blobs, deps.limits, payload.file_id, context, deps.plan));
}

/**
 * Turns a stored file into records or metadata, reporting its steps as progress. Idempotent:
 * rows are keyed by (file, row) and inserted with ON CONFLICT DO NOTHING, so a retry or a re-run
 * after a crash never stores a row twice. Bad data fails at once; I/O errors are retried.
 */
export async function processFile(
  db: Db,
  openBlobs: () => Promise<BlobStore>,
  limits: Readonly<ProcessingLimits>,
  fileId: string,
  context: JobContext,
  plan: InsertPlan = insertPlan(false),
): Promise<FileProcessingResult> {
  const step = async (index: number, detail?: string) =>
    context.progress({ current: index, total: STEPS.length, message: detail ? `${STEPS[index]}: ${detail}` : STEPS[index] });

  await step(0);
  const [file] = await db.select().from(files).where(eq(files.id, fileId)).limit(1);
  if (!file) throw new PermanentJobError('The file no longer exists.');
  if (file.status === 'pending') throw new PermanentJobError('The file has not been uploaded completely.');
  const type = supportedContentType(file.contentType);
  if (!type) throw new PermanentJobError(`Files of type ${file.contentType} cannot be processed.`);
  await setStatus(db, file.id, 'processing', context);

  try {
    const blobs = await openBlobs();
    const { stream } = await blobs.get(file.storageKey, { signal: context.signal });
    await step(1);
    const options = {
      signal: context.signal,
      limits,
      totalBytes: file.sizeBytes,
    };
    let result: FileProcessingResult;
    let metadata: Record<string, unknown>;
    switch (type.family) {
      case 'tabular': {
        const summary = await storeRows(db, file, stream, options, plan, (stored) => step(3, `${stored} rows`));
        result = {
          kind: 'tabular',
          rows: summary.rows,
          columns: summary.columns,
          problem_count: summary.problemCount,
          problems: summary.problems,
          ...(summary.sheet === undefined ? {} : { sheet: summary.sheet }),
        };
        metadata = { rows: summary.rows, columns: summary.columns, problem_count: summary.problemCount };
        break;
      }
      case 'image': {
        const image = await processImage(stream, options);
        await step(2, 'thumbnail');
        await blobs.put(thumbnailKey(file), Readable.from([image.thumbnail.data]), {
          contentType: image.thumbnail.contentType,
          signal: context.signal,
        });
        result = { kind: 'image', width: image.width, height: image.height, format: image.format, thumbnail: true };
        metadata = {
          width: image.width,
          height: image.height,
          format: image.format,
          has_alpha: image.hasAlpha,
          thumbnail: { width: image.thumbnail.width, height: image.thumbnail.height, content_type: image.thumbnail.contentType },
        };
        break;
      }
      case 'pdf': {
        const { pageCount, ...info } = await processPdf(stream, options);
        result = { kind: 'pdf', page_count: pageCount, info };
        metadata = { page_count: pageCount, ...info };
        break;
      }
    }
    await step(4);
    const processed = await db
      .update(files)
      .set({ status: 'processed', metadata, updatedAt: new Date() })
      .where(eq(files.id, file.id))
      .returning({ id: files.id });
    if (processed.length > 0) context.emit({ type: 'file.status', file_id: file.id, status: 'processed' });
    await context.progress({ current: STEPS.length, total: STEPS.length, message: 'done' });
    return result;
  } catch (error) {
    const permanent = isPermanentProcessingError(error);
    await settleFailure(db, file.id, context, permanent);
    if (permanent) {
      throw new PermanentJobError(error.message, { cause: error });
    }
    throw error;
  }
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

async function storeRows(
  db: Db,
  file: FileRow,
  input: Readable,
  options: Parameters<typeof processTabular>[2],
  plan: InsertPlan,
  onStored: (stored: number) => Promise<void>,
): Promise<TabularSummary> {
  const rows = processTabular(file.contentType, input, options);
  // Rows the database cannot hold (jsonb has no NUL character) become row problems, like the
  // parser's own, instead of failing the statement and with it the whole file.
  const refused: RowProblem[] = [];
  let stored = 0;
  let lastReport = 0;
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const send = (encoded: string[]) => {
    const insert = insertRows(db, file.id, encoded).then(
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
      while (inFlight.size >= plan.concurrency) await Promise.race(inFlight);
      if (failure) throw failure.error;
    };
    for await (const batch of rows) {
      for (const record of batch) {
        const encoded = JSON.stringify({ row: record.row, data: record.data });
        if (encoded.includes('\\u0000') && holdsNul(record.data)) {
          refused.push({ row: record.row, message: 'A value holds a NUL character (\\u0000), which cannot be stored.' });
          continue;
        }
        pending.push(encoded);
        pendingChars += encoded.length;
        if (pending.length >= plan.statementRows || pendingChars >= STATEMENT_CHARS) await flush();
      }
      if (stored - lastReport >= 10_000) {
        lastReport = stored;
        await onStored(stored);
      }
    }
    if (pending.length > 0) await flush();
  } finally {
    // Never leave a statement running behind the job's back (a retry would race it).
    await Promise.all(inFlight);
  }
  if (failure) throw failure.error;
  const summary = rows.summary();
  if (refused.length === 0) return summary;
  return {
    ...summary,
    rows: summary.rows - refused.length,
    problemCount: summary.problemCount + refused.length,
    problems: [...summary.problems, ...refused].sort((a, b) => a.row - b.row).slice(0, MAX_REPORTED_PROBLEMS),
  };
}

/** As many row problems as the parsers keep. */
const MAX_REPORTED_PROBLEMS = 100;

function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(holdsNul);
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([key, item]) => key.includes('\u0000') || holdsNul(item));
  return false;
}

/** Largest JSON text one INSERT carries (a single wider row still goes alone). */
const STATEMENT_CHARS = 16 * 1024 * 1024;

/**
 * One statement per group of rows: idempotent without a transaction (worker threads have
 * none), since rows already stored by an earlier attempt are skipped by the (file, row) key.
 * `encoded` holds each row as the JSON text of `{row, data}`.
 */
async function insertRows(db: Db, fileId: string, encoded: readonly string[]): Promise<void> {
  if (encoded.length === 0) return;
  await db.execute(sql`
    insert into ${records} (${sql.identifier(records.fileId.name)}, ${sql.identifier(records.row.name)}, ${sql.identifier(records.data.name)})
    select ${fileId}::uuid, input."row", input.data
    from jsonb_to_recordset(${`[${encoded.join(',')}]`}::jsonb) as input("row" integer, data jsonb)
    on conflict do nothing`);
}

/**
 * The file's status follows its job: bad data or the last failed attempt mark it failed, a
 * cancellation hands it back as uploaded, and an interrupted attempt (shutdown, lost lease)
 * leaves it processing for the attempt that will run it again.
 */
async function settleFailure(db: Db, fileId: string, context: JobContext, permanent: boolean): Promise<void> {
  const stopped = stopReasonOf(context.signal);
  let status: FileStatus | undefined;
  if (permanent || stopped === 'soft_timeout') status = 'failed';
  else if (stopped === 'cancel') status = 'uploaded';
  else if (!context.signal.aborted && context.attempt >= context.maxAttempts) status = 'failed';
  if (status) await setStatus(db, fileId, status, context);
}

/** Sets the file's status and announces it (realtime subscribers of the file and its owner). */
async function setStatus(db: Db, fileId: string, status: FileStatus, context: JobContext): Promise<void> {
  const rows = await db
    .update(files)
    .set({ status, updatedAt: new Date() })
    .where(and(eq(files.id, fileId), inArray(files.status, ['uploaded', 'processing', 'processed', 'failed'])))
    .returning({ id: files.id });
  if (rows.length > 0) context.emit({ type: 'file.status', file_id: fileId, status });
}
