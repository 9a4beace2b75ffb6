/**
 * What every processor accepts besides the bytes, and the limits that keep hostile input
 * bounded in time and memory. Limits are plain numbers so the caller can build them from
 * configuration; anything left out takes the default below.
 */
export interface ProcessingProgress {
  current: number;
  total?: number;
  message: string;
}

export interface ProcessingLimits {
  /** Largest CSV record, JSON array element or NDJSON line, in bytes (a 100 MB field stops here). */
  maxRecordBytes: number;
  /** Deepest nesting of arrays/objects inside one JSON or NDJSON record. */
  maxJsonDepth: number;
  /** Most data rows one tabular file may yield; more is refused rather than half-imported. */
  maxRows: number;
  /** Rows per yielded batch, the unit the caller inserts in one statement. */
  batchSize: number;
  /** Row problems kept with their message; beyond this they are only counted. */
  maxProblemsKept: number;
  /** Largest XLSX file, spooled to a temporary file because a zip's index sits at its end. */
  maxXlsxBytes: number;
  /** Most entries an XLSX zip may list. */
  maxZipEntries: number;
  /** Total bytes the XLSX parts we read may inflate to. */
  maxUncompressedBytes: number;
  /** Largest inflated/compressed ratio accepted for an entry bigger than 1 MiB once inflated. */
  maxCompressionRatio: number;
  /** Shared strings are held in memory while the sheet streams, so their XML is capped. */
  maxSharedStringsBytes: number;
  /** Largest image, read into memory for decoding. */
  maxImageBytes: number;
  /** Width × height above which an image is refused before it is decoded. */
  maxImagePixels: number;
  /** Longest side of the generated thumbnail. */
  thumbnailSize: number;
  /** Largest PDF, read into memory for parsing. */
  maxPdfBytes: number;
  /** Time allowed to parse a PDF's structure. */
  pdfTimeoutMs: number;
  /** Where XLSX spools go; the OS temporary directory when undefined. */
  tempDir: string | undefined;
}

const MiB = 1024 * 1024;

export const DEFAULT_PROCESSING_LIMITS: Readonly<ProcessingLimits> = Object.freeze({
  maxRecordBytes: 8 * MiB,
  maxJsonDepth: 64,
  maxRows: 50_000_000,
  batchSize: 1000,
  maxProblemsKept: 100,
  maxXlsxBytes: 256 * MiB,
  maxZipEntries: 10_000,
  maxUncompressedBytes: 2048 * MiB,
  maxCompressionRatio: 250,
  maxSharedStringsBytes: 128 * MiB,
  maxImageBytes: 64 * MiB,
  maxImagePixels: 100_000_000,
  thumbnailSize: 256,
  maxPdfBytes: 128 * MiB,
  pdfTimeoutMs: 30_000,
  tempDir: undefined,
});

export interface ProcessOptions {
  /** Fires on cancellation or a soft time limit; the processor stops reading and throws. */
  signal: AbortSignal;
  limits?: Partial<ProcessingLimits>;
  /** The blob's size when known, so progress can say how far along it is. */
  totalBytes?: number;
  onProgress?: (progress: ProcessingProgress) => void;
}

export interface TabularOptions extends ProcessOptions {
  /** XLSX only: the one sheet to read, by name or 0-based position. */
  sheet?: string | number;
  /** XLSX only: the sheets to read, by name; every sheet when neither this nor `sheet` is given. */
  sheets?: readonly string[];
  /** CSV only: force a delimiter instead of detecting it. */
  delimiter?: string;
  /** CSV and XLSX: give cells their column's inferred type (numbers, booleans, ISO dates). */
  inferTypes?: boolean;
  /** CSV only: the text encoding (an iconv-lite name) instead of detecting it. */
  encoding?: string;
}

export function resolveLimits(limits: Partial<ProcessingLimits> | undefined): ProcessingLimits {
  const resolved: ProcessingLimits = { ...DEFAULT_PROCESSING_LIMITS };
  if (limits) {
    for (const [key, value] of Object.entries(limits) as [keyof ProcessingLimits, unknown][]) {
      if (value !== undefined) (resolved as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return resolved;
}
