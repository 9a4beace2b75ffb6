import { sql } from 'drizzle-orm';
import { bigint, check, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { ownerIdColumn } from '../users/user.schema.ts';

export const FILE_STATUSES = ['pending', 'uploaded', 'processing', 'processed', 'failed'] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

export const files = pgTable(
  'files',
  {
    id: uuid('id').primaryKey(),
    ownerId: ownerIdColumn(),
    /** The client's name, sanitised; display metadata only, never a storage path. */
    filename: text('filename').notNull(),
    contentType: text('content_type').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull(),
    /** Null until the bytes are verified (a direct upload not yet completed). */
    sha256: text('sha256'),
    storageKey: text('storage_key').notNull().unique(),
    status: text('status').$type<FileStatus>().notNull(),
    /** Direct uploads: the hash the client announced, checked on completion. */
    expectedSha256: text('expected_sha256'),
    /** Direct uploads: after this moment an uncompleted upload is swept away. */
    uploadExpiresAt: timestamp('upload_expires_at', { withTimezone: true }),
    /** What processing learned (image size, PDF info, row counts). */
    /** The complete processing run whose records readers are served; null until one succeeds. */
    recordsRun: uuid('records_run'),
    metadata: jsonb('metadata').$type<Record<string, unknown>>(),
    /** How the uploader asked the file to be read (encoding, sheets, import schema); null for the defaults. */
    importOptions: jsonb('import_options').$type<FileImportOptions>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('files_owner_created_idx').on(table.ownerId, table.createdAt),
    index('files_owner_filename_idx').on(table.ownerId, table.filename),
    // Deduplication looks a new upload's hash up among its owner's files.
    index('files_owner_sha256_idx').on(table.ownerId, table.sha256),
    index('files_pending_expiry_idx')
      .on(table.uploadExpiresAt)
      .where(sql`${table.status} = 'pending'`),
    check('files_status_check', sql`${table.status} in ('pending', 'uploaded', 'processing', 'processed', 'failed')`),
    check('files_size_check', sql`${table.sizeBytes} >= 0`),
  ],
);

/** How a file is read when processed; kept with the file so a re-run reads it the same way unless told otherwise. */
export interface FileImportOptions {
  /** CSV: the text encoding instead of the detected one. */
  encoding?: string;
  /** XLSX: the sheets to read, by name; every sheet when absent. */
  sheets?: string[];
  /** An import schema of the file's owner that every row is validated against. */
  schema_id?: string;
}

export type FileRow = typeof files.$inferSelect;

/** The columns a listing of files shows (the file's public fields); the others stay in the table. */
export const FILE_LIST_COLUMNS = {
  id: files.id,
  ownerId: files.ownerId,
  filename: files.filename,
  contentType: files.contentType,
  sizeBytes: files.sizeBytes,
  sha256: files.sha256,
  status: files.status,
  metadata: files.metadata,
  createdAt: files.createdAt,
  updatedAt: files.updatedAt,
};
export type FileListItem = Pick<FileRow, keyof typeof FILE_LIST_COLUMNS>;
