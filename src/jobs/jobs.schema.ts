import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { JobError } from './job-error.ts';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINISHED_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];

export interface JobProgress {
  current: number;
  total: number | null;
  message: string | null;
}

/**
 * One row per job: the source of truth the API reads, whichever queue adapter runs the work.
 * The embedded adapter also uses it as the queue itself (claims with `FOR UPDATE SKIP LOCKED`,
 * leases renewed by heartbeats); with BullMQ, Redis dispatches and workers keep this row current.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    queue: text('queue').notNull(),
    type: text('type').notNull(),
    /** The catalog version of the payload schema the job was enqueued with. */
    version: integer('version').notNull().default(1),
    // No foreign keys: a job is history until its retention ends, even after its file is deleted.
    ownerId: uuid('owner_id'),
    fileId: uuid('file_id'),
    payload: jsonb('payload').notNull().$type<unknown>(),
    status: text('status').$type<JobStatus>().notNull().default('queued'),
    progress: jsonb('progress').$type<JobProgress>().notNull().default({ current: 0, total: null, message: null }),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull(),
    result: jsonb('result').$type<unknown>(),
    /** Written for the owner: a code from JOB_ERROR_CODES and a bounded message (see job-error.ts). */
    error: jsonb('error').$type<JobError>(),
    idempotencyKey: text('idempotency_key'),
    /** When the job may next be claimed: enqueue time, or the end of a retry's backoff. */
    runAt: timestamp('run_at', { withTimezone: true }).notNull().defaultNow(),
    /** Fencing token of the current attempt: writes from an attempt whose lease was lost are dropped. */
    leaseToken: uuid('lease_token'),
    lockedBy: text('locked_by'),
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }),
    cancelRequestedAt: timestamp('cancel_requested_at', { withTimezone: true }),
    /** BullMQ mode: when the row was handed to Redis (rows enqueued inside a transaction wait for the relay). */
    dispatchedAt: timestamp('dispatched_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    /** Set when the job finishes; the retention sweep deletes the row after it. */
    expiresAt: timestamp('expires_at', { withTimezone: true }),
  },
  (table) => [
    // Same key → same job, per type and owner (system jobs share the nil owner).
    uniqueIndex('jobs_idempotency_key_unique')
      .on(table.type, sql`coalesce(${table.ownerId}, '00000000-0000-0000-0000-000000000000'::uuid)`, table.idempotencyKey)
      .where(sql`${table.idempotencyKey} is not null`),
    // Matches the claim's ORDER BY exactly, so a claim reads the first due rows instead of sorting the backlog.
    index('jobs_claim_idx')
      .on(table.queue, table.runAt, table.createdAt)
      .where(sql`${table.status} = 'queued'`),
    // BullMQ relay: rows still waiting to be handed to Redis (normally none).
    index('jobs_undispatched_idx')
      .on(table.createdAt)
      .where(sql`${table.status} = 'queued' and ${table.dispatchedAt} is null`),
    index('jobs_lease_idx')
      .on(table.lockedUntil)
      .where(sql`${table.status} = 'running'`),
    index('jobs_owner_idx').on(table.ownerId, table.createdAt),
    index('jobs_file_idx').on(table.fileId),
    index('jobs_expires_idx').on(table.expiresAt),
  ],
);

export type JobRow = typeof jobs.$inferSelect;
