import { describe, it } from 'vitest';
import { queueConformance } from './queue-conformance.ts';
import { createHarness } from './queue-harness.ts';

// BullMQ keeps the record in the jobs table: PostgreSQL when DATABASE_URL is set, else PGlite.
if (process.env.REDIS_URL) {
  queueConformance('BullMQ', () => createHarness(process.env.DATABASE_URL ? 'postgres' : 'pglite', 'bullmq'));
} else {
  describe.skip('JobQueue conformance: BullMQ (set REDIS_URL)', () => {
    it('needs REDIS_URL', () => undefined);
  });
}
