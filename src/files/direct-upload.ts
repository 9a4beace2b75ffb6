import { createHash, randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { isAppError } from '../errors/app-error.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { SupportedContentType } from '../processing/content-types.ts';
import type { BlobStore, SignedWriteUrl } from '../storage/blob-store.ts';
import { ContentInspector } from './content-inspector.ts';
import type { ContentPolicy } from './content-policy.ts';
import { directUploadKey, filePrefix } from './file-keys.ts';
import type { Caller, FileLimits, QuotaLedger, StoredFile } from './file-ports.ts';
import { files, type FileRow } from './file.schema.ts';
import { sanitizeFilename } from './filename.ts';

/**
 * Uploads that go straight to storage through a signed write URL: a pending row and a grant
 * on a staging key first, then the bytes are moved to the file's key and checked.
 */
export class DirectUploads {
  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly policy: ContentPolicy,
    private readonly limits: Pick<FileLimits, 'maxUploadBytes' | 'directUploadSeconds'>,
    private readonly quotas: QuotaLedger,
  ) {}

  /**
   * Starts a direct-to-storage upload: a pending row (visible to its owner with status
   * `pending`) and a signed write URL. The file counts only after `completeDirectUpload`.
   */
  async start(
    owner: Caller,
    input: { filename: string; contentType: string; sizeBytes: number; sha256?: string },
  ): Promise<{ file: FileRow; upload: SignedWriteUrl }> {
    const filename = sanitizeFilename(input.filename);
    const type = this.policy.acceptedType(input.contentType, filename);
    if (input.sizeBytes > this.limits.maxUploadBytes) throw ERRORS.fileTooLarge(this.limits.maxUploadBytes, filename);
    const id = randomUUID();
    const storageKey = `${filePrefix(owner.id, id)}original`;
    // The size is known: the quota is taken now, before any byte can be written.
    const reserved = { bytes: input.sizeBytes, files: 1 };
    await this.quotas.reserve(owner.id, reserved);
    try {
      return await this.grant(owner, id, storageKey, filename, type, input);
    } catch (error) {
      await this.quotas.release(owner.id, reserved);
      throw error;
    }
  }

  private async grant(
    owner: Caller,
    id: string,
    storageKey: string,
    filename: string,
    type: SupportedContentType,
    input: { sizeBytes: number; sha256?: string },
  ): Promise<{ file: FileRow; upload: SignedWriteUrl }> {
    const upload = await this.blobs.createWriteUrl(directUploadKey({ ownerId: owner.id, id }), {
      expiresInSeconds: this.limits.directUploadSeconds,
      contentType: type.mime,
      maxBytes: input.sizeBytes,
    });
    const [file] = await this.db
      .insert(files)
      .values({
        id,
        ownerId: owner.id,
        filename,
        contentType: type.mime,
        sizeBytes: input.sizeBytes,
        sha256: null,
        storageKey,
        status: 'pending',
        expectedSha256: input.sha256?.toLowerCase() ?? null,
        uploadExpiresAt: upload.expiresAt,
      })
      .returning();
    return { file: file!, upload };
  }

  /**
   * Verifies what the client wrote straight to storage: size as announced, bytes that agree with
   * the type, and the announced hash. A blob that fails is deleted and the upload can be retried
   * with a new URL; a file passes from `pending` to `uploaded` once, and `record` (inside the
   * transaction that marks it so) queues what follows.
   */
  async complete(
    file: FileRow,
    record: (tx: Db, row: FileRow) => Promise<StoredFile>,
    findDuplicate?: (row: FileRow) => Promise<FileRow | undefined>,
  ): Promise<StoredFile> {
    if (file.status !== 'pending') throw ERRORS.conflict('This upload is already complete.');
    // Out of the grant's reach first, then checked: what is checked is what stays. (A retry
    // after a crash between the two finds the bytes moved already.)
    await this.blobs.move(directUploadKey(file), file.storageKey).catch((error: unknown) => {
      if (!(isAppError(error) && error.code === 'blob_not_found')) throw error;
    });
    const info = await this.blobs.head(file.storageKey);
    if (!info) throw ERRORS.conflict('Nothing has been uploaded to the upload URL yet.');
    try {
      if (info.sizeBytes !== file.sizeBytes) {
        throw ERRORS.validation([
          { path: 'size_bytes', message: `the upload holds ${info.sizeBytes} bytes but ${file.sizeBytes} were announced` },
        ]);
      }
      const type = this.policy.acceptedType(file.contentType, file.filename);
      const digest = await this.hashAndInspect(file.storageKey, type, file.filename);
      if (file.expectedSha256 && digest !== file.expectedSha256) {
        throw ERRORS.validation([{ path: 'sha256', message: 'the uploaded bytes do not match the announced SHA-256' }]);
      }
      const existing = await findDuplicate?.({ ...file, sha256: digest });
      if (existing) return await this.dropDuplicate(file, existing);
      return await this.db.transaction(async (tx) => {
        const [row] = await tx
          .update(files)
          .set({ status: 'uploaded', sha256: digest, uploadExpiresAt: null, updatedAt: new Date() })
          .where(and(eq(files.id, file.id), eq(files.status, 'pending')))
          .returning();
        if (!row) throw ERRORS.conflict('This upload is already complete.');
        return record(tx, row);
      });
    } catch (error) {
      if (isAppError(error) && error.status < 500 && error.code !== 'conflict') {
        await this.blobs.delete(file.storageKey);
      }
      throw error;
    }
  }

  /** The owner has these bytes already: the pending upload goes, row, blobs and reservation. */
  private async dropDuplicate(file: FileRow, existing: FileRow): Promise<StoredFile> {
    const [removed] = await this.db
      .delete(files)
      .where(and(eq(files.id, file.id), eq(files.status, 'pending')))
      .returning({ id: files.id });
    if (!removed) throw ERRORS.conflict('This upload is already complete.');
    await this.blobs.delete(file.storageKey);
    await this.quotas.release(file.ownerId, { bytes: file.sizeBytes, files: 1 });
    return { file: existing, jobId: null, duplicateOf: existing.id };
  }

  private async hashAndInspect(key: string, type: SupportedContentType, filename: string): Promise<string> {
    const hash = createHash('sha256');
    const { stream } = await this.blobs.get(key);
    const inspector = new ContentInspector(type, filename);
    await pipeline(stream, inspector, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) hash.update(chunk);
    });
    return hash.digest('hex');
  }
}
