import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { and, asc, count, desc, eq, ilike, lt, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { isAppError } from '../errors/app-error.ts';
import { ERRORS } from '../errors/catalog.ts';
import { contentTypeForFileName, supportedContentType, type SupportedContentType } from '../processing/content-types.ts';
import type { BlobDownload, BlobStore, ByteRange, SignedUrl, SignedWriteUrl } from '../storage/blob-store.ts';
import { ContentInspector } from './content-inspector.ts';
import { files, type FileRow, type FileStatus } from './file.schema.ts';
import { attachmentDisposition, sanitizeFilename } from './filename.ts';
import type { Caller as HttpCaller } from '../http/caller.ts';

export interface FileLimits {
  maxUploadBytes: number;
  maxFilesPerRequest: number;
  /** Canonical MIME types accepted; a subset of the types Intake can process. */
  allowedContentTypes: readonly string[];
  maxLinkSeconds: number;
  directUploadSeconds: number;
}

/** One file part of an upload, as the HTTP layer hands it over. */
export interface IncomingFile {
  fieldName: string;
  filename: string | undefined;
  declaredType: string;
  stream: Readable;
}

/** Files decide by who is asking (the one caller type), not by how they signed in. */
export type Caller = Pick<HttpCaller, 'id' | 'role'>;

export interface ListFilesQuery {
  limit: number;
  offset: number;
  status?: FileStatus;
  contentType?: string;
  filename?: string;
  sort: 'created_at' | 'filename';
  order: 'asc' | 'desc';
  /** Admins may list another user's files. */
  ownerId?: string;
}

/**
 * Queues a file's processing inside the transaction that records the file, so the file and
 * its job exist together or not at all. Returns the job id.
 */
export interface FileProcessingQueue {
  enqueue(file: FileRow, tx: Db, reason: 'upload' | 'request'): Promise<string>;
}

/** Told of files once recorded as uploaded, inside the transaction that records them. */
export interface FileEvents {
  uploaded(tx: Db, file: FileRow): Promise<void>;
}
/** Told when a file changes status here (after the change commits), for realtime subscribers. */
export type FileStatusListener = (file: Pick<FileRow, 'id' | 'ownerId' | 'status'>) => void;

export interface StoredFile {
  file: FileRow;
  /** The processing job queued for it, if any. */
  jobId: string | null;
}

/** Where a file's blobs live: the original and anything derived from it share the prefix. */
export function filePrefix(ownerId: string, fileId: string): string {
  return `files/${ownerId}/${fileId}/`;
}

/** Where the thumbnail of an image lives: beside the original, so deleting the file removes it. */
export function thumbnailKey(file: Pick<FileRow, 'ownerId' | 'id'>): string {
  return `${filePrefix(file.ownerId, file.id)}thumbnail.webp`;
}

export class FileService {
  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly limits: FileLimits,
    private readonly processing?: FileProcessingQueue,
    private readonly events?: FileEvents,
    private readonly onStatus: FileStatusListener = () => undefined,
  ) {}

  private announce(rows: readonly Pick<FileRow, 'id' | 'ownerId' | 'status'>[]): void {
    for (const row of rows) {
      try {
        this.onStatus(row);
      } catch {
        // Best effort: the committed row is the record.
      }
    }
  }

  /**
   * Streams every part to storage while hashing and inspecting it, then records all files in
   * one transaction. Any failure (a bad part, a limit, a client that goes away) removes the
   * blobs already written, and no row is ever written for them: a request stores all its files
   * or none. A crash in between leaves only blobs without rows, which `sweepOrphans` removes.
   */
  async upload(owner: Caller, parts: AsyncIterable<IncomingFile>, options: { process: boolean; signal?: AbortSignal }): Promise<StoredFile[]> {
    const stored: FileRow[] = [];
    let recorded: StoredFile[];
    try {
      for await (const part of parts) {
        if (part.fieldName !== 'files') {
          part.stream.resume();
          throw ERRORS.badRequest(`Unexpected file field "${part.fieldName}"; send files in parts named "files".`);
        }
        if (stored.length >= this.limits.maxFilesPerRequest) {
          part.stream.resume();
          throw ERRORS.tooManyFiles(this.limits.maxFilesPerRequest);
        }
        stored.push(await this.storePart(owner.id, part, options.signal));
      }
      if (stored.length === 0) throw ERRORS.badRequest('The request holds no file; send one or more parts named "files".');
      recorded = await this.db.transaction(async (tx) => {
        await tx.insert(files).values(stored);
        return this.queueProcessing(tx, stored, options.process, 'upload');
      });
    } catch (error) {
      await Promise.allSettled(stored.map((row) => this.blobs.delete(row.storageKey)));
      throw error;
    }
    this.announce(stored);
    return recorded;
  }

  private async queueProcessing(tx: Db, rows: FileRow[], process: boolean, reason: 'upload' | 'request'): Promise<StoredFile[]> {
    const result: StoredFile[] = [];
    for (const file of rows) {
      if (reason === 'upload') await this.events?.uploaded(tx, file);
      const jobId = process && this.processing ? await this.processing.enqueue(file, tx, reason) : null;
      result.push({ file, jobId });
    }
    return result;
  }

  /** Queues (re)processing of a stored file; answers the job id. */
  async process(caller: Caller, id: string): Promise<StoredFile> {
    const file = await this.get(caller, id);
    if (file.status === 'pending') throw ERRORS.conflict('The upload of this file has not been completed.');
    if (!this.processing) throw ERRORS.serviceUnavailable('Processing is not available.');
    const [queued] = await this.db.transaction((tx) => this.queueProcessing(tx, [file], true, 'request'));
    return queued!;
  }

  private async storePart(ownerId: string, part: IncomingFile, signal: AbortSignal | undefined): Promise<FileRow> {
    const filename = sanitizeFilename(part.filename);
    let type: SupportedContentType;
    try {
      type = this.acceptedType(part.declaredType, filename);
    } catch (error) {
      part.stream.resume();
      throw error;
    }
    const id = randomUUID();
    const storageKey = `${filePrefix(ownerId, id)}original`;
    const inspector = new ContentInspector(type, filename);
    const storing = this.blobs
      .put(storageKey, inspector, { contentType: type.mime, maxBytes: this.limits.maxUploadBytes, ...(signal ? { signal } : {}) })
      .catch((error: unknown) => {
        // Whatever stopped the store must also stop the bytes flowing into it.
        inspector.destroy();
        throw error;
      });
    const [put, piped] = await Promise.allSettled([storing, pipeline(part.stream, inspector)]);
    if (put.status === 'rejected' || piped.status === 'rejected') {
      await this.blobs.delete(storageKey).catch(() => undefined);
      // The inspector's verdict (415) explains more than the store's view of a stream cut short.
      const reason = piped.status === 'rejected' && isAppError(piped.reason) ? piped.reason : put.status === 'rejected' ? put.reason : (piped as PromiseRejectedResult).reason;
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
      metadata: null,
      createdAt: now,
      updatedAt: now,
    };
  }

  private describeUploadError(error: unknown, filename: string): unknown {
    if (isAppError(error) && error.code === 'file_too_large') return ERRORS.fileTooLarge(this.limits.maxUploadBytes, filename);
    return error;
  }

  /** The supported, allowed type of a part; `application/octet-stream` is resolved by extension. */
  acceptedType(declared: string, filename: string): SupportedContentType {
    const essence = declared.split(';', 1)[0]?.trim().toLowerCase() ?? '';
    const type = essence === 'application/octet-stream' || essence === '' ? contentTypeForFileName(filename) : supportedContentType(declared);
    if (!type || !this.limits.allowedContentTypes.includes(type.mime)) {
      throw ERRORS.unsupportedMediaType(
        `${filename}: ${essence || 'no content type'} is not accepted; allowed: ${this.limits.allowedContentTypes.join(', ')}.`,
      );
    }
    return type;
  }

  async get(caller: Caller, id: string): Promise<FileRow> {
    const [row] = await this.db.select().from(files).where(this.visibleTo(caller, id)).limit(1);
    if (!row) throw ERRORS.notFound('No such file.');
    return row;
  }

  async list(caller: Caller, query: ListFilesQuery): Promise<{ items: FileRow[]; total: number }> {
    const ownerId = caller.role === 'admin' && query.ownerId ? query.ownerId : caller.id;
    const conditions: SQL[] = [eq(files.ownerId, ownerId)];
    if (query.status) conditions.push(eq(files.status, query.status));
    if (query.contentType) conditions.push(eq(files.contentType, supportedContentType(query.contentType)?.mime ?? query.contentType));
    if (query.filename) conditions.push(ilike(files.filename, `%${escapeLike(query.filename)}%`));
    const where = and(...conditions);
    const column = query.sort === 'filename' ? files.filename : files.createdAt;
    const direction = query.order === 'asc' ? asc : desc;
    const [items, [{ total } = { total: 0 }]] = await Promise.all([
      this.db
        .select()
        .from(files)
        .where(where)
        .orderBy(direction(column), direction(files.id))
        .limit(query.limit)
        .offset(query.offset),
      this.db.select({ total: count() }).from(files).where(where),
    ]);
    return { items, total };
  }

  async download(caller: Caller, id: string, range: ByteRange | undefined): Promise<{ file: FileRow; content: BlobDownload }> {
    const file = await this.get(caller, id);
    if (file.status === 'pending') throw ERRORS.conflict('The upload of this file has not been completed.');
    const content = await this.blobs.get(file.storageKey, range ? { range } : {});
    return { file, content };
  }

  async thumbnail(caller: Caller, id: string): Promise<BlobDownload> {
    const file = await this.get(caller, id);
    if (!file.metadata?.thumbnail) throw ERRORS.notFound('This file has no thumbnail (only processed images have one).');
    return this.blobs.get(thumbnailKey(file));
  }

  async createLink(caller: Caller, id: string, expiresInSeconds: number): Promise<SignedUrl> {
    if (expiresInSeconds > this.limits.maxLinkSeconds) {
      throw ERRORS.validation([{ path: 'body.expires_in', message: `must be at most ${this.limits.maxLinkSeconds} seconds` }]);
    }
    const file = await this.get(caller, id);
    if (file.status === 'pending') throw ERRORS.conflict('The upload of this file has not been completed.');
    return this.blobs.createReadUrl(file.storageKey, {
      expiresInSeconds,
      contentDisposition: attachmentDisposition(file.filename),
    });
  }

  /**
   * Starts a direct-to-storage upload: a pending row (visible to its owner with status
   * `pending`) and a signed write URL. The file counts only after `completeDirectUpload`.
   */
  async startDirectUpload(
    owner: Caller,
    input: { filename: string; contentType: string; sizeBytes: number; sha256?: string },
  ): Promise<{ file: FileRow; upload: SignedWriteUrl }> {
    const filename = sanitizeFilename(input.filename);
    const type = this.acceptedType(input.contentType, filename);
    if (input.sizeBytes > this.limits.maxUploadBytes) throw ERRORS.fileTooLarge(this.limits.maxUploadBytes, filename);
    const id = randomUUID();
    const storageKey = `${filePrefix(owner.id, id)}original`;
    const upload = await this.blobs.createWriteUrl(storageKey, {
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
   * with a new URL; a file passes from `pending` to `uploaded` once.
   */
  async completeDirectUpload(caller: Caller, id: string, options: { process: boolean }): Promise<StoredFile> {
    const file = await this.get(caller, id);
    if (file.status !== 'pending') throw ERRORS.conflict('This upload is already complete.');
    const info = await this.blobs.head(file.storageKey);
    if (!info) throw ERRORS.conflict('Nothing has been uploaded to the upload URL yet.');
    try {
      if (info.sizeBytes !== file.sizeBytes) {
        throw ERRORS.validation([
          { path: 'size_bytes', message: `the upload holds ${info.sizeBytes} bytes but ${file.sizeBytes} were announced` },
        ]);
      }
      const type = this.acceptedType(file.contentType, file.filename);
      const digest = await this.hashAndInspect(file.storageKey, type, file.filename);
      if (file.expectedSha256 && digest !== file.expectedSha256) {
        throw ERRORS.validation([{ path: 'sha256', message: 'the uploaded bytes do not match the announced SHA-256' }]);
      }
      const completed = await this.db.transaction(async (tx) => {
        const [row] = await tx
          .update(files)
          .set({ status: 'uploaded', sha256: digest, uploadExpiresAt: null, updatedAt: new Date() })
          .where(and(eq(files.id, file.id), eq(files.status, 'pending')))
          .returning();
        if (!row) throw ERRORS.conflict('This upload is already complete.');
        return this.queueProcessing(tx, [row], options.process, 'upload');
      });
      this.announce(completed.map((stored) => stored.file));
      return completed[0]!;
    } catch (error) {
      if (isAppError(error) && error.status < 500 && error.code !== 'conflict') {
        await this.blobs.delete(file.storageKey);
      }
      throw error;
    }
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

  /**
   * Removes the row first (with everything that references it), then the blobs under the file's
   * prefix: a crash in between leaves blobs no one can see, which the orphan sweep removes.
   */
  async delete(caller: Caller, id: string): Promise<void> {
    const file = await this.get(caller, id);
    await this.db.delete(files).where(eq(files.id, file.id));
    await this.deleteBlobs(file.ownerId, file.id);
  }

  private async deleteBlobs(ownerId: string, fileId: string): Promise<void> {
    for await (const blob of this.blobs.list(filePrefix(ownerId, fileId))) await this.blobs.delete(blob.key);
  }

  /**
   * Removes what a crash or an abandoned upload left behind: pending direct uploads past their
   * expiry, and blobs older than `graceMs` with no row (a row is written after its blob, so a
   * young blob may still be on its way to having one).
   */
  async sweep(now = new Date(), graceMs = 60 * 60_000): Promise<{ expiredUploads: number; orphanBlobs: number }> {
    const expired = await this.db
      .delete(files)
      .where(and(eq(files.status, 'pending'), lt(files.uploadExpiresAt, now)))
      .returning({ id: files.id, ownerId: files.ownerId });
    for (const file of expired) await this.deleteBlobs(file.ownerId, file.id);

    let orphanBlobs = 0;
    const known = new Map<string, boolean>();
    for await (const blob of this.blobs.list('files/')) {
      if (now.getTime() - blob.lastModified.getTime() < graceMs) continue;
      const fileId = blob.key.split('/')[2];
      if (!fileId) continue;
      let exists = known.get(fileId);
      if (exists === undefined) {
        exists = isUuid(fileId) && (await this.db.select({ id: files.id }).from(files).where(eq(files.id, fileId)).limit(1)).length > 0;
        known.set(fileId, exists);
      }
      if (!exists) {
        await this.blobs.delete(blob.key);
        orphanBlobs += 1;
      }
    }
    return { expiredUploads: expired.length, orphanBlobs };
  }

  private visibleTo(caller: Caller, id: string): SQL | undefined {
    if (!isUuid(id)) return eq(files.id, '00000000-0000-0000-0000-000000000000');
    return caller.role === 'admin' ? eq(files.id, id) : and(eq(files.id, id), eq(files.ownerId, caller.id));
  }

}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (character) => `\\${character}`);
}
