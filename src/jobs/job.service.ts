import { and, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { selectPage, type Page } from '../db/page.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { JobQueue } from './job-queue.ts';
import { JOB_STATUSES, jobs, type JobRow, type JobStatus } from './jobs.schema.ts';

export type JobPage = Page<JobRow>;

export interface QueueCounts {
  name: string;
  counts: Record<JobStatus, number>;
}

/** What the API may do with jobs: read one's own, list them, cancel them; admins see counts. */
export class JobService {
  constructor(
    private readonly db: Db,
    /** Cancellation writes go through the queue, which also stops a running attempt. */
    private readonly queue: Pick<JobQueue, 'cancel'>,
    /** Queues always listed in the counts, even when empty. */
    private readonly knownQueues: readonly string[] = [],
  ) {}

  /** Someone else's job, or an expired one, is not found: never reveal that it exists. */
  async getJob(id: string, ownerId: string): Promise<JobRow> {
    const [row] = await this.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.id, id), eq(jobs.ownerId, ownerId)));
    if (!row) throw ERRORS.jobNotFound();
    return row;
  }

  async listJobs(
    ownerId: string,
    filter: { status?: JobStatus; file_id?: string; limit: number; offset: number },
  ): Promise<JobPage> {
    const conditions: SQL[] = [eq(jobs.ownerId, ownerId)];
    if (filter.status) conditions.push(eq(jobs.status, filter.status));
    if (filter.file_id) conditions.push(eq(jobs.fileId, filter.file_id));
    return selectPage(this.db, jobs, and(...conditions), [desc(jobs.createdAt), desc(jobs.id)], filter);
  }

  /**
   * A queued job is cancelled at once; a running one is asked to stop (its task's signal
   * fires) and the answer says `cancelling`. A finished job is a conflict.
   */
  async cancelJob(id: string, ownerId: string): Promise<{ job: JobRow; outcome: 'cancelled' | 'cancelling' }> {
    const before = await this.getJob(id, ownerId);
    const outcome = await this.queue.cancel(before.id);
    const [job = before] = await this.db.select().from(jobs).where(eq(jobs.id, id));
    switch (outcome) {
      case 'cancelled':
      case 'cancelling':
        return { job, outcome };
      case 'already_finished':
        throw ERRORS.jobAlreadyFinished(job.status);
      default:
        throw ERRORS.jobNotFound();
    }
  }

  async queueCounts(): Promise<QueueCounts[]> {
    const rows = await this.db
      .select({ queue: jobs.queue, status: jobs.status, count: sql<number>`count(*)::int` })
      .from(jobs)
      .groupBy(jobs.queue, jobs.status);
    const byQueue = new Map<string, Record<JobStatus, number>>();
    const empty = () => Object.fromEntries(JOB_STATUSES.map((status) => [status, 0])) as Record<JobStatus, number>;
    for (const name of this.knownQueues) byQueue.set(name, empty());
    for (const row of rows) {
      const counts = byQueue.get(row.queue) ?? empty();
      counts[row.status] = row.count;
      byQueue.set(row.queue, counts);
    }
    return [...byQueue.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, counts]) => ({ name, counts }));
  }

  /**
   * When each of these jobs runs next (queued ones only): other features show their schedule
   * (a webhook delivery's next attempt) through this, never by reading the jobs table.
   */
  async nextRuns(ids: readonly string[]): Promise<Map<string, Date>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db
      .select({ id: jobs.id, runAt: jobs.runAt })
      .from(jobs)
      .where(and(inArray(jobs.id, [...ids]), eq(jobs.status, 'queued')));
    return new Map(rows.map((row) => [row.id, row.runAt]));
  }
}
