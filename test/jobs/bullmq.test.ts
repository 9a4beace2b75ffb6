import { queueConformance } from './queue-conformance.ts';
import { createHarness } from './queue-harness.ts';
import { databaseKind } from '../helpers/database.ts';

// BullMQ keeps the record in the jobs table: PostgreSQL when DATABASE_URL is set, else PGlite.
queueConformance('BullMQ', () => createHarness(databaseKind, 'bullmq'), process.env.REDIS_URL ? undefined : 'REDIS_URL');
