import { randomUUID } from 'node:crypto';
import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { defineJob } from '../../src/jobs/job-definition.ts';
import { JobStore } from '../../src/jobs/job-store.ts';
import { jobs } from '../../src/jobs/jobs.schema.ts';
import { createHarness, silentLog, type QueueHarness } from './queue-harness.ts';
import { databaseKind } from '../helpers/database.ts';

const batchJob = defineJob({
  name: 'test.store-batches',
  queue: 'store-batches',
  payload: Type.Object({ n: Type.Number() }),
  retry: { maxAttempts: 3 },
});

/**
 * BullMQ's workers start and finish attempts through one coalescer: calls made in the same tick
 * go out as one statement, starts and successful ends mixed. Each must keep its own fence.
 */
describe('job store: starts and successes written together', () => {
  let harness: QueueHarness;
  let store: JobStore;
  beforeAll(async () => {
    harness = await createHarness(databaseKind, 'embedded');
    store = new JobStore(harness.database().db, { retentionMs: 60_000, log: silentLog });
  }, 120_000);
  afterAll(async () => harness?.close());

  async function enqueue(n: number): Promise<string> {
    const { row } = await store.insert({
      definition: batchJob,
      payload: { n },
      ownerId: null,
      fileId: null,
      idempotencyKey: null,
      delayMs: 0,
      dispatched: false,
    });
    return row.id;
  }

  it('starts, ends, refuses a cancelled start and a lost lease, all in one batch', async () => {
    const [running, other, fresh, cancelled] = await Promise.all([enqueue(1), enqueue(2), enqueue(3), enqueue(4)]);
    const runningLease = randomUUID();
    const otherLease = randomUUID();
    const [startedRunning, startedOther] = await Promise.all([
      store.start(running!, 1, runningLease, 'worker-a', 30_000),
      store.start(other!, 1, otherLease, 'worker-a', 30_000),
    ]);
    expect(startedRunning?.leaseToken).toBe(runningLease);
    expect(startedOther?.leaseToken).toBe(otherLease);
    expect(await store.cancelQueued(cancelled!)).toBeDefined();

    // Same tick: two starts (one of them cancelled) and two ends (one with a lease that is not the row's).
    const freshLease = randomUUID();
    const [freshStart, cancelledStart, ended, lost] = await Promise.all([
      store.start(fresh!, 1, freshLease, 'worker-b', 30_000),
      store.start(cancelled!, 1, randomUUID(), 'worker-b', 30_000),
      store.finish(running!, runningLease, { status: 'succeeded', result: { done: 1 } }),
      store.finish(other!, randomUUID(), { status: 'succeeded', result: { done: 2 } }),
    ]);
    expect(freshStart).toMatchObject({ id: fresh, status: 'running', attempts: 1, leaseToken: freshLease, payload: { n: 3 } });
    expect(cancelledStart).toBeUndefined();
    expect(ended).toBe(true);
    expect(lost).toBe(false);

    const rows = await harness
      .database()
      .db.select()
      .from(jobs)
      .where(inArray(jobs.id, [running!, other!, fresh!, cancelled!]));
    const byId = new Map(rows.map((row) => [row.id, row]));
    expect(byId.get(running!)).toMatchObject({
      status: 'succeeded',
      result: { done: 1 },
      error: null,
      leaseToken: null,
      lockedBy: null,
      lockedUntil: null,
      attempts: 1,
    });
    expect(byId.get(running!)?.finishedAt).toBeInstanceOf(Date);
    expect(byId.get(running!)?.expiresAt).toBeInstanceOf(Date);
    expect(byId.get(other!)).toMatchObject({ status: 'running', leaseToken: otherLease, result: null, finishedAt: null });
    expect(byId.get(fresh!)).toMatchObject({ status: 'running', leaseToken: freshLease, lockedBy: 'worker-b', finishedAt: null });
    expect(byId.get(fresh!)?.lockedUntil).toBeInstanceOf(Date);
    expect(byId.get(fresh!)?.dispatchedAt).toBeInstanceOf(Date);
    expect(byId.get(cancelled!)).toMatchObject({ status: 'cancelled', leaseToken: null, attempts: 0, startedAt: null });
  });
});
