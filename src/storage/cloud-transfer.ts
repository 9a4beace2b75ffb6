import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ERRORS } from '../errors/catalog.ts';
import { resolveByteRange, type BlobInfo, type ByteRange, type PutBlobOptions, type PutBlobResult } from './blob-store.ts';
import { HashingMeter } from './hashing-meter.ts';

/** An SDK upload reading from the meter: its completion, and how to abandon it before commit. */
export interface MeteredUpload {
  done: Promise<unknown>;
  abort(reason: unknown): unknown;
}

/**
 * A put through a cloud SDK: `body` streams through a hashing meter that the SDK's upload reads.
 * A failing body must stop the upload before its commit; a failing upload must release the
 * body. Either way both sides settle, and the body's own error is the one reported.
 */
export async function meteredPut(
  body: Readable,
  options: PutBlobOptions,
  startUpload: (meter: HashingMeter) => MeteredUpload,
): Promise<PutBlobResult> {
  const meter = new HashingMeter(options.maxBytes);
  const upload = startUpload(meter);
  const abandon = async (reason: unknown): Promise<void> => {
    await Promise.resolve(upload.abort(reason)).catch(() => undefined);
  };
  const onCallerAbort = (): void => void abandon(options.signal?.reason);
  options.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const piping = pipeline(body, meter, ...(options.signal ? [{ signal: options.signal }] : [])).catch(async (error: unknown) => {
    await abandon(error);
    throw error;
  });
  const uploading = upload.done.catch((error: unknown) => {
    meter.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  });
  try {
    const [piped, uploaded] = await Promise.allSettled([piping, uploading]);
    if (piped.status === 'rejected') throw piped.reason;
    if (uploaded.status === 'rejected') throw uploaded.reason;
    return { sizeBytes: meter.sizeBytes, sha256: meter.sha256 };
  } finally {
    options.signal?.removeEventListener('abort', onCallerAbort);
  }
}

/**
 * A requested range resolved against the blob's real size, with the version to pin the read to
 * (If-Match): the clouds differ on suffix ranges and on errors, so every driver answers ranges
 * the same way by resolving them here first.
 */
export async function pinnedRange(
  head: (key: string) => Promise<BlobInfo | null>,
  key: string,
  requested: ByteRange | undefined,
): Promise<{ range?: { start: number; end: number }; etag?: string }> {
  if (!requested) return {};
  const info = await head(key);
  if (!info) throw ERRORS.blobNotFound();
  return { range: resolveByteRange(requested, info.sizeBytes), etag: info.etag };
}
