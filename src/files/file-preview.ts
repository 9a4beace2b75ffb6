import { Readable } from 'node:stream';
import { ERRORS } from '../errors/catalog.ts';
import {
  detectTextEncoding,
  isPermanentProcessingError,
  knownEncoding,
  processTabular,
  supportedContentType,
  type ColumnProfile,
  type ImportSchemaDefinition,
  type ProcessingLimits,
  type RowProblem,
  type RowRecord,
  type SupportedContentType,
} from '../processing/index.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { FileImportOptions, FileRow } from './file.schema.ts';

/** Text files are previewed from their first bytes only, so a preview costs the same for any size. */
export const PREVIEW_HEAD_BYTES = 256 * 1024;

export interface FilePreview {
  encoding: string | null;
  dialect: { delimiter: string; quote: string } | null;
  sheets: { name: string; index: number; rows: number }[];
  columns: ColumnProfile[];
  rows: RowRecord[];
  problems: RowProblem[];
  /** Whether the preview read only part of the file. */
  partial: boolean;
}

interface PreviewOptions {
  rows: number;
  limits: Readonly<ProcessingLimits>;
  importOptions: FileImportOptions;
  schema?: ImportSchemaDefinition;
}

/**
 * Reads the head of a stored file the way processing would (encoding, dialect, types, the
 * import schema) and answers its first rows, writing nothing. Workbooks must be read whole (a
 * zip's index is at its end), bounded by the XLSX size limit.
 */
export async function previewFile(blobs: BlobStore, file: FileRow, options: PreviewOptions): Promise<FilePreview> {
  const type = supportedContentType(file.contentType);
  if (!type || type.family !== 'tabular') throw notPreviewable();
  if (file.status === 'pending') throw ERRORS.conflict('The upload of this file has not been completed.');
  const whole = type.kind === 'xlsx' || file.sizeBytes <= PREVIEW_HEAD_BYTES;
  const abort = new AbortController();
  if (whole) {
    const input = (await blobs.get(file.storageKey, { signal: abort.signal })).stream;
    return previewRows(type, input, { ...options, abort, partial: false });
  }
  const head = await readAll((await blobs.get(file.storageKey, { range: { start: 0, end: PREVIEW_HEAD_BYTES - 1 } })).stream);
  return previewRows(type, headLines(head, options.importOptions), { ...options, abort, partial: true });
}

/**
 * The preview of a file while it is being uploaded (`?dry_run=true`): the same reading as
 * previewFile, from the upload stream itself, with nothing stored. The stream must already be
 * checked against its type; it is read to its end (a workbook is spooled by its processor, a
 * text file's bytes past the head are only counted) so the answer comes after the whole upload.
 */
export async function previewUpload(type: SupportedContentType, stream: Readable, options: PreviewOptions): Promise<FilePreview> {
  if (type.family !== 'tabular') throw notPreviewable();
  const abort = new AbortController();
  if (type.kind === 'xlsx') return previewRows(type, stream, { ...options, abort, partial: false });
  const chunks: Buffer[] = [];
  let length = 0;
  let more = false;
  for await (const chunk of stream) {
    if (length >= PREVIEW_HEAD_BYTES) {
      more = true;
      continue;
    }
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
  }
  const bytes = Buffer.concat(chunks, length);
  if (!more && bytes.length <= PREVIEW_HEAD_BYTES)
    return previewRows(type, Readable.from([bytes]), { ...options, abort, partial: false });
  const head = bytes.subarray(0, PREVIEW_HEAD_BYTES);
  return previewRows(type, headLines(head, options.importOptions), { ...options, abort, partial: true });
}

function notPreviewable() {
  return ERRORS.conflict('Only tabular files (CSV, JSON, NDJSON, XLSX) can be previewed.');
}

/** The head of a text file cut after its last complete line, as a stream. */
function headLines(head: Buffer, importOptions: FileImportOptions): Readable {
  const encoding = importOptions.encoding
    ? (knownEncoding(importOptions.encoding) ?? 'utf-8')
    : detectTextEncoding(head).encoding;
  return Readable.from([completeLines(head, encoding)]);
}

async function previewRows(
  type: SupportedContentType,
  input: Readable,
  options: PreviewOptions & { abort: AbortController; partial: boolean },
): Promise<FilePreview> {
  const { abort } = options;
  const stream = processTabular(type.mime, input, {
    signal: abort.signal,
    limits: options.limits,
    inferTypes: type.kind === 'csv' || type.kind === 'xlsx',
    ...(options.importOptions.encoding === undefined ? {} : { encoding: options.importOptions.encoding }),
    ...(options.importOptions.sheets === undefined ? {} : { sheets: options.importOptions.sheets }),
    ...(options.schema ? { schema: options.schema } : {}),
  });
  const rows: RowRecord[] = [];
  let stopped = false;
  try {
    for await (const batch of stream) {
      rows.push(...batch);
      if (rows.length >= options.rows) {
        stopped = true;
        break;
      }
    }
  } catch (error) {
    // What would fail the processing job is the file's fault: said as such, not as a 500.
    if (isPermanentProcessingError(error)) throw ERRORS.fileUnreadable(error.code, error.message);
    throw error;
  } finally {
    abort.abort();
  }
  const shown = rows.slice(0, options.rows);
  const summary = stream.summary();
  const lastRow = shown.at(-1)?.row ?? Number.MAX_SAFE_INTEGER;
  return {
    encoding: summary.encoding ?? null,
    dialect: summary.dialect ?? null,
    sheets: (summary.sheets ?? []).map((sheet) => ({ name: sheet.name, index: sheet.index, rows: sheet.rows })),
    columns:
      summary.columnTypes ??
      summary.columns.map((name) => ({ name, type: 'text', nullable: true, examples: [], flags: [], mismatches: 0 })),
    rows: shown,
    problems: summary.problems.filter((problem) => !stopped || problem.sheet !== undefined || problem.row <= lastRow),
    partial: stopped || options.partial,
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The head up to its last complete line, so the cut is not read as a broken row. */
function completeLines(head: Buffer, encoding: string): Buffer {
  if (encoding === 'utf-16le') {
    for (let index = head.length - 2; index >= 0; index -= 1)
      if (index % 2 === 0 && head[index] === 0x0a && head[index + 1] === 0) return head.subarray(0, index + 2);
    return head;
  }
  if (encoding === 'utf-16be') {
    for (let index = head.length - 2; index >= 0; index -= 1)
      if (index % 2 === 0 && head[index] === 0 && head[index + 1] === 0x0a) return head.subarray(0, index + 2);
    return head;
  }
  const newline = head.lastIndexOf(0x0a);
  return newline === -1 ? head : head.subarray(0, newline + 1);
}
