import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { isAppError } from '../errors/app-error.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { SupportedContentType } from '../processing/content-types.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { ContentInspector } from './content-inspector.ts';
import type { ContentPolicy } from './content-policy.ts';
import { filePrefix } from './file-keys.ts';
import type { IncomingFile } from './file-ports.ts';
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
  ) {}

  async storePart(ownerId: string, part: IncomingFile, signal: AbortSignal | undefined): Promise<FileRow> {
    const filename = sanitizeFilename(part.filename);
    let type: SupportedContentType;
    try {
      type = this.policy.acceptedType(part.declaredType, filename);
    } catch (error) {
      part.stream.resume();
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
    const [put, piped] = await Promise.allSettled([storing, pipeline(part.stream, inspector)]);
    if (put.status === 'rejected' || piped.status === 'rejected') {
      await this.blobs.delete(storageKey).catch(() => undefined);
      // The inspector's verdict (415) explains more than the store's view of a stream cut short.
      const reason =
        piped.status === 'rejected' && isAppError(piped.reason)
          ? piped.reason
          : put.status === 'rejected'
            ? put.reason
            : (piped as PromiseRejectedResult).reason;
      throw this.describeUploadError(reason, filename);
    }
    const result = put.value;
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
      importOptions: null,
      createdAt: now,
      updatedAt: now,
    };
  }

  private describeUploadError(error: unknown, filename: string): unknown {
    if (isAppError(error) && error.code === 'file_too_large') return ERRORS.fileTooLarge(this.maxUploadBytes, filename);
    return error;
  }
}
