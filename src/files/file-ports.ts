import type { Readable } from 'node:stream';
import type { Db } from '../db/database.ts';
import type { Caller as HttpCaller } from '../http/caller.ts';
import type { RateLimiter } from '../rate-limit/rate-limiter.ts';
import type { FileRow, FileStatus } from './file.schema.ts';

/** What the files feature is given and hands over: its limits, ports and shapes. */
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

/** Files decide by who is asking (the one caller type, src/http/caller.ts), not by how they signed in. */
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
  /** The file's processing job that is queued or running, if any (read inside `tx`). */
  active(fileId: string, tx: Db): Promise<string | null>;
}

/** Per-user budget of processing requests (`POST /files/{id}/process`). */
export interface ProcessRateLimit {
  limiter: RateLimiter;
  limit: number;
  windowSeconds: number;
}

/** Told of files once recorded as uploaded, inside the transaction that records them. */
export interface FileEvents {
  uploaded(tx: Db, file: FileRow): Promise<void>;
}
/** Told when a file changes status here (after the change commits), for realtime subscribers. */
export type FileStatusListener = (file: Pick<FileRow, 'id' | 'ownerId' | 'status' | 'sizeBytes'>) => void;

export interface StoredFile {
  file: FileRow;
  /** The processing job queued for it, if any. */
  jobId: string | null;
  /** Set when the upload's bytes equal a file the owner already has: `file` is that file. */
  duplicateOf?: string;
}

/** Bytes and files, as an account's quota counts them. */
export interface QuotaAmount {
  bytes: number;
  files: number;
}

/**
 * The account quotas as files use them (src/quotas satisfies it): `reserve` is atomic and throws
 * `quota_exceeded` taking nothing; `charge` records bytes already stored, unchecked.
 */
export interface QuotaLedger {
  status(ownerId: string): Promise<{ usage: QuotaAmount; limits: { bytes: number | null; files: number | null } }>;
  reserve(ownerId: string, amount: QuotaAmount): Promise<void>;
  release(ownerId: string, amount: QuotaAmount): Promise<void>;
  charge(ownerId: string, amount: QuotaAmount): Promise<void>;
}

/** No limits and nothing counted: for a FileService built without quotas. */
export const NO_QUOTAS: QuotaLedger = {
  status: async () => ({ usage: { bytes: 0, files: 0 }, limits: { bytes: null, files: null } }),
  reserve: async () => undefined,
  release: async () => undefined,
  charge: async () => undefined,
};

/** A run of records: a file's rows as one processing job wrote them. */
export interface RecordRun {
  fileId: string;
  /** The processing job's id. */
  run: string;
}

/**
 * Where the processing job stores a file's rows and drops superseded runs: the records
 * feature's writer (records/record-writer.ts), handed in by the composition root, so that
 * files never reaches into the records table.
 */
export interface RecordSink {
  write(
    target: RecordRun,
    batches: AsyncIterable<readonly { row: number; data: Record<string, unknown> }[]>,
    onStored?: (stored: number) => Promise<void>,
  ): Promise<{ stored: number; refused: { row: number; message: string }[] }>;
  discard(target: RecordRun): Promise<void>;
}
