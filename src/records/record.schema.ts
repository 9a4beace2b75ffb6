import { integer, jsonb, pgTable, primaryKey, uuid } from 'drizzle-orm/pg-core';
import { files } from '../files/file.schema.ts';

/**
 * One parsed row of a tabular file. The key (file, row) makes a re-run or a retry idempotent:
 * the same bytes yield the same row numbers, and inserts skip rows already stored.
 */
export const records = pgTable(
  'records',
  {
    fileId: uuid('file_id')
      .notNull()
      .references(() => files.id, { onDelete: 'cascade' }),
    row: integer('row').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
  },
  (table) => [primaryKey({ columns: [table.fileId, table.row] })],
);

export type RecordRow = typeof records.$inferSelect;
