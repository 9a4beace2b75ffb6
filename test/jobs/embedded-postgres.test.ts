import { queueConformance } from './queue-conformance.ts';
import { createHarness } from './queue-harness.ts';

queueConformance(
  'embedded on PostgreSQL',
  () => createHarness('postgres', 'embedded'),
  process.env.DATABASE_URL ? undefined : 'DATABASE_URL',
);
