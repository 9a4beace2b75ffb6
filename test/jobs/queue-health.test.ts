import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../src/jobs/jobs.schema.ts';
import { StarvedQueueWatch } from '../../src/jobs/queue-health.ts';
import { announcePresence, liveWorkersByQueue } from '../../src/jobs/worker-presence.ts';
import { jobWorkers } from '../../src/jobs/worker-presence.schema.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

const LEASE_MS = 30_000;
const QUIET_MS = 5 * 60_000;

/** A real logger whose warnings are kept, parsed, for assertions. */
function recordingLog() {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const log = pino(
    { level: 'warn' },
    {
      write(line: string) {
        const { msg, ...fields } = JSON.parse(line) as Record<string, unknown> & { msg: string };
        warnings.push({ fields, message: msg });
      },
    },
  );
  return { warnings, log };
}

describe('worker presence and starved queues', () => {
  let subject: TestDatabase;

  beforeAll(async () => {
    subject = await createTestDatabase();
  });

  afterAll(async () => {
    await subject?.close();
  });

  it('counts a worker per queue while it beats, forgets a silent one after a lease, and removes one that leaves', async () => {
    const db = subject.database.db;
    const { log } = recordingLog();
    const presence = await announcePresence(
      db,
      { workerId: `w-${randomUUID()}`, queues: ['files', 'notifications'], heartbeatMs: 60_000, leaseMs: LEASE_MS },
      log,
    );
    const other = await announcePresence(
      db,
      { workerId: `w-${randomUUID()}`, queues: ['files'], heartbeatMs: 60_000, leaseMs: LEASE_MS },
      log,
    );
    expect(Object.fromEntries(await liveWorkersByQueue(db, LEASE_MS))).toEqual({ files: 2, notifications: 1 });

    // A worker whose last beat is older than a lease is presumed dead (its row is aged, not waited for).
    await db
      .update(jobWorkers)
      .set({ seenAt: sql`now() - interval '31 seconds'` })
      .where(sql`${jobWorkers.queues} = array['files']::text[]`);
    expect(Object.fromEntries(await liveWorkersByQueue(db, LEASE_MS))).toEqual({ files: 1, notifications: 1 });
    await other.beat();
    expect((await liveWorkersByQueue(db, LEASE_MS)).get('files')).toBe(2);

    await presence.leave();
    await other.leave();
    expect((await liveWorkersByQueue(db, LEASE_MS)).size).toBe(0);
  });

  it('warns once per quiet period about a queue whose jobs wait with no live worker, and not once a worker is alive', async () => {
    const db = subject.database.db;
    const queue = `starved-${randomUUID()}`;
    await db
      .insert(jobs)
      .values({ queue, type: 'test.job', payload: {}, maxAttempts: 1, runAt: sql`now() - interval '2 minutes'` });
    let now = 1_000_000;
    const { log, warnings } = recordingLog();
    const watch = new StarvedQueueWatch(db, log, { leaseMs: LEASE_MS, quietMs: QUIET_MS, now: () => now });

    expect(await watch.check()).toEqual([{ queue, waiting: 1, oldestSeconds: expect.any(Number) }]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fields).toMatchObject({ queue, waiting: 1 });
    expect(warnings[0]!.fields.oldest_waiting_s).toBeGreaterThanOrEqual(119);
    expect(warnings[0]!.message).toContain('no worker of that queue is alive');

    now += QUIET_MS - 1;
    await watch.check();
    expect(warnings).toHaveLength(1);
    now += 1;
    await watch.check();
    expect(warnings).toHaveLength(2);

    const presence = await announcePresence(
      db,
      { workerId: `w-${randomUUID()}`, queues: [queue], heartbeatMs: 60_000, leaseMs: LEASE_MS },
      log,
    );
    now += QUIET_MS;
    expect(await watch.check()).toEqual([]);
    expect(warnings).toHaveLength(2);
    await presence.leave();
  });

  it('does not warn about a job younger than a lease: it may not have been claimed yet', async () => {
    const db = subject.database.db;
    const queue = `fresh-${randomUUID()}`;
    await db.insert(jobs).values({ queue, type: 'test.job', payload: {}, maxAttempts: 1 });
    const { log, warnings } = recordingLog();
    const found = await new StarvedQueueWatch(db, log, { leaseMs: LEASE_MS, quietMs: QUIET_MS }).check();
    expect(found.filter((entry) => entry.queue === queue)).toEqual([]);
    expect(warnings.filter((warning) => warning.fields.queue === queue)).toEqual([]);
  });
});
