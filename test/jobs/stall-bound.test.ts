import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { JobStore } from '../../src/jobs/job-store.ts';
import { Type } from 'typebox';
import { defineJob } from '../../src/jobs/job-definition.ts';
import { createHarness, silentLog, type QueueHarness } from './queue-harness.ts';
import { databaseKind } from '../helpers/database.ts';

const stallJob = defineJob({
  name: 'test.stall-bound',
  queue: 'stall-bound',
  payload: Type.Object({ phase: Type.Number() }),
  retry: { maxAttempts: 3 },
});

/**
 * The documented bound: a job whose worker dies is taken over within JOBS_LEASE_MS +
 * JOBS_STALLED_CHECK_MS (one heartbeat by default) of the worker's death. The lease runs out
 * at most a lease after the last heartbeat, and the next stalled check (every
 * JOBS_STALLED_CHECK_MS, on any live worker) requeues it. A fake clock drives the store, so the
 * test walks through 30-second leases without waiting for them.
 */
describe('stalled job take-over bound', () => {
  let harness: QueueHarness;
  beforeAll(async () => {
    harness = await createHarness(databaseKind, 'embedded');
  }, 120_000);
  afterAll(async () => harness?.close());

  const { leaseMs, heartbeatMs, stalledCheckMs } = loadConfig({}).jobs;

  it('uses the documented defaults: 30 s lease, heartbeat and stalled check every 10 s', () => {
    expect({ leaseMs, heartbeatMs, stalledCheckMs }).toEqual({ leaseMs: 30_000, heartbeatMs: 10_000, stalledCheckMs: 10_000 });
  });

  // Where the stalled checks fall relative to the death: right after it, halfway, just before the next tick.
  it.each([0, 1, stalledCheckMs / 2, stalledCheckMs - 1])(
    'takes a dead worker’s job over after its lease and within lease + one check (checks at offset %i ms)',
    async (phase) => {
      let now = new Date('2031-03-01T12:00:00.000Z').getTime() + phase;
      const store = new JobStore(harness.database().db, {
        retentionMs: 60_000,
        log: silentLog,
        clock: () => new Date(now),
      });
      const { row } = await store.insert({
        definition: stallJob,
        payload: { phase },
        ownerId: null,
        fileId: null,
        idempotencyKey: null,
        delayMs: 0,
        dispatched: true,
      });
      const [claimed] = await store.claim(stallJob.queue, [stallJob.name], 1, 'worker-that-dies', leaseMs);
      expect(claimed?.id).toBe(row.id);
      // Heartbeats until the worker dies, right after its last one.
      now += heartbeatMs;
      expect((await store.heartbeat([claimed!.leaseToken!], leaseMs)).held.size).toBe(1);
      const diedAt = now;

      // The checks other workers run, every stalledCheckMs, from `phase` after the death.
      let takenOverAt: number | undefined;
      for (let tick = 0; takenOverAt === undefined && tick < 100; tick += 1) {
        now = diedAt + phase + tick * stalledCheckMs;
        const before = now - diedAt < leaseMs;
        const recovered = await store.recoverStalled();
        if (before) expect(recovered).toBe(0);
        if (recovered > 0) takenOverAt = now;
      }
      expect(takenOverAt).toBeDefined();
      const delay = takenOverAt! - diedAt;
      expect(delay).toBeGreaterThanOrEqual(leaseMs);
      expect(delay).toBeLessThanOrEqual(leaseMs + stalledCheckMs);
      const after = await store.get(row.id);
      expect(after).toMatchObject({ status: 'queued', lockedBy: null, error: { code: 'stalled' } });
    },
  );
});
