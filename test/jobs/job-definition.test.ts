import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { backoffDelayMs, defineJob, payloadProblem } from '../../src/jobs/job-definition.ts';
import { JobRegistry } from '../../src/jobs/job-registry.ts';

describe('job catalog', () => {
  const policy = { maxAttempts: 10, backoffMs: 1_000, maxBackoffMs: 30_000, jitter: 0.5 };

  it('doubles the retry delay per attempt up to the cap', () => {
    const noJitter = { ...policy, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffDelayMs(noJitter, attempt))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000,
    ]);
  });

  it('takes up to the jitter share off each delay, never more', () => {
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(4_000);
    expect(backoffDelayMs(policy, 3, () => 0.999999)).toBe(2_000);
    expect(backoffDelayMs({ ...policy, jitter: 1 }, 3, () => 0.5)).toBe(2_000);
  });

  it('derives a hard limit after the soft one and refuses inconsistent limits', () => {
    const payload = Type.Object({});
    const job = defineJob({ name: 'a', queue: 'files', payload, softTimeLimitMs: 10_000 });
    expect(job.hardTimeLimitMs).toBeGreaterThan(job.softTimeLimitMs);
    expect(job.retry).toEqual({ maxAttempts: 3, backoffMs: 1_000, maxBackoffMs: 300_000, jitter: 0.5 });
    expect(() => defineJob({ name: 'b', queue: 'files', payload, softTimeLimitMs: 10, hardTimeLimitMs: 5 })).toThrow(
      /hardTimeLimitMs/,
    );
    expect(() => defineJob({ name: 'c', queue: 'files', payload, retry: { maxAttempts: 0 } })).toThrow(/maxAttempts/);
  });

  it('routes job types to their queues and refuses a type registered twice', () => {
    const payload = Type.Object({ id: Type.String() });
    const parse = defineJob({ name: 'files.parse', queue: 'files', payload });
    const mail = defineJob({ name: 'mail.send', queue: 'notifications', payload });
    const registry = new JobRegistry().register(parse, async () => 1).register(mail, async () => 2);
    expect(registry.queues()).toEqual(['files', 'notifications']);
    expect(registry.typesFor('files')).toEqual(['files.parse']);
    expect(() => registry.register(parse, async () => 3)).toThrow(/twice/);
    expect(payloadProblem(parse, { id: 'x' })).toBeUndefined();
    expect(payloadProblem(parse, { id: 7 })).toMatch(/\/id/);
  });
});

describe('jobs configuration', () => {
  it('defaults to the embedded queue with workers in serve, and to BullMQ without them when REDIS_URL is set', () => {
    const embedded = loadConfig({});
    expect(embedded.jobs).toMatchObject({
      redisUrl: undefined,
      workersInServe: true,
      leaseMs: 30_000,
      heartbeatMs: 10_000,
      retentionMs: 86_400_000,
    });
    const scaled = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(scaled.jobs.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(scaled.jobs.workersInServe).toBe(false);
  });

  it('refuses a heartbeat that is not shorter than the lease', () => {
    expect(() => loadConfig({ JOBS_LEASE_MS: '1000', JOBS_HEARTBEAT_MS: '1000' })).toThrow(/JOBS_HEARTBEAT_MS/);
    expect(() => loadConfig({ REDIS_URL: 'http://example.com' })).toThrow(/REDIS_URL/);
  });
});
