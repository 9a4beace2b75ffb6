/**
 * The processing domain's public surface: pure functions from a blob stream to rows or
 * metadata. No database, queue or HTTP here; the job handler owns those and calls in.
 */
import type { Readable } from 'node:stream';
import { supportedContentType, type ContentKind } from './content-types.ts';
import { processCsv } from './csv.processor.ts';
import { processJson } from './json.processor.ts';
import { processNdjson } from './ndjson.processor.ts';
import { PermanentProcessingError } from './processing-error.ts';
import type { TabularOptions } from './processing-options.ts';
import type { TabularStream } from './tabular-stream.ts';
import { processXlsx } from './xlsx.processor.ts';

export { processCsv } from './csv.processor.ts';
export { processJson } from './json.processor.ts';
export { processNdjson } from './ndjson.processor.ts';
export { processXlsx } from './xlsx.processor.ts';
export { processImage, type ImageFormat, type ImageResult } from './image.processor.ts';
export { processPdf, type PdfResult } from './pdf.processor.ts';
export { detectCsvDialect, CSV_DELIMITERS, type CsvDelimiter, type CsvQuote } from './csv-dialect.ts';
export { PermanentProcessingError, isPermanentProcessingError, type PermanentProcessingErrorCode } from './processing-error.ts';
export {
  DEFAULT_PROCESSING_LIMITS,
  resolveLimits,
  type ProcessingLimits,
  type ProcessingProgress,
  type ProcessOptions,
  type TabularOptions,
} from './processing-options.ts';
export type { RejectedRow, RowProblem, RowRecord, SheetSummary, TabularStream, TabularSummary } from './tabular-stream.ts';
export { SHEET_ROW_SPAN } from './tabular-stream.ts';
export {
  mapHeader,
  normaliseHeader,
  MAX_UNIQUE_VALUES,
  type ImportSchemaColumn,
  type ImportSchemaDefinition,
} from './import-schema.ts';
export { COLUMN_TYPES, type ColumnFlag, type ColumnProfile, type ColumnType } from './column-inference.ts';
export { detectTextEncoding, knownEncoding, type DetectedEncoding } from './text-encoding.ts';
export {
  SUPPORTED_CONTENT_TYPES,
  SUPPORTED_MIME_TYPES,
  XLSX_MIME,
  contentTypeForFileName,
  supportedContentType,
  type ContentKind,
  type ProcessorFamily,
  type SupportedContentType,
} from './content-types.ts';
export { SNIFF_HEAD_BYTES, detectBinaryFormat, sniffContent, type SniffResult } from './content-sniff.ts';

const TABULAR: Partial<Record<ContentKind, (input: Readable, options: TabularOptions) => TabularStream>> = {
  csv: processCsv,
  json: processJson,
  ndjson: processNdjson,
  xlsx: processXlsx,
};

/** The tabular processor for a content type (aliases and parameters accepted). */
export function processTabular(contentType: string, input: Readable, options: TabularOptions): TabularStream {
  const kind = supportedContentType(contentType)?.kind;
  const processor = kind === undefined ? undefined : TABULAR[kind];
  if (!processor) {
    input.destroy();
    throw new PermanentProcessingError('unsupported_content_type', `${contentType} is not a tabular content type.`);
  }
  return processor(input, options);
}
