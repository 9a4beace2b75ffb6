import type { Readable } from 'node:stream';
import type { PDFDocument } from 'pdf-lib';
import { readBounded } from './input-stream.ts';
import { PermanentProcessingError } from './processing-error.ts';
import { resolveLimits, type ProcessOptions } from './processing-options.ts';

export interface PdfResult {
  pageCount: number;
  /** From the `%PDF-x.y` header. */
  version: string | undefined;
  encrypted: boolean;
  title: string | undefined;
  author: string | undefined;
  subject: string | undefined;
  keywords: string | undefined;
  creator: string | undefined;
  producer: string | undefined;
  /** ISO 8601. */
  creationDate: string | undefined;
  modificationDate: string | undefined;
}

/**
 * PDF → page count and document information, with pdf-lib (pure JavaScript). The document is
 * read into memory, capped by `maxPdfBytes`; parsing yields to the event loop as it goes, so
 * it is also raced against `pdfTimeoutMs` and the abort signal.
 */
export async function processPdf(input: Readable, options: ProcessOptions): Promise<PdfResult> {
  const limits = resolveLimits(options.limits);
  const bytes = await readBounded(input, options.signal, limits.maxPdfBytes, 'PDF');
  options.onProgress?.({
    current: bytes.length,
    ...(options.totalBytes !== undefined ? { total: options.totalBytes } : {}),
    message: 'read PDF',
  });
  const header = /^%PDF-(\d\.\d)/.exec(
    bytes
      .subarray(0, 1024)
      .toString('latin1')
      .replace(/^[^%]*/, ''),
  );
  if (!header) throw new PermanentProcessingError('malformed_file', 'The file has no PDF header.');

  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new PermanentProcessingError('processing_timeout', `The PDF took longer than ${limits.pdfTimeoutMs} ms to parse.`),
        ),
      limits.pdfTimeoutMs,
    );
    onAbort = () => reject(options.signal.reason);
    options.signal.addEventListener('abort', onAbort, { once: true });
  });
  // Loaded at the first PDF: pdf-lib is a large library that most processes never need.
  const { PDFDocument: Pdf } = await import('pdf-lib');
  let document: PDFDocument;
  let pageCount: number;
  try {
    document = await Promise.race([
      Pdf.load(bytes, { ignoreEncryption: true, updateMetadata: false, throwOnInvalidObject: false }),
      stop,
    ]);
    // A file with a header but no usable catalog loads, and only fails here.
    pageCount = document.getPageCount();
  } catch (error) {
    if (error instanceof PermanentProcessingError || options.signal.aborted) throw error;
    throw new PermanentProcessingError('malformed_file', `The PDF cannot be parsed: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
    if (onAbort) options.signal.removeEventListener('abort', onAbort);
  }

  const text = (read: () => string | undefined) => {
    try {
      return read() || undefined;
    } catch {
      // pdf-lib throws on a malformed info entry; one bad field should not hide the others.
      return undefined;
    }
  };
  const date = (read: () => Date | undefined) => {
    const value = text(() => {
      const parsed = read();
      return parsed && !Number.isNaN(parsed.getTime()) ? parsed.toISOString() : undefined;
    });
    return value;
  };
  return {
    pageCount,
    version: header[1],
    encrypted: document.isEncrypted,
    title: text(() => document.getTitle()),
    author: text(() => document.getAuthor()),
    subject: text(() => document.getSubject()),
    keywords: text(() => document.getKeywords()),
    creator: text(() => document.getCreator()),
    producer: text(() => document.getProducer()),
    creationDate: date(() => document.getCreationDate()),
    modificationDate: date(() => document.getModificationDate()),
  };
}
