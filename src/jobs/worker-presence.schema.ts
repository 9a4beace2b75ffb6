import { index, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * One row per running worker process, refreshed at each job heartbeat whether or not it runs
 * anything: idle workers hold no job rows, and "is anyone serving this queue?" must still be
 * answerable on both queue adapters. A row not refreshed within a lease is a dead worker's.
 */
export const jobWorkers = pgTable(
  'job_workers',
  {
    id: text('id').primaryKey(),
    queues: text('queues').array().notNull(),
    hostname: text('hostname').notNull(),
    pid: integer('pid').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    seenAt: timestamp('seen_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('job_workers_seen_idx').on(table.seenAt)],
);
