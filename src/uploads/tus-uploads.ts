import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { and, eq, lt, ne } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { isUuid } from '../db/uuid.ts';
import { isAppError } from '../errors/app-error.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { Caller, IncomingFile, QuotaAmount, StoredFile } from '../files/file.service.ts';
import { tusUploads, type TusUploadRow } from './tus-upload.schema.ts';

/** What a completed upload is handed to: exactly the path of a multipart upload (src/files). */
export interface UploadCompletion {
  acceptedType(declared: string, filename: string): unknown;
  upload(
    owner: Caller,
    parts: AsyncIterable<IncomingFile>,
    options: { process: boolean; allowDuplicate?: boolean; reserved?: QuotaAmount },
  ): Promise<StoredFile[]>;
}

/** The quota operations a resumable upload needs (src/quotas satisfies it). */
export interface UploadQuota {
  reserve(ownerId: string, amount: QuotaAmount): Promise<void>;
  release(ownerId: string, amount: QuotaAmount): Promise<void>;
}

export interface TusLimits {
  maxUploadBytes: number;
  expirySeconds: number;
}

/** Where a resumable upload's parts live; the prefix is removed whole when the upload ends. */
export function tusPrefix(ownerId: string, uploadId: string): string {
  return `uploads/${ownerId}/${uploadId}/`;
}

/** A part is named by its starting offset (zero-padded, so names sort as offsets) and a unique suffix. */
function partKey(row: Pick<TusUploadRow, 'ownerId' | 'id'>, offset: number): string {
  return `${tusPrefix(row.ownerId, row.id)}${String(offset).padStart(16, '0')}-${randomUUID()}`;
}

function partOffset(key: string): number {
  const name = key.slice(key.lastIndexOf('/') + 1);
  return Number(name.slice(0, 16));
}

export interface PatchResult {
  row: TusUploadRow;
  completed?: StoredFile;
}

/**
 * Resumable uploads (tus 1.0): the state is a row, the bytes are parts in blob storage, one per
 * PATCH, so any API process can take the next chunk and memory stays bounded by one chunk's
 * streaming buffer. The length is reserved from the quota at creation. When the last byte
 * arrives, the parts are streamed, in order, through the same path as a multipart upload
 * (size limit, content inspection, hashing, deduplication, the row, its event, processing), then
 * deleted.
 */
export class TusUploads {
  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly files: UploadCompletion,
    private readonly quotas: UploadQuota,
    private readonly limits: TusLimits,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private expiry(): Date {
    return new Date(this.now().getTime() + this.limits.expirySeconds * 1000);
  }

  async create(
    owner: Caller,
    input: { length: number; filename: string; contentType: string; process: boolean; allowDuplicate: boolean },
  ): Promise<TusUploadRow> {
    if (input.length > this.limits.maxUploadBytes) throw ERRORS.fileTooLarge(this.limits.maxUploadBytes, input.filename);
    this.files.acceptedType(input.contentType, input.filename);
    const reserved = { bytes: input.length, files: 1 };
    await this.quotas.reserve(owner.id, reserved);
    try {
      const [row] = await this.db
        .insert(tusUploads)
        .values({
          id: randomUUID(),
          ownerId: owner.id,
          filename: input.filename,
          contentType: input.contentType,
          length: input.length,
          process: input.process,
          allowDuplicate: input.allowDuplicate,
          expiresAt: this.expiry(),
        })
        .returning();
      return row!;
    } catch (error) {
      await this.quotas.release(owner.id, reserved);
      throw error;
    }
  }

  /** The caller's live upload; someone else's, an expired one or none at all is `not_found`. */
  async get(caller: Caller, id: string): Promise<TusUploadRow> {
    if (!isUuid(id)) throw ERRORS.notFound('No such upload.');
    const [row] = await this.db
      .select()
      .from(tusUploads)
      .where(and(eq(tusUploads.id, id), eq(tusUploads.ownerId, caller.id)))
      .limit(1);
    if (!row || row.expiresAt.getTime() <= this.now().getTime()) throw ERRORS.notFound('No such upload.');
    return row;
  }

  /**
   * Appends `body` at `offset`. Whatever arrives is kept, also when the client goes away in the
   * middle (`body` then simply ends), unless a checksum was announced: then only a whole,
   * matching chunk is kept. Two PATCHes at the same offset both write a part of their own; the
   * first to commit wins and the other is removed (409).
   */
  async patch(
    caller: Caller,
    id: string,
    offset: number,
    body: Readable,
    checksum: { sha256Base64: string } | undefined,
  ): Promise<PatchResult> {
    const row = await this.get(caller, id);
    if (row.status !== 'receiving' || offset !== row.offset) {
      body.resume();
      throw ERRORS.conflict(`The upload is at offset ${row.status === 'receiving' ? row.offset : row.length}.`);
    }
    const remaining = row.length - row.offset;
    const key = partKey(row, offset);
    let stored: { sizeBytes: number; sha256: string };
    try {
      stored = await this.blobs.put(key, body, { maxBytes: remaining });
    } catch (error) {
      await this.blobs.delete(key).catch(() => undefined);
      if (isAppError(error) && error.code === 'file_too_large') {
        throw ERRORS.payloadTooLarge(`The chunk goes past the announced Upload-Length of ${row.length} bytes.`);
      }
      throw error;
    }
    if (checksum && Buffer.from(stored.sha256, 'hex').toString('base64') !== checksum.sha256Base64) {
      await this.blobs.delete(key);
      throw ERRORS.checksumMismatch();
    }
    if (stored.sizeBytes === 0) {
      await this.blobs.delete(key);
      return { row };
    }
    const [updated] = await this.db
      .update(tusUploads)
      .set({ offset: row.offset + stored.sizeBytes, expiresAt: this.expiry(), updatedAt: new Date() })
      .where(and(eq(tusUploads.id, row.id), eq(tusUploads.offset, row.offset), eq(tusUploads.status, 'receiving')))
      .returning();
    if (!updated) {
      await this.blobs.delete(key);
      throw ERRORS.conflict('Another request moved the upload on; ask for its offset again.');
    }
    if (updated.offset < updated.length) return { row: updated };
    return this.complete(caller, updated);
  }

  private async complete(caller: Caller, row: TusUploadRow): Promise<PatchResult> {
    const [claimed] = await this.db
      .update(tusUploads)
      .set({ status: 'completing', updatedAt: new Date() })
      .where(and(eq(tusUploads.id, row.id), eq(tusUploads.status, 'receiving')))
      .returning();
    if (!claimed) throw ERRORS.conflict('The upload is being completed already.');
    const keys = await this.partKeys(claimed);
    let completed: StoredFile;
    try {
      const [file] = await this.files.upload(
        caller,
        (async function* (blobs: BlobStore) {
          yield {
            fieldName: 'files',
            filename: claimed.filename,
            declaredType: claimed.contentType,
            stream: Readable.from(concatenate(blobs, keys)),
          } satisfies IncomingFile;
        })(this.blobs),
        { process: claimed.process, allowDuplicate: claimed.allowDuplicate, reserved: { bytes: claimed.length, files: 1 } },
      );
      completed = file!;
    } catch (error) {
      // The file path gave the reservation back; the upload ends with its bytes.
      await this.db.delete(tusUploads).where(eq(tusUploads.id, claimed.id));
      await this.deleteParts(claimed);
      throw error;
    }
    const [done] = await this.db
      .update(tusUploads)
      .set({ status: 'completed', fileId: completed.file.id, updatedAt: new Date() })
      .where(eq(tusUploads.id, claimed.id))
      .returning();
    await this.deleteParts(claimed);
    return { row: done ?? claimed, completed };
  }

  /** The committed parts in order; refuses a gap or an overlap (a part lost in storage). */
  private async partKeys(row: TusUploadRow): Promise<string[]> {
    const byOffset = new Map<number, { key: string; size: number }[]>();
    for await (const blob of this.blobs.list(tusPrefix(row.ownerId, row.id))) {
      const start = partOffset(blob.key);
      if (!Number.isSafeInteger(start)) continue;
      byOffset.set(start, [...(byOffset.get(start) ?? []), { key: blob.key, size: blob.sizeBytes }]);
    }
    const keys: string[] = [];
    let position = 0;
    while (position < row.length) {
      // A part left by a request that lost the race (and crashed before removing it) may share
      // an offset with the committed one; the walk takes the one that continues the sequence.
      const candidates = (byOffset.get(position) ?? []).filter((part) => part.size > 0 && position + part.size <= row.length);
      const part = candidates.find(
        (candidate) => candidate.size + position === row.length || byOffset.has(position + candidate.size),
      );
      if (!part) throw ERRORS.serviceUnavailable('Part of the upload is missing from storage; retry later.');
      keys.push(part.key);
      position += part.size;
    }
    return keys;
  }

  private async deleteParts(row: Pick<TusUploadRow, 'ownerId' | 'id'>): Promise<void> {
    for await (const blob of this.blobs.list(tusPrefix(row.ownerId, row.id))) await this.blobs.delete(blob.key);
  }

  /** Termination: the upload and its bytes go, and its reservation is given back. */
  async terminate(caller: Caller, id: string): Promise<void> {
    const row = await this.get(caller, id);
    const [removed] = await this.db
      .delete(tusUploads)
      .where(and(eq(tusUploads.id, row.id), ne(tusUploads.status, 'completing')))
      .returning();
    if (!removed) throw ERRORS.conflict('The upload is being completed.');
    await this.deleteParts(row);
    if (removed.status === 'receiving') await this.quotas.release(row.ownerId, { bytes: row.length, files: 1 });
  }
}

async function* concatenate(blobs: BlobStore, keys: readonly string[]): AsyncGenerator<Buffer> {
  for (const key of keys) {
    const { stream } = await blobs.get(key);
    for await (const chunk of stream) yield chunk as Buffer;
  }
}

/**
 * Removes uploads past their expiry (their parts, and the quota they had reserved unless they
 * completed) and parts that belong to no upload, older than `graceMs`. Every API process may run it.
 */
export async function sweepTusUploads(
  db: Db,
  blobs: BlobStore,
  quotas: UploadQuota,
  now: Date,
  graceMs = 60 * 60_000,
): Promise<{ expiredUploads: number; orphanParts: number }> {
  const expired = await db.delete(tusUploads).where(lt(tusUploads.expiresAt, now)).returning();
  for (const row of expired) {
    for await (const blob of blobs.list(tusPrefix(row.ownerId, row.id))) await blobs.delete(blob.key);
    if (row.status === 'receiving') await quotas.release(row.ownerId, { bytes: row.length, files: 1 });
  }
  let orphanParts = 0;
  const known = new Map<string, boolean>();
  for await (const blob of blobs.list('uploads/')) {
    if (now.getTime() - blob.lastModified.getTime() < graceMs) continue;
    const [, , uploadId] = blob.key.split('/');
    if (!uploadId) continue;
    let exists = known.get(uploadId);
    if (exists === undefined) {
      const [row] = isUuid(uploadId)
        ? await db.select({ id: tusUploads.id }).from(tusUploads).where(eq(tusUploads.id, uploadId)).limit(1)
        : [];
      exists = row !== undefined;
      known.set(uploadId, exists);
    }
    if (!exists) {
      await blobs.delete(blob.key);
      orphanParts += 1;
    }
  }
  return { expiredUploads: expired.length, orphanParts };
}
