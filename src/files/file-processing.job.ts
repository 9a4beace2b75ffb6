import { Readable } from 'node:stream';
import { and, eq, inArray } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { Type } from '../vendor/typebox.ts';
import type { Db } from '../db/database.ts';
import { defineJob, PermanentJobError, stopReasonOf, type JobContext } from '../jobs/job-definition.ts';
import type { JobRegistry } from '../jobs/job-registry.ts';
import {
  isPermanentProcessingError,
  PermanentProcessingError,
  processImage,
  processPdf,
  processTabular,
  supportedContentType,
  type ColumnProfile,
  type ImportSchemaDefinition,
  type RejectedRow,
  type TabularSummary,
} from '../processing/index.ts';
import type { ProcessingLimits } from '../processing/processing-options.ts';
import { storableText } from '../db/storable.ts';
import type { RecordRun, RecordSink } from './file-ports.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { files, type FileRow, type FileStatus } from './file.schema.ts';
import { thumbnailKey } from './file-keys.ts';
import { chargeUsage } from '../quotas/quota.service.ts';
import { CorrectionFile, problemsKey } from './correction-file.ts';
import { findImportSchema } from '../schemas/import-schema.service.ts';
import { FileProgress } from './file-progress.ts';

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
  | {
      kind: 'tabular';
      rows: number;
      columns: string[];
      problem_count: number;
      problems: { row: number; message: string; column?: string; code?: string }[];
      sheet?: string;
      encoding?: string;
    }
  | { kind: 'image'; width: number; height: number; format: string; thumbnail: boolean }
  | { kind: 'pdf'; page_count: number; info: Record<string, unknown> };

/** What the processing job needs, and nothing more (it crosses into worker threads). */
export interface FileJobDependencies {
  db: Db;
  /** The blob store, opened on first use (a worker thread opens its own). */
  blobs: () => Promise<BlobStore>;
  limits: Readonly<ProcessingLimits>;
  /** Where rows go: the records feature's writer, wired by the composition root. */
  records: RecordSink;
}

export function registerFileJobs(registry: JobRegistry, deps: FileJobDependencies): void {
  registry.register(processFileJob, (payload, context) =>
    processFile(deps.db, deps.blobs, deps.limits, payload.file_id, context, deps.records),
  );
}

/**
 * Turns a stored file into records or metadata, reporting its steps as progress.
 *
 * Records are written as a run of their own (the job's id), beside whatever run readers are
 * served, and the file switches to the new run in the statement that marks it processed: a
 * cancelled or failed run is never seen, and its rows are removed. A retry of the same job
 * writes the same run, and rows already stored are skipped, so a crash never stores a row
 * twice. Bad data fails at once; I/O errors are retried.
 */
export async function processFile(
  db: Db,
  openBlobs: () => Promise<BlobStore>,
  limits: Readonly<ProcessingLimits>,
  fileId: string,
  context: JobContext,
  writer: RecordSink,
): Promise<FileProcessingResult> {
  const progress = new FileProgress((update) => context.progress(update));
  const step = (index: number, detail?: string) => progress.step(index, detail);

  await step(0);
  const [file] = await db.select().from(files).where(eq(files.id, fileId)).limit(1);
  if (!file) throw new PermanentJobError('The file no longer exists.');
  if (file.status === 'pending') throw new PermanentJobError('The file has not been uploaded completely.');
  const type = supportedContentType(file.contentType);
  if (!type) throw new PermanentJobError(`Files of type ${file.contentType} cannot be processed.`);
  await setStatus(db, file.id, 'processing', context);

  const run: RecordRun = { fileId: file.id, run: context.jobId };
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
    let recordsRun: string | null = null;
    switch (type.family) {
      case 'tabular': {
        // XLSX is spooled whole before its first row, so its bytes say nothing about the rows.
        const byBytes = type.kind === 'xlsx' ? options : { ...options, onProgress: progress.bytes };
        const wanted = file.importOptions ?? {};
        let schema: ImportSchemaDefinition | undefined;
        if (wanted.schema_id !== undefined) {
          schema = await findImportSchema(db, file.ownerId, wanted.schema_id);
          if (!schema)
            throw new PermanentProcessingError('schema_mismatch', 'The import schema named for this file no longer exists.');
        }
        const corrections = new CorrectionFile(limits.tempDir);
        await corrections.open();
        let summary: TabularSummary;
        try {
          const tabular = {
            ...byBytes,
            // Spreadsheet cells become numbers, booleans and ISO dates; JSON already says what it holds.
            inferTypes: type.kind === 'csv' || type.kind === 'xlsx',
            ...(wanted.encoding === undefined ? {} : { encoding: wanted.encoding }),
            ...(wanted.sheets === undefined ? {} : { sheets: wanted.sheets }),
            ...(schema ? { schema } : {}),
            onReject: (rejected: RejectedRow) => corrections.add(rejected),
          };
          summary = await storeRows(writer, run, file, stream, tabular, (stored) => progress.rowsStored(stored));
          const problems = corrections.finish();
          if (problems) await blobs.put(problemsKey(file), problems, { contentType: 'text/csv', signal: context.signal });
          else await blobs.delete(problemsKey(file));
        } finally {
          await corrections.remove();
        }
        if (schema?.all_or_nothing && summary.problemCount > 0) {
          throw new PermanentProcessingError(
            'schema_mismatch',
            `${summary.problemCount} problems against the import schema, which is all or nothing: no row was stored. See problems.csv.`,
          );
        }
        result = {
          kind: 'tabular',
          rows: summary.rows,
          columns: summary.columns,
          problem_count: summary.problemCount,
          problems: summary.problems,
          ...(summary.sheet === undefined ? {} : { sheet: summary.sheet }),
          ...(summary.encoding === undefined ? {} : { encoding: summary.encoding }),
        };
        metadata = {
          rows: summary.rows,
          columns: summary.columns,
          problem_count: summary.problemCount,
          ...(summary.encoding === undefined ? {} : { encoding: summary.encoding }),
          ...(summary.dialect === undefined ? {} : { dialect: summary.dialect }),
          ...(summary.columnTypes === undefined ? {} : { column_types: summary.columnTypes.map(storableProfile) }),
          rejected_rows: summary.rejectedRows,
          ...(summary.sheets === undefined
            ? {}
            : {
                sheets: summary.sheets.map((sheet) => ({
                  name: storableText(sheet.name),
                  index: sheet.index,
                  rows: sheet.rows,
                  columns: sheet.columns.map(storableText),
                  ...(sheet.columnTypes ? { column_types: sheet.columnTypes.map(storableProfile) } : {}),
                })),
              }),
          ...(wanted.schema_id === undefined ? {} : { schema_id: wanted.schema_id }),
        };
        recordsRun = run.run;
        break;
      }
      case 'image': {
        const image = await processImage(stream, options);
        await step(2, 'thumbnail');
        // Derived blobs count against the owner's quota; a re-run replaces the previous thumbnail.
        const previous = await blobs.head(thumbnailKey(file));
        const stored = await blobs.put(thumbnailKey(file), Readable.from([image.thumbnail.data]), {
          contentType: image.thumbnail.contentType,
          signal: context.signal,
        });
        await chargeUsage(db, file.ownerId, { bytes: stored.sizeBytes - (previous?.sizeBytes ?? 0), files: 0 });
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
    // One statement makes the run current together with its metadata; it answers the run it
    // replaced, whose rows then go (a crash before that leaves rows no reader is pointed at,
    // which the next run of the file removes).
    const previous = alias(files, 'previous');
    const processed = await db
      .update(files)
      .set({ status: 'processed', metadata, recordsRun, updatedAt: new Date() })
      .from(previous)
      .where(and(eq(files.id, file.id), eq(previous.id, files.id)))
      .returning({ previousRun: previous.recordsRun });
    if (processed.length > 0) {
      context.emit({ type: 'file.status', file_id: file.id, status: 'processed' });
      const replaced = processed[0]!.previousRun;
      if (replaced && replaced !== recordsRun) await writer.discard({ fileId: file.id, run: replaced });
    } else {
      await writer.discard(run);
    }
    await progress.done();
    return result;
  } catch (error) {
    const permanent = isPermanentProcessingError(error);
    const settled = await settleFailure(db, file, context, permanent);
    // A run that will not be retried is never read: its rows go now.
    if (settled) await writer.discard(run);
    if (permanent) {
      throw new PermanentJobError(error.message, { cause: error });
    }
    throw error;
  }
}

async function storeRows(
  writer: RecordSink,
  run: RecordRun,
  file: FileRow,
  input: Readable,
  options: Parameters<typeof processTabular>[2],
  onStored: (stored: number) => Promise<void>,
): Promise<TabularSummary> {
  const rows = processTabular(file.contentType, input, options);
  const { refused } = await writer.write(run, rows, onStored);
  const summary = rows.summary();
  // Column and sheet names land in the file's metadata and the job's result (jsonb as well).
  const storable = {
    ...summary,
    columns: summary.columns.map(storableText),
    ...(summary.sheet === undefined ? {} : { sheet: storableText(summary.sheet) }),
  };
  if (refused.length === 0) return storable;
  return {
    ...storable,
    rows: summary.rows - refused.length,
    problemCount: summary.problemCount + refused.length,
    problems: [...summary.problems, ...refused].sort((a, b) => a.row - b.row).slice(0, MAX_REPORTED_PROBLEMS),
  };
}

/** A column profile as it lands in jsonb (names and examples may hold what jsonb cannot). */
function storableProfile(profile: ColumnProfile): ColumnProfile {
  return { ...profile, name: storableText(profile.name), examples: profile.examples.map(storableText) };
}

/** As many row problems as the parsers keep. */
const MAX_REPORTED_PROBLEMS = 100;

/**
 * The file's status follows its job: bad data or the last failed attempt mark it failed, a
 * cancellation hands it back as it was (processed by its previous run, or uploaded), and an interrupted attempt (shutdown, lost lease)
 * leaves it processing for the attempt that will run it again.
 */
async function settleFailure(db: Db, file: FileRow, context: JobContext, permanent: boolean): Promise<boolean> {
  const stopped = stopReasonOf(context.signal);
  let status: FileStatus | undefined;
  if (permanent || stopped === 'soft_timeout') status = 'failed';
  // The previous complete run (if any) is still what readers are served.
  else if (stopped === 'cancel') status = file.metadata ? 'processed' : 'uploaded';
  else if (!context.signal.aborted && context.attempt >= context.maxAttempts) status = 'failed';
  if (status) await setStatus(db, file.id, status, context);
  return status !== undefined;
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
