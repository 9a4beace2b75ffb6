import type { Database } from '../db/database.ts';
import { backlogByQueue } from '../jobs/queue-health.ts';
import { liveWorkersByQueue } from '../jobs/worker-presence.ts';
import type { IntakeMetrics } from './metrics.ts';

/**
 * Gauges read from the database at scrape time: the jobs table is the record on both queue
 * adapters, so queue depth, the age of the oldest waiting job and the live workers mean the
 * same on each. Every process reports the same fleet-wide values (aggregate them with max).
 */
export function registerDatabaseGauges(
  metrics: IntakeMetrics,
  database: Database,
  options: { queues: readonly string[]; leaseMs: number },
): void {
  // Both backlog gauges read one query per scrape: the second reuses the first's answer.
  let last: { at: number; answer: ReturnType<typeof backlogByQueue> } | undefined;
  const backlog = () => {
    if (!last || performance.now() - last.at > 1_000) last = { at: performance.now(), answer: backlogByQueue(database.db) };
    return last.answer;
  };
  const perQueue = async <T>(read: () => Promise<Map<string, T>>, value: (entry: T | undefined) => number) => {
    const found = await read();
    const queues = new Set([...options.queues, ...found.keys()]);
    return [...queues].map((queue) => ({ labels: { queue }, value: value(found.get(queue)) }));
  };
  metrics.gauge('intake_queue_depth', 'Jobs due and waiting for a worker, per queue (delayed retries excluded).', ['queue'], () =>
    perQueue(backlog, (entry) => entry?.depth ?? 0),
  );
  metrics.gauge(
    'intake_queue_oldest_waiting_seconds',
    'How long the oldest due job of each queue has waited (0 when none).',
    ['queue'],
    () => perQueue(backlog, (entry) => entry?.oldestSeconds ?? 0),
  );
  metrics.gauge('intake_queue_workers', 'Worker processes alive (heartbeat within a lease) serving each queue.', ['queue'], () =>
    perQueue(
      () => liveWorkersByQueue(database.db, options.leaseMs),
      (count) => count ?? 0,
    ),
  );
  const usage = database.poolUsage?.bind(database);
  if (usage) {
    metrics.gauge(
      'intake_db_pool_connections',
      'Database pool connections by state (in use, idle), the pool maximum, and callers waiting for one.',
      ['state'],
      () => {
        const { total, idle, waiting, max } = usage();
        return [
          { labels: { state: 'in_use' }, value: total - idle },
          { labels: { state: 'idle' }, value: idle },
          { labels: { state: 'max' }, value: max },
          { labels: { state: 'waiting_clients' }, value: waiting },
        ];
      },
    );
  }
}
