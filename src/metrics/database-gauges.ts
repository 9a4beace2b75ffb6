import type { Database } from '../db/database.ts';
import type { IntakeMetrics } from './metrics.ts';

/**
 * Gauges read from the database at scrape time: the jobs table is the record on both queue
 * adapters, so queue depth and the age of the oldest waiting job mean the same on each. Every
 * API process reports the same fleet-wide values (aggregate them with max, not sum).
 */
export function registerDatabaseGauges(metrics: IntakeMetrics, database: Database, queues: readonly string[]): void {
  // Both queue gauges read one query per scrape: the second reuses the first's answer.
  let last: { at: number; answer: ReturnType<typeof read> } | undefined;
  const waiting = () => {
    if (!last || performance.now() - last.at > 1_000) last = { at: performance.now(), answer: read() };
    return last.answer;
  };
  const read = async () => {
    const { rows } = await database.query(
      `select queue,
              count(*)::int as depth,
              coalesce(extract(epoch from now() - min(run_at)), 0)::float8 as oldest_seconds
         from jobs
        where status = 'queued' and run_at <= now()
        group by queue`,
      [],
      'object',
    );
    const byQueue = new Map<string, { depth: number; oldest: number }>(queues.map((queue) => [queue, { depth: 0, oldest: 0 }]));
    for (const row of rows as { queue: string; depth: number; oldest_seconds: number }[]) {
      byQueue.set(row.queue, { depth: Number(row.depth), oldest: Math.max(0, Number(row.oldest_seconds)) });
    }
    return byQueue;
  };
  metrics.gauge('intake_queue_depth', 'Jobs due and waiting for a worker, per queue (delayed retries excluded).', ['queue'], async () =>
    [...(await waiting())].map(([queue, value]) => ({ labels: { queue }, value: value.depth })),
  );
  metrics.gauge('intake_queue_oldest_waiting_seconds', 'How long the oldest due job of each queue has waited (0 when none).', ['queue'], async () =>
    [...(await waiting())].map(([queue, value]) => ({ labels: { queue }, value: value.oldest })),
  );
  const usage = database.poolUsage?.bind(database);
  if (usage) {
    metrics.gauge('intake_db_pool_connections', 'Database pool connections by state (in use, idle) and the pool maximum.', ['state'], () => {
      const { total, idle, waiting: queued, max } = usage();
      return [
        { labels: { state: 'in_use' }, value: total - idle },
        { labels: { state: 'idle' }, value: idle },
        { labels: { state: 'max' }, value: max },
        { labels: { state: 'waiting_clients' }, value: queued },
      ];
    });
  }
}
