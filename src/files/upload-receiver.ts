import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { isAppError } from '../errors/app-error.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { SupportedContentType } from '../processing/content-types.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { ContentInspector } from './content-inspector.ts';
import type { ContentPolicy } from './content-policy.ts';
import { filePrefix } from './file-keys.ts';
import type { IncomingFile, QuotaAmount, QuotaLedger } from './file-ports.ts';
import { QuotaMeter } from './quota-meter.ts';
import type { FileRow } from './file.schema.ts';
import { sanitizeFilename } from './filename.ts';

/**
 * Streams one uploaded part to storage while it is hashed and its bytes are checked against
 * its type; answers the row to record, or leaves nothing stored.
 */
export class UploadReceiver {
  constructor(
    private readonly blobs: BlobStore,
    private readonly policy: ContentPolicy,
    private readonly maxUploadBytes: number,
    private readonly quotas: QuotaLedger,
  ) {}

  /**
   * The file counts against its owner's quota from the start (one file, and its bytes as they
   * arrive, or `reserved` when the caller took them already); on failure all of it is given back.
   */
  async storePart(
    ownerId: string,
    part: IncomingFile,
    signal: AbortSignal | undefined,
    reserved: QuotaAmount = { bytes: 0, files: 0 },
  ): Promise<FileRow> {
    const filename = sanitizeFilename(part.filename);
    let type: SupportedContentType;
    let meter: QuotaMeter;
    try {
      type = this.policy.acceptedType(part.declaredType, filename);
      const { limits } = await this.quotas.status(ownerId);
      if (reserved.files === 0) await this.quotas.reserve(ownerId, { bytes: 0, files: 1 });
      meter = new QuotaMeter(this.quotas, ownerId, reserved.bytes, limits.bytes !== null);
    } catch (error) {
      part.stream.resume();
      if (reserved.bytes > 0 || reserved.files > 0) await this.quotas.release(ownerId, reserved);
      throw error;
    }
    const id = randomUUID();
    const storageKey = `${filePrefix(ownerId, id)}original`;
    const inspector = new ContentInspector(type, filename);
    const storing = this.blobs
      .put(storageKey, inspector, { contentType: type.mime, maxBytes: this.maxUploadBytes, ...(signal ? { signal } : {}) })
      .catch((error: unknown) => {
        // Whatever stopped the store must also stop the bytes flowing into it.
        inspector.destroy();
        throw error;
      });
    const [put, piped] = await Promise.allSettled([storing, pipeline(part.stream, meter, inspector)]);
    if (put.status === 'rejected' || piped.status === 'rejected') {
      await this.blobs.delete(storageKey).catch(() => undefined);
      await meter.releaseAll();
      await this.quotas.release(ownerId, { bytes: 0, files: 1 });
      // The inspector's verdict (415) explains more than the store's view of a stream cut short.
      const reason =
        piped.status === 'rejected' && isAppError(piped.reason)
          ? piped.reason
          : put.status === 'rejected'
            ? put.reason
            : (piped as PromiseRejectedResult).reason;
      throw await this.describeUploadError(reason, filename, ownerId);
    }
    const result = put.value;
    await meter.settle();
    const now = new Date();
    return {
      id,
      ownerId,
      filename,
      contentType: type.mime,
      sizeBytes: result.sizeBytes,
      sha256: result.sha256,
      storageKey,
      status: 'uploaded',
      expectedSha256: null,
      uploadExpiresAt: null,
      recordsRun: null,
      metadata: null,
      createdAt: now,
      updatedAt: now,
    };
  }

  private async describeUploadError(error: unknown, filename: string, ownerId: string): Promise<unknown> {
    if (isAppError(error) && error.code === 'file_too_large') return ERRORS.fileTooLarge(this.maxUploadBytes, filename);
    if (isAppError(error) && error.code === 'quota_exceeded') {
      // Told once this upload's own reservation is given back: the usage the account really has.
      const { usage, limits } = await this.quotas.status(ownerId);
      return ERRORS.quotaExceeded({ limit: 'bytes', limitValue: limits.bytes ?? 0, usage });
    }
    return error;
  }
}
