import os from 'node:os';
import { eq, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import type { JobLogger } from './job-queue.ts';
import { jobWorkers } from './worker-presence.schema.ts';

/** Rows of workers silent for this many leases are deleted by the next worker that beats. */
const FORGET_AFTER_LEASES = 20;

export interface PresenceSettings {
  workerId: string;
  queues: readonly string[];
  /** How often the row is refreshed (JOBS_HEARTBEAT_MS). */
  heartbeatMs: number;
  /** A row older than this is a dead worker's (JOBS_LEASE_MS, as for its jobs). */
  leaseMs: number;
}

export interface Presence {
  /** Refreshes the row now (the timer does it every heartbeat). */
  beat(): Promise<void>;
  /** Stops the timer and removes the row: a worker that stopped cleanly is gone at once. */
  leave(): Promise<void>;
}

/** Announces a worker process in `job_workers` and keeps its row fresh until it leaves. */
export async function announcePresence(db: Db, settings: PresenceSettings, log: JobLogger): Promise<Presence> {
  const row = { id: settings.workerId, queues: [...settings.queues], hostname: os.hostname(), pid: process.pid };
  const beat = async () => {
    await db
      .insert(jobWorkers)
      .values(row)
      .onConflictDoUpdate({ target: jobWorkers.id, set: { seenAt: sql`now()`, queues: row.queues } });
    await db
      .delete(jobWorkers)
      .where(
        lt(
          jobWorkers.seenAt,
          sql`now() - make_interval(secs => ${(settings.leaseMs * FORGET_AFTER_LEASES) / 1000}::double precision)`,
        ),
      );
  };
  await beat();
  const timer = setInterval(() => {
    beat().catch((error: unknown) => log.warn({ err: error, worker_id: settings.workerId }, 'worker presence heartbeat failed'));
  }, settings.heartbeatMs);
  timer.unref();
  return {
    beat,
    async leave() {
      clearInterval(timer);
      await db.delete(jobWorkers).where(eq(jobWorkers.id, settings.workerId));
    },
  };
}

/** Live workers per queue: those whose row was refreshed within `leaseMs`. Queues with none are absent. */
export async function liveWorkersByQueue(db: Db, leaseMs: number): Promise<Map<string, number>> {
  const result = await db.execute(
    sql`select q.queue, count(*)::int as count
          from ${jobWorkers}, unnest(${jobWorkers.queues}) as q(queue)
         where ${jobWorkers.seenAt} > now() - make_interval(secs => ${leaseMs / 1000}::double precision)
         group by q.queue`,
  );
  const rows = result.rows as { queue: string; count: number }[];
  return new Map(rows.map((row) => [row.queue, Number(row.count)]));
}
