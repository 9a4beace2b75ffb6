import { sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import type { JobLogger } from './job-queue.ts';
import { liveWorkersByQueue } from './worker-presence.ts';

export interface QueueBacklog {
  /** Jobs due and waiting (delayed retries excluded). */
  depth: number;
  /** Age of the oldest due job; 0 when none waits. */
  oldestSeconds: number;
}

/** Due jobs per queue, from the jobs table (the record on both queue adapters). Queues with none are absent. */
export async function backlogByQueue(db: Db): Promise<Map<string, QueueBacklog>> {
  const result = await db.execute(
    sql`select queue, count(*)::int as depth, coalesce(extract(epoch from now() - min(run_at)), 0)::float8 as oldest_seconds
          from jobs
         where status = 'queued' and run_at <= now()
         group by queue`,
  );
  const rows = result.rows as { queue: string; depth: number; oldest_seconds: number }[];
  return new Map(
    rows.map((row) => [row.queue, { depth: Number(row.depth), oldestSeconds: Math.max(0, Number(row.oldest_seconds)) }]),
  );
}

export interface StarvedQueue {
  queue: string;
  waiting: number;
  oldestSeconds: number;
}

/**
 * Finds queues whose jobs wait with no live worker to run them (none started, or all dead) and
 * warns about each, at most once per `quietMs` per queue, so a long outage is a line every few
 * minutes rather than one per check.
 */
export class StarvedQueueWatch {
  private readonly lastWarned = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly log: JobLogger,
    private readonly settings: { leaseMs: number; quietMs: number; now?: () => number },
  ) {}

  async check(): Promise<StarvedQueue[]> {
    const [backlog, live] = await Promise.all([backlogByQueue(this.db), liveWorkersByQueue(this.db, this.settings.leaseMs)]);
    const now = (this.settings.now ?? Date.now)();
    const starved: StarvedQueue[] = [];
    for (const [queue, { depth, oldestSeconds }] of backlog) {
      // A job younger than a lease may simply not have been claimed yet.
      if (depth === 0 || (live.get(queue) ?? 0) > 0 || oldestSeconds * 1000 < this.settings.leaseMs) continue;
      starved.push({ queue, waiting: depth, oldestSeconds });
      const last = this.lastWarned.get(queue);
      if (last !== undefined && now - last < this.settings.quietMs) continue;
      this.lastWarned.set(queue, now);
      this.log.warn(
        { queue, waiting: depth, oldest_waiting_s: Math.round(oldestSeconds) },
        `jobs of queue ${queue} are waiting and no worker of that queue is alive: start \`intake worker\``,
      );
    }
    return starved;
  }
}
