import { describe, it } from 'vitest';
import { queueConformance } from './queue-conformance.ts';
import { createHarness } from './queue-harness.ts';

if (process.env.DATABASE_URL) {
  queueConformance('embedded on PostgreSQL', () => createHarness('postgres', 'embedded'));
} else {
  describe.skip('JobQueue conformance: embedded on PostgreSQL (set DATABASE_URL)', () => {
    it('needs DATABASE_URL', () => undefined);
  });
}
