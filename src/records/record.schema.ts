import { integer, jsonb, pgTable, primaryKey, uuid } from 'drizzle-orm/pg-core';

/**
 * One parsed row of a tabular file, from one processing run. The key (file, run, row) makes a
 * retry of a run idempotent (the same bytes yield the same row numbers, and inserts skip rows
 * already stored), and keeps a re-run's rows apart from the complete run readers are served.
 */
export const records = pgTable(
  'records',
  {
    /**
     * The file's id. Not a foreign key: the record writer checks and locks the file once per
     * statement (intake_records_file), and deleting a file removes its records by trigger
     * (drizzle/0017_records_file_check.sql says why).
     */
    fileId: uuid('file_id').notNull(),
    /** The processing run (its job id) that wrote the row; readers see only the file's `records_run`. */
    run: uuid('run').notNull(),
    row: integer('row').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
  },
  (table) => [primaryKey({ columns: [table.fileId, table.run, table.row] })],
);

export type RecordRow = typeof records.$inferSelect;
