import { and, eq, lt } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { isUuid } from '../db/uuid.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { directUploadKey, filePrefix } from './file-keys.ts';
import type { QuotaLedger } from './file-ports.ts';
import { files, type FileStatus } from './file.schema.ts';

/**
 * Removes every blob of a file: the original, the direct-upload key and what was derived.
 * Answers the bytes of the derived blobs removed (they counted against the owner's quota).
 */
export async function deleteFileBlobs(blobs: BlobStore, ownerId: string, fileId: string): Promise<number> {
  // The direct-upload key by name as well: deleting it ends the local write grant even when
  // nothing was uploaded yet (see BlobStore.delete).
  const staging = directUploadKey({ ownerId, id: fileId });
  await blobs.delete(staging);
  const prefix = filePrefix(ownerId, fileId);
  let derivedBytes = 0;
  for await (const blob of blobs.list(prefix)) {
    if (blob.key !== `${prefix}original` && blob.key !== staging) derivedBytes += blob.sizeBytes;
    await blobs.delete(blob.key);
  }
  return derivedBytes;
}

/** The periodic clean-up of storage against the files table. */
export class FileSweeper {
  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly quotas: QuotaLedger,
  ) {}

  /**
   * Removes what a crash or an abandoned upload left behind: pending direct uploads past their
   * expiry, and blobs older than `graceMs` with no row (a row is written after its blob, so a
   * young blob may still be on its way to having one).
   */
  async sweep(now = new Date(), graceMs = 60 * 60_000): Promise<{ expiredUploads: number; orphanBlobs: number }> {
    const expired = await this.db
      .delete(files)
      .where(and(eq(files.status, 'pending'), lt(files.uploadExpiresAt, now)))
      .returning({ id: files.id, ownerId: files.ownerId, sizeBytes: files.sizeBytes });
    for (const file of expired) {
      await deleteFileBlobs(this.blobs, file.ownerId, file.id);
      // A direct upload reserved its announced size and one file when it started.
      await this.quotas.release(file.ownerId, { bytes: file.sizeBytes, files: 1 });
    }

    let orphanBlobs = 0;
    // Per file id seen: its status, or null when it has no row.
    const known = new Map<string, FileStatus | null>();
    for await (const blob of this.blobs.list('files/')) {
      if (now.getTime() - blob.lastModified.getTime() < graceMs) continue;
      const [, ownerId, fileId] = blob.key.split('/');
      if (!ownerId || !fileId) continue;
      let status = known.get(fileId);
      if (status === undefined) {
        const [row] = isUuid(fileId)
          ? await this.db.select({ status: files.status }).from(files).where(eq(files.id, fileId)).limit(1)
          : [];
        status = row?.status ?? null;
        known.set(fileId, status);
      }
      // Bytes PUT through a cloud grant after the upload was completed reach only the staging
      // key, which nothing reads: they go too.
      const lateUpload = status !== null && status !== 'pending' && blob.key === directUploadKey({ ownerId, id: fileId });
      if (status === null || lateUpload) {
        await this.blobs.delete(blob.key);
        orphanBlobs += 1;
      }
    }
    return { expiredUploads: expired.length, orphanBlobs };
  }
}
