import type { EnvReader } from './config-spec.ts';
import { DEFAULT_PROCESSING_LIMITS, type ProcessingLimits } from '../processing/processing-options.ts';

const MiB = 1024 * 1024;

/**
 * The processing limits an operator may tune, read by `loadConfig` (the only reader of the
 * environment). Sizes are in MiB to keep the variables readable; the rest keep their defaults.
 */
export function readProcessingLimits(read: EnvReader): ProcessingLimits {
  const defaults = DEFAULT_PROCESSING_LIMITS;
  const mebibytes = (name: string, fallback: number, max: number) => read.integer(name, fallback / MiB, { min: 1, max }) * MiB;
  return {
    ...defaults,
    maxRecordBytes: mebibytes('PROCESSING_MAX_RECORD_MB', defaults.maxRecordBytes, 1024),
    maxJsonDepth: read.integer('PROCESSING_MAX_JSON_DEPTH', defaults.maxJsonDepth, { min: 2, max: 1000 }),
    maxRows: read.integer('PROCESSING_MAX_ROWS', defaults.maxRows, { min: 1 }),
    batchSize: read.integer('PROCESSING_BATCH_SIZE', defaults.batchSize, { min: 1, max: 100_000 }),
    maxXlsxBytes: mebibytes('PROCESSING_MAX_XLSX_MB', defaults.maxXlsxBytes, 64 * 1024),
    maxUncompressedBytes: mebibytes('PROCESSING_MAX_UNCOMPRESSED_MB', defaults.maxUncompressedBytes, 1024 * 1024),
    maxImageBytes: mebibytes('PROCESSING_MAX_IMAGE_MB', defaults.maxImageBytes, 64 * 1024),
    maxImagePixels: read.integer('PROCESSING_MAX_IMAGE_PIXELS', defaults.maxImagePixels, { min: 1, max: 2 ** 32 }),
    thumbnailSize: read.integer('PROCESSING_THUMBNAIL_SIZE', defaults.thumbnailSize, { min: 16, max: 4096 }),
    maxPdfBytes: mebibytes('PROCESSING_MAX_PDF_MB', defaults.maxPdfBytes, 64 * 1024),
    pdfTimeoutMs: read.integer('PROCESSING_PDF_TIMEOUT_MS', defaults.pdfTimeoutMs, { min: 100, max: 60 * 60_000 }),
    tempDir: read.optionalString('PROCESSING_TEMP_DIR'),
  };
}
