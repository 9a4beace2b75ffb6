import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { ownerIdColumn } from '../users/user.schema.ts';

export const TUS_UPLOAD_STATUSES = ['receiving', 'completing', 'completed'] as const;
export type TusUploadStatus = (typeof TUS_UPLOAD_STATUSES)[number];

/**
 * A resumable upload's state, kept in the database so that any API process can take the next
 * chunk. Its bytes are parts in blob storage, one per PATCH, keyed by their starting offset.
 */
export const tusUploads = pgTable(
  'tus_uploads',
  {
    id: uuid('id').primaryKey(),
    ownerId: ownerIdColumn(),
    filename: text('filename').notNull(),
    contentType: text('content_type').notNull(),
    length: bigint('length', { mode: 'number' }).notNull(),
    offset: bigint('offset', { mode: 'number' }).notNull().default(0),
    status: text('status').$type<TusUploadStatus>().notNull().default('receiving'),
    process: boolean('process').notNull().default(true),
    allowDuplicate: boolean('allow_duplicate').notNull().default(false),
    /** Set once completed: the file the upload became (or the one it duplicates). */
    fileId: uuid('file_id'),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('tus_uploads_expires_idx').on(table.expiresAt),
    check('tus_uploads_status_check', sql`${table.status} in ('receiving', 'completing', 'completed')`),
    check('tus_uploads_offset_check', sql`${table.offset} >= 0 and ${table.offset} <= ${table.length}`),
  ],
);

export type TusUploadRow = typeof tusUploads.$inferSelect;
