import { eq } from 'drizzle-orm';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { defineJob } from '../../src/jobs/job-definition.ts';
import { JobRegistry } from '../../src/jobs/job-registry.ts';
import { jobs } from '../../src/jobs/jobs.schema.ts';
import { buildWorker } from '../../src/worker.ts';
import { createHarness, eventually, silentLog, type QueueHarness } from './queue-harness.ts';

describe('buildWorker', () => {
  let harness: QueueHarness;
  beforeAll(async () => {
    harness = await createHarness('pglite', 'embedded');
  }, 60_000);
  afterAll(async () => harness?.close());

  const heavy = defineJob({ name: 'test.heavy', queue: 'heavy-work', payload: Type.Object({}) });
  const light = defineJob({ name: 'test.light', queue: 'light-work', payload: Type.Object({}) });
  const registry = () => new JobRegistry().register(heavy, async () => 'heavy').register(light, async () => 'light');

  it('serves only the queues it is given, leaving the others to other workers', async () => {
    const config = loadConfig({ LOG_LEVEL: 'silent', JOBS_SHUTDOWN_GRACE_MS: '0' });
    const queue = harness.createQueue();
    const runtime = await buildWorker(
      config,
      { database: harness.database(), jobQueue: queue, registry: registry(), log: silentLog },
      { queues: ['light-work'] },
    );
    try {
      const lightJob = await queue.enqueue(light, {});
      const heavyJob = await queue.enqueue(heavy, {});
      await eventually(async () => {
        const [row] = await harness.database().db.select().from(jobs).where(eq(jobs.id, lightJob.id));
        return row?.status === 'succeeded';
      });
      const [untouched] = await harness.database().db.select().from(jobs).where(eq(jobs.id, heavyJob.id));
      expect(untouched?.status).toBe('queued');
      expect(runtime.workers.workerId).toContain(String(process.pid));
    } finally {
      await runtime.close();
    }
  });

  it('refuses a queue no job type uses', async () => {
    const config = loadConfig({ LOG_LEVEL: 'silent' });
    await expect(
      buildWorker(
        config,
        { database: harness.database(), jobQueue: harness.createQueue(), registry: registry(), log: silentLog },
        { queues: ['fils'] },
      ),
    ).rejects.toThrow(/fils/);
  });
});
