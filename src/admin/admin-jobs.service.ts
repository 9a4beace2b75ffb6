import { and, desc, eq, gte, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { selectPage, type Page } from '../db/page.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import { JOB_STATUSES, jobs, type JobRow, type JobStatus } from '../jobs/jobs.schema.ts';

export interface AdminJobFilter {
  queue?: string;
  type?: string;
  status?: JobStatus;
  ownerId?: string;
  /** Jobs created at or after this instant. */
  since?: Date;
  limit: number;
  offset: number;
}

export type AdminJobPage = Page<JobRow>;

export interface QueueSummary {
  name: string;
  counts: Record<JobStatus, number>;
  /** Age of the longest-waiting due job, or null when none waits. */
  oldestWaitingSeconds: number | null;
  /** Jobs that finished within the throughput window, by outcome. */
  finishedRecently: { succeeded: number; failed: number };
}

export interface WorkerActivity {
  id: string;
  running: number;
  lastHeartbeatAt: Date | null;
}

export interface JobsSummary {
  queues: QueueSummary[];
  throughputWindowSeconds: number;
  /** Workers holding at least one running job (idle workers leave no trace in the jobs table). */
  workers: WorkerActivity[];
}

/** How far back "finished recently" looks: long enough to be steady, short enough to be live. */
export const THROUGHPUT_WINDOW_SECONDS = 300;

/**
 * The queue dashboard's rules. Reads go to the jobs table, the record both queue adapters keep
 * current; retry and discard go through the queue port, because BullMQ must also clear Redis.
 */
export class AdminJobsService {
  constructor(
    private readonly db: Db,
    private readonly queue: Pick<JobQueue, 'retry' | 'discard'>,
    /** Queues always listed in the summary, even when empty. */
    private readonly knownQueues: readonly string[],
  ) {}

  async list(filter: AdminJobFilter): Promise<AdminJobPage> {
    const conditions: SQL[] = [];
    if (filter.queue !== undefined) conditions.push(eq(jobs.queue, filter.queue));
    if (filter.type !== undefined) conditions.push(eq(jobs.type, filter.type));
    if (filter.status !== undefined) conditions.push(eq(jobs.status, filter.status));
    if (filter.ownerId !== undefined) conditions.push(eq(jobs.ownerId, filter.ownerId));
    if (filter.since !== undefined) conditions.push(gte(jobs.createdAt, filter.since));
    return selectPage(this.db, jobs, and(...conditions), [desc(jobs.createdAt), desc(jobs.id)], filter);
  }

  async get(id: string): Promise<JobRow> {
    const [row] = await this.db.select().from(jobs).where(eq(jobs.id, id));
    if (!row) throw ERRORS.jobNotFound();
    return row;
  }

  /** One aggregate pass over the table (finished rows are bounded by JOBS_RETENTION_SECONDS). */
  async summary(): Promise<JobsSummary> {
    const window = sql`now() - make_interval(secs => ${THROUGHPUT_WINDOW_SECONDS})`;
    const [perStatus, perQueue, workers] = await Promise.all([
      this.db
        .select({ queue: jobs.queue, status: jobs.status, count: sql<number>`count(*)::int` })
        .from(jobs)
        .groupBy(jobs.queue, jobs.status),
      this.db
        .select({
          queue: jobs.queue,
          oldestWaitingSeconds: sql<
            number | null
          >`extract(epoch from now() - min(${jobs.runAt}) filter (where ${jobs.status} = 'queued' and ${jobs.runAt} <= now()))::double precision`,
          succeeded: sql<number>`(count(*) filter (where ${jobs.status} = 'succeeded' and ${jobs.finishedAt} >= ${window}))::int`,
          failed: sql<number>`(count(*) filter (where ${jobs.status} in ('failed', 'timed_out') and ${jobs.finishedAt} >= ${window}))::int`,
        })
        .from(jobs)
        .groupBy(jobs.queue),
      this.db
        .select({
          id: jobs.lockedBy,
          running: sql<number>`count(*)::int`,
          lastHeartbeatAt: sql<string | null>`max(${jobs.heartbeatAt})`,
        })
        .from(jobs)
        .where(and(eq(jobs.status, 'running'), sql`${jobs.lockedBy} is not null`))
        .groupBy(jobs.lockedBy),
    ]);
    const empty = (name: string): QueueSummary => ({
      name,
      counts: Object.fromEntries(JOB_STATUSES.map((status) => [status, 0])) as Record<JobStatus, number>,
      oldestWaitingSeconds: null,
      finishedRecently: { succeeded: 0, failed: 0 },
    });
    const byQueue = new Map<string, QueueSummary>(this.knownQueues.map((name) => [name, empty(name)]));
    const entry = (name: string) => {
      let found = byQueue.get(name);
      if (!found) {
        found = empty(name);
        byQueue.set(name, found);
      }
      return found;
    };
    for (const row of perStatus) entry(row.queue).counts[row.status] = row.count;
    for (const row of perQueue) {
      const summary = entry(row.queue);
      summary.oldestWaitingSeconds =
        row.oldestWaitingSeconds === null ? null : Math.max(0, Math.round(Number(row.oldestWaitingSeconds)));
      summary.finishedRecently = { succeeded: row.succeeded, failed: row.failed };
    }
    return {
      queues: [...byQueue.values()].sort((a, b) => a.name.localeCompare(b.name)),
      throughputWindowSeconds: THROUGHPUT_WINDOW_SECONDS,
      workers: workers
        .filter((row): row is typeof row & { id: string } => row.id !== null)
        .map((row) => ({
          id: row.id,
          running: row.running,
          lastHeartbeatAt: row.lastHeartbeatAt === null ? null : new Date(row.lastHeartbeatAt),
        }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    };
  }

  /** 404 when unknown, 409 `job_not_failed` unless it failed or timed out. */
  async retry(id: string): Promise<JobRow> {
    const result = await this.queue.retry(id);
    if (result.outcome === 'retried') return result.job;
    throw refusalOf(result);
  }

  async discard(id: string): Promise<void> {
    const result = await this.queue.discard(id);
    if (result.outcome !== 'discarded') throw refusalOf(result);
  }
}

/** Why the queue refused a retry or a discard, as the API answers it. */
function refusalOf(result: { outcome: 'not_failed'; status: JobStatus } | { outcome: 'busy' } | { outcome: 'not_found' }): Error {
  switch (result.outcome) {
    case 'not_failed':
      return ERRORS.jobNotFailed(result.status);
    case 'busy':
      return ERRORS.jobStillFinishing();
    case 'not_found':
      return ERRORS.jobNotFound();
  }
}
