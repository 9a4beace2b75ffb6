import { inArray } from 'drizzle-orm';
import pino from 'pino';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { defineJob } from '../../src/jobs/job-definition.ts';
import { JobRegistry } from '../../src/jobs/job-registry.ts';
import { jobs } from '../../src/jobs/jobs.schema.ts';
import { recyclingExecutor } from '../../src/jobs/worker-recycling.ts';
import { inlineExecutor } from '../../src/jobs/job-executor.ts';
import { buildWorker } from '../../src/worker.ts';
import { createHarness, eventually, type QueueHarness } from './queue-harness.ts';
import { databaseKind } from '../helpers/database.ts';

const brokers = process.env.REDIS_URL && process.env.DATABASE_URL ? (['embedded', 'bullmq'] as const) : (['embedded'] as const);

/** A pino logger whose lines land in an array, so a test reads what the worker said. */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

describe.each(brokers)('worker recycling (%s queue)', (broker) => {
  let harness: QueueHarness;
  beforeAll(async () => {
    harness = await createHarness(databaseKind, broker);
  }, 60_000);
  afterAll(async () => harness?.close());

  it('WORKER_MAX_JOBS=2 with 5 jobs: every job runs exactly once while the runner is replaced twice', async () => {
    const job = defineJob({ name: 'test.recycled', queue: 'recycle-work', payload: Type.Object({ n: Type.Integer() }) });
    const runs = new Map<string, number>();
    const registry = new JobRegistry().register(job, async (_payload, context) => {
      runs.set(context.jobId, (runs.get(context.jobId) ?? 0) + 1);
      return null;
    });
    const config = loadConfig({ LOG_LEVEL: 'silent', WORKER_MAX_JOBS: '2', JOBS_SHUTDOWN_GRACE_MS: '30000' });
    const { log, lines } = capturedLog();
    const queue = harness.createQueue();
    const runtime = await buildWorker(config, { database: harness.database(), jobQueue: queue, registry, log });
    try {
      const ids: string[] = [];
      for (let n = 0; n < 5; n += 1) ids.push((await queue.enqueue(job, { n })).id);
      const rows = await eventually(
        async () => {
          const found = await harness.database().db.select().from(jobs).where(inArray(jobs.id, ids));
          return found.every((row) => row.status === 'succeeded') && found;
        },
        60_000,
        'every job to succeed',
      );
      expect(rows).toHaveLength(5);
      // Exactly once: no handler ran twice, no attempt was counted twice.
      expect([...runs.values()]).toEqual([1, 1, 1, 1, 1]);
      expect(rows.map((row) => row.attempts)).toEqual([1, 1, 1, 1, 1]);

      // Runners of 2, 2 and 1 jobs: two replacements, each named in the log and counted in /metrics.
      await eventually(
        async () => lines.filter((line) => line.msg === 'job runner replaced').length >= 2,
        30_000,
        'two replacements',
      );
      const replaced = lines.filter((line) => line.msg === 'job runner replaced');
      expect(replaced).toHaveLength(2);
      expect(replaced.every((line) => line.reason === 'jobs' && line.replaced !== line.worker_id)).toBe(true);
      expect(lines.filter((line) => String(line.msg).startsWith('recycling the job runner'))).toHaveLength(2);
      const metric = await runtime.metrics.workerRecycles.get();
      expect(metric.values).toEqual([expect.objectContaining({ labels: { reason: 'jobs' }, value: 2 })]);
    } finally {
      await runtime.close();
    }
  }, 120_000);
});

describe('recyclingExecutor', () => {
  it('trips once on memory, after the attempt that crossed the limit', async () => {
    let rss = 100 * 1024 * 1024;
    const reasons: string[] = [];
    const executor = recyclingExecutor(
      inlineExecutor,
      { maxJobs: 0, maxRssMb: 200 },
      (reason) => reasons.push(reason),
      () => rss,
    );
    const registered = { handler: async () => null } as unknown as Parameters<typeof executor.execute>[0];
    const context = {} as Parameters<typeof executor.execute>[2];
    await executor.execute(registered, {}, context);
    expect(reasons).toEqual([]);
    rss = 250 * 1024 * 1024;
    await executor.execute(registered, {}, context);
    await executor.execute(registered, {}, context);
    expect(reasons).toEqual(['memory']);
  });
});
