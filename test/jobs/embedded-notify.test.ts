import { eq } from 'drizzle-orm';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/jobs/job-definition.ts';
import { JobRegistry } from '../../src/jobs/job-registry.ts';
import { jobs } from '../../src/jobs/jobs.schema.ts';
import { createHarness, eventually, type QueueHarness } from './queue-harness.ts';

const backends = ['pglite', ...(process.env.DATABASE_URL ? ['postgres' as const] : [])] as const;

for (const backend of backends) {
  describe(`embedded queue wake-ups on ${backend}`, () => {
    let harness: QueueHarness;
    beforeAll(async () => {
      harness = await createHarness(backend, 'embedded');
    }, 60_000);
    afterAll(async () => harness?.close());

    it('wakes an idle worker of another queue instance through NOTIFY, not its poll', async () => {
      const definition = defineJob({ name: 'test.notified', queue: 'notify-q', payload: Type.Object({}) });
      // An hour between polls: only the notification can start this job within the test.
      const workerSide = harness.createQueue({ pollIntervalMs: 3_600_000 });
      const workers = await workerSide.startWorkers({ registry: new JobRegistry().register(definition, async () => 'woken') });
      try {
        // Let the worker's first claim find nothing, so that it is idle when the job arrives.
        await new Promise((resolve) => setTimeout(resolve, 200));
        const apiSide = harness.createQueue();
        const db = harness.database().db;
        const { id } = await db.transaction(async (tx) => apiSide.enqueue(definition, {}, { tx }));
        const done = await eventually(async () => {
          const [row] = await db.select().from(jobs).where(eq(jobs.id, id));
          return row?.status === 'succeeded' ? row : undefined;
        }, 20_000);
        expect(done.result).toBe('woken');
      } finally {
        await workers.close(0);
      }
    }, 60_000);
  });
}
