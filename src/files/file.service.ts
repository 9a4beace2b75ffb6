import { and, eq, ne, sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { SupportedContentType } from '../processing/content-types.ts';
import type { BlobDownload, BlobStore, ByteRange, SignedUrl, SignedWriteUrl } from '../storage/blob-store.ts';
import { ContentPolicy } from './content-policy.ts';
import { DirectUploads } from './direct-upload.ts';
import { FileAccess } from './file-access.ts';
import { thumbnailKey } from './file-keys.ts';
import { FileLinks } from './file-links.ts';
import type {
  Caller,
  FileEvents,
  FileLimits,
  FileProcessingQueue,
  FileStatusListener,
  IncomingFile,
  ListFilesQuery,
  ProcessRateLimit,
  QuotaAmount,
  QuotaLedger,
  StoredFile,
} from './file-ports.ts';
import { NO_QUOTAS } from './file-ports.ts';
import { deleteFileBlobs, FileSweeper } from './file-sweep.ts';
import { files, type FileImportOptions, type FileListItem, type FileRow } from './file.schema.ts';
import { UploadReceiver } from './upload-receiver.ts';

export type * from './file-ports.ts';
export { directUploadKey, filePrefix, thumbnailKey } from './file-keys.ts';

/**
 * The files feature as the HTTP layer and other features use it. Each responsibility lives in
 * its own module (upload streaming, content policy, access and listing, links, direct uploads,
 * the sweep); this class holds what ties them together: recording files with their processing
 * job, status announcements, and deletion.
 */
export class FileService {
  private readonly policy: ContentPolicy;
  private readonly access: FileAccess;
  private readonly receiver: UploadReceiver;
  private readonly links: FileLinks;
  private readonly directUploads: DirectUploads;
  private readonly sweeper: FileSweeper;

  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly limits: FileLimits,
    private readonly processing?: FileProcessingQueue,
    private readonly events?: FileEvents,
    private readonly onStatus: FileStatusListener = () => undefined,
    private readonly processRateLimit?: ProcessRateLimit,
    private readonly quotas: QuotaLedger = NO_QUOTAS,
  ) {
    this.policy = new ContentPolicy(limits.allowedContentTypes);
    this.access = new FileAccess(db);
    this.receiver = new UploadReceiver(blobs, this.policy, limits.maxUploadBytes, quotas);
    this.links = new FileLinks(blobs, limits.maxLinkSeconds);
    this.directUploads = new DirectUploads(db, blobs, this.policy, limits, quotas);
    this.sweeper = new FileSweeper(db, blobs, quotas);
  }

  private announce(rows: readonly Pick<FileRow, 'id' | 'ownerId' | 'status' | 'sizeBytes'>[]): void {
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
   *
   * A part whose bytes equal a file the owner already has (same SHA-256, computed on the way)
   * is not kept: its blob is deleted and the answer is the existing file, with `duplicateOf`
   * set, unless `allowDuplicate`. `declaredBytes` (a Content-Length) refuses at once what the
   * byte quota cannot hold; `reserved` is quota the caller took already for the first part.
   */
  async upload(
    owner: Caller,
    parts: AsyncIterable<IncomingFile>,
    options: {
      process: boolean;
      signal?: AbortSignal;
      allowDuplicate?: boolean;
      declaredBytes?: number;
      reserved?: QuotaAmount;
      importOptions?: FileImportOptions;
    },
  ): Promise<StoredFile[]> {
    const stored: FileRow[] = [];
    const results: (StoredFile | FileRow)[] = [];
    let reserved = options.reserved;
    let recorded: StoredFile[];
    let committedDuplicates = new Map<string, FileRow>();
    try {
      if (options.declaredBytes !== undefined) await this.checkDeclaredSize(owner.id, options.declaredBytes);
      for await (const part of parts) {
        if (part.fieldName !== 'files') {
          part.stream.resume();
          throw ERRORS.badRequest(`Unexpected file field "${part.fieldName}"; send files in parts named "files".`);
        }
        if (results.length >= this.limits.maxFilesPerRequest) {
          part.stream.resume();
          throw ERRORS.tooManyFiles(this.limits.maxFilesPerRequest);
        }
        // The receiver gives a reservation back itself if the part fails.
        const partReserved = reserved;
        reserved = undefined;
        const received = await this.receiver.storePart(owner.id, part, options.signal, partReserved);
        const row = options.importOptions ? { ...received, importOptions: options.importOptions } : received;
        const existing = options.allowDuplicate ? undefined : await this.duplicateOf(row, stored);
        if (existing) {
          await this.blobs.delete(row.storageKey);
          await this.quotas.release(owner.id, { bytes: row.sizeBytes, files: 1 });
          results.push({ file: existing, jobId: null, duplicateOf: existing.id });
          continue;
        }
        stored.push(row);
        results.push(row);
      }
      if (results.length === 0) throw ERRORS.badRequest('The request holds no file; send one or more parts named "files".');
      recorded =
        stored.length === 0
          ? []
          : await this.db.transaction(async (tx) => {
              if (!options.allowDuplicate) committedDuplicates = await this.duplicatesCommittedMeanwhile(tx, stored);
              const fresh = stored.filter((row) => !committedDuplicates.has(row.id));
              if (fresh.length === 0) return [];
              await tx.insert(files).values(fresh);
              return this.queueProcessing(tx, fresh, options.process, 'upload');
            });
    } catch (error) {
      if (reserved) await this.quotas.release(owner.id, reserved);
      await Promise.allSettled(stored.map((row) => this.blobs.delete(row.storageKey)));
      await Promise.allSettled(stored.map((row) => this.quotas.release(owner.id, { bytes: row.sizeBytes, files: 1 })));
      throw error;
    }
    for (const row of stored.filter((candidate) => committedDuplicates.has(candidate.id))) {
      await this.blobs.delete(row.storageKey);
      await this.quotas.release(owner.id, { bytes: row.sizeBytes, files: 1 });
    }
    this.announce(stored.filter((row) => !committedDuplicates.has(row.id)));
    const byId = new Map(recorded.map((entry) => [entry.file.id, entry]));
    return results.map((entry) => {
      if (!('ownerId' in entry)) return entry;
      const existing = committedDuplicates.get(entry.id);
      return existing ? { file: existing, jobId: null, duplicateOf: existing.id } : byId.get(entry.id)!;
    });
  }

  /**
   * Uploads of the same bytes by one account at the same moment each find no earlier file while
   * they stream; without more, both would be kept. Before recording, each hash is locked for the
   * transaction (an advisory lock per owner and SHA-256, taken in hash order so two batches never
   * wait on each other) and looked up again: the first upload to commit keeps its file, the
   * others answer it as their duplicate. Answers, by row id, the rows that became duplicates.
   */
  private async duplicatesCommittedMeanwhile(tx: Db, rows: readonly FileRow[]): Promise<Map<string, FileRow>> {
    const found = new Map<string, FileRow>();
    for (const row of [...rows].sort((a, b) => a.sha256!.localeCompare(b.sha256!))) {
      await tx.execute(
        sql`select pg_advisory_xact_lock(hashtextextended(${`intake:file-sha256:${row.ownerId}:${row.sha256}`}, 0))`,
      );
      const existing = await this.duplicateOf(row, [], tx);
      if (existing) found.set(row.id, existing);
    }
    return found;
  }

  /** The owner's file with the same bytes, among those stored or about to be; never another account's. */
  private async duplicateOf(row: FileRow, batch: readonly FileRow[], db: Db = this.db): Promise<FileRow | undefined> {
    const inBatch = batch.find((other) => other.sha256 === row.sha256);
    if (inBatch) return inBatch;
    const [existing] = await db
      .select()
      .from(files)
      .where(
        and(eq(files.ownerId, row.ownerId), eq(files.sha256, row.sha256!), ne(files.status, 'pending'), ne(files.id, row.id)),
      )
      .orderBy(files.createdAt)
      .limit(1);
    return existing;
  }

  /** Refuses before any byte is stored what the byte quota certainly cannot hold. */
  private async checkDeclaredSize(ownerId: string, declaredBytes: number): Promise<void> {
    const { usage, limits } = await this.quotas.status(ownerId);
    // Multipart framing (boundaries, part headers) is part of a Content-Length; allow for it.
    const framing = 16 * 1024;
    if (limits.bytes !== null && usage.bytes + declaredBytes - framing > limits.bytes) {
      throw ERRORS.quotaExceeded({ limit: 'bytes', limitValue: limits.bytes, usage });
    }
    if (limits.files !== null && usage.files >= limits.files) {
      throw ERRORS.quotaExceeded({ limit: 'files', limitValue: limits.files, usage });
    }
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
  /**
   * Queues (re)processing of a stored file and answers the job id. While a run of the file is
   * queued or running, asking again answers that run: the file's row is locked while we look,
   * so requests at the same moment queue one job between them.
   */
  async process(caller: Caller, id: string, importOptions?: FileImportOptions): Promise<StoredFile> {
    const file = await this.get(caller, id);
    if (file.status === 'pending') throw ERRORS.conflict('The upload of this file has not been completed.');
    const processing = this.processing;
    if (!processing) throw ERRORS.serviceUnavailable('Processing is not available.');
    if (this.processRateLimit) {
      const { limiter, limit, windowSeconds } = this.processRateLimit;
      const decision = await limiter.consume(`files.process:user:${caller.id}`, limit, windowSeconds);
      if (!decision.allowed) throw ERRORS.rateLimited(decision.retryAfterSeconds);
    }
    return this.db.transaction(async (tx) => {
      const [locked] = await tx.select().from(files).where(eq(files.id, file.id)).for('update');
      if (!locked) throw ERRORS.notFound('No such file.');
      const running = await processing.active(locked.id, tx);
      if (running) return { file: locked, jobId: running };
      if (importOptions) {
        // A re-run reads the file as asked this time; options left out keep their earlier value.
        const merged = { ...(locked.importOptions ?? {}), ...importOptions };
        await tx.update(files).set({ importOptions: merged }).where(eq(files.id, locked.id));
        locked.importOptions = merged;
      }
      const [queued] = await this.queueProcessing(tx, [locked], true, 'request');
      return queued!;
    });
  }
  /** The supported, allowed type of a part; `application/octet-stream` is resolved by extension. */
  acceptedType(declared: string, filename: string): SupportedContentType {
    return this.policy.acceptedType(declared, filename);
  }

  get(caller: Caller, id: string): Promise<FileRow> {
    return this.access.get(caller, id);
  }

  list(caller: Caller, query: ListFilesQuery): Promise<{ items: FileListItem[]; total: number }> {
    return this.access.list(caller, query);
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
    this.links.checkExpiry(expiresInSeconds);
    return this.links.create(await this.get(caller, id), expiresInSeconds);
  }

  /**
   * Starts a direct-to-storage upload: a pending row (visible to its owner with status
   * `pending`) and a signed write URL. The file counts only after `completeDirectUpload`.
   */
  startDirectUpload(
    owner: Caller,
    input: { filename: string; contentType: string; sizeBytes: number; sha256?: string },
  ): Promise<{ file: FileRow; upload: SignedWriteUrl }> {
    return this.directUploads.start(owner, input);
  }

  /** Checks a direct upload (see DirectUploads.complete) and records it as uploaded. */
  async completeDirectUpload(
    caller: Caller,
    id: string,
    options: { process: boolean; allowDuplicate?: boolean },
  ): Promise<StoredFile> {
    const file = await this.get(caller, id);
    const completed = await this.directUploads.complete(
      file,
      async (tx, row) => {
        const [stored] = await this.queueProcessing(tx, [row], options.process, 'upload');
        return stored!;
      },
      options.allowDuplicate ? undefined : (row) => this.duplicateOf(row, []),
    );
    if (!completed.duplicateOf) this.announce([completed.file]);
    return completed;
  }

  /** Quota usage and limits of an account. */
  quota(ownerId: string): ReturnType<QuotaLedger['status']> {
    return this.quotas.status(ownerId);
  }

  /**
   * Removes the row first (with everything that references it), then the blobs under the file's
   * prefix: a crash in between leaves blobs no one can see, which the orphan sweep removes.
   */
  async delete(caller: Caller, id: string): Promise<void> {
    const file = await this.get(caller, id);
    const [deleted] = await this.db.delete(files).where(eq(files.id, file.id)).returning({ id: files.id });
    const derivedBytes = await deleteFileBlobs(this.blobs, file.ownerId, file.id);
    // Only the request that removed the row gives its quota back.
    if (deleted) await this.quotas.release(file.ownerId, { bytes: file.sizeBytes + derivedBytes, files: 1 });
  }

  /** See FileSweeper.sweep. */
  sweep(now = new Date(), graceMs = 60 * 60_000): Promise<{ expiredUploads: number; orphanBlobs: number }> {
    return this.sweeper.sweep(now, graceMs);
  }
}
