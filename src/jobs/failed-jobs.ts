import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import type { DiscardOutcome, JobEventSink, JobLogger, RetryOutcome } from './job-queue.ts';
import { jobs, type JobStatus } from './jobs.schema.ts';

/** The final statuses an administrator may retry or discard: the job's own failures. */
export const FAILED_STATUSES: readonly JobStatus[] = ['failed', 'timed_out'];

/**
 * Puts a failed job back in the queue as if it had just been enqueued: attempts start over,
 * the last error, result, progress and timings are cleared, and the retention clock stops.
 * The status condition makes it atomic: of two administrators retrying at once, one wins and
 * the other is told the job is no longer failed. `dispatched` is false for BullMQ, whose
 * adapter hands the row to Redis itself.
 */
export async function requeueFailedJob(
  db: Db,
  id: string,
  dispatched: boolean,
  log: JobLogger,
  onEvent?: JobEventSink,
): Promise<RetryOutcome> {
  const [row] = await db
    .update(jobs)
    .set({
      status: 'queued',
      attempts: 0,
      error: null,
      result: null,
      progress: { current: 0, total: null, message: null },
      runAt: sql`now()`,
      leaseToken: null,
      lockedBy: null,
      lockedUntil: null,
      heartbeatAt: null,
      cancelRequestedAt: null,
      startedAt: null,
      finishedAt: null,
      expiresAt: null,
      dispatchedAt: dispatched ? sql`now()` : null,
    })
    .where(and(eq(jobs.id, id), inArray(jobs.status, [...FAILED_STATUSES])))
    .returning();
  if (row) {
    try {
      onEvent?.({
        kind: 'status',
        job: { id: row.id, type: row.type, ownerId: row.ownerId, fileId: row.fileId },
        status: 'queued',
        error: null,
      });
    } catch (error) {
      // Fan-out is best effort; the row is the record.
      log.warn({ err: error, job_id: row.id }, 'job event listener failed; the job row stays the record');
    }
    return { outcome: 'retried', job: row };
  }
  return whyNot(db, id);
}

/** Deletes a failed job's row; its file, if any, keeps its `failed` status. */
export async function deleteFailedJob(db: Db, id: string): Promise<DiscardOutcome> {
  const deleted = await db
    .delete(jobs)
    .where(and(eq(jobs.id, id), inArray(jobs.status, [...FAILED_STATUSES])))
    .returning({ id: jobs.id });
  if (deleted.length > 0) return { outcome: 'discarded' };
  return whyNot(db, id);
}

async function whyNot(db: Db, id: string): Promise<{ outcome: 'not_failed'; status: JobStatus } | { outcome: 'not_found' }> {
  const [existing] = await db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, id));
  return existing ? { outcome: 'not_failed', status: existing.status } : { outcome: 'not_found' };
}
