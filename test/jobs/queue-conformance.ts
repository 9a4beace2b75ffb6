import { spawn } from 'node:child_process';
import { eq } from 'drizzle-orm';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { defineJob, PermanentJobError, type JobDefinitionInput } from '../../src/jobs/job-definition.ts';
import { JobRegistry } from '../../src/jobs/job-registry.ts';
import type { JobEvent, JobQueue, RunningWorkers } from '../../src/jobs/job-queue.ts';
import { jobs, type JobRow } from '../../src/jobs/jobs.schema.ts';
import { killTestJob } from './fixtures/kill-job.ts';
import { eventually, takeoverClock, uniqueName, type QueueHarness } from './queue-harness.ts';

const Payload = Type.Object({ n: Type.Number() });

/**
 * The semantics every JobQueue adapter must honour. `makeHarness` builds the adapter under
 * test on a fresh database; each test uses its own queue name so tests never share jobs.
 */
/** `needs` names what the run lacks (an unset variable): the suite is then listed as skipped, with the reason. */
export function queueConformance(label: string, makeHarness: () => Promise<QueueHarness>, needs?: string): void {
  describe.skipIf(needs !== undefined)(`JobQueue conformance: ${label}${needs ? ` (needs ${needs})` : ''}`, () => {
    let harness: QueueHarness;
    let api: JobQueue;
    let workerQueue: JobQueue;
    const running: RunningWorkers[] = [];

    beforeAll(async () => {
      harness = await makeHarness();
      api = harness.createQueue();
      workerQueue = harness.createQueue();
    }, 60_000);

    afterAll(async () => {
      await Promise.all(running.map((workers) => workers.close(0)));
      await harness?.close();
    }, 30_000);

    function job(input: Partial<JobDefinitionInput<typeof Payload>> = {}) {
      return defineJob({ name: uniqueName('test.job'), queue: uniqueName('q'), payload: Payload, ...input });
    }

    async function row(id: string): Promise<JobRow | undefined> {
      const [found] = await harness.database().db.select().from(jobs).where(eq(jobs.id, id));
      return found;
    }

    async function finished(id: string, timeoutMs = 15_000): Promise<JobRow> {
      return eventually(
        async () => {
          const found = await row(id);
          return found && !['queued', 'running'].includes(found.status) ? found : undefined;
        },
        timeoutMs,
        `job ${id} to finish`,
      );
    }

    async function start(registry: JobRegistry, queue: JobQueue = workerQueue): Promise<RunningWorkers> {
      const workers = await queue.startWorkers({ registry });
      running.push(workers);
      return workers;
    }

    it('runs a job, records its result, and makes its progress readable while it runs', async () => {
      const definition = job();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      await start(
        new JobRegistry().register(definition, async (payload, context) => {
          await context.progress({ current: 1, total: 4, message: 'parsing' });
          await gate;
          return { doubled: payload.n * 2 };
        }),
      );
      const { id, created } = await api.enqueue(definition, { n: 21 });
      expect(created).toBe(true);
      const inProgress = await eventually(async () => {
        const found = await row(id);
        return found?.progress.message === 'parsing' ? found : undefined;
      });
      expect(inProgress.status).toBe('running');
      expect(inProgress.progress).toEqual({ current: 1, total: 4, message: 'parsing' });
      release();
      const done = await finished(id);
      expect(done.status).toBe('succeeded');
      expect(done.result).toEqual({ doubled: 42 });
      expect(done.attempts).toBe(1);
      expect(done.startedAt).toBeInstanceOf(Date);
      expect(done.finishedAt).toBeInstanceOf(Date);
      expect(done.expiresAt).toBeInstanceOf(Date);
    });

    it('reports progress writes, status changes and handler events to onJobEvent, in order', async () => {
      const definition = job({ retry: { maxAttempts: 2, backoffMs: 10, maxBackoffMs: 10, jitter: 0 } });
      const events: JobEvent[] = [];
      const reporting = harness.createQueue({ onJobEvent: (event) => events.push(event) });
      let attempts = 0;
      const workers = await reporting.startWorkers({
        registry: new JobRegistry().register(definition, async (_payload, context) => {
          attempts += 1;
          await context.progress({ current: attempts, total: 2, message: `attempt ${attempts}` });
          context.emit({ type: 'file.status', file_id: 'f', status: 'processing' });
          if (attempts === 1) throw new Error('try again');
          return null;
        }),
      });
      const { id } = await reporting.enqueue(definition, { n: 1 }, { ownerId: '00000000-0000-4000-8000-000000000001' });
      try {
        expect((await finished(id)).status).toBe('succeeded');
        await eventually(async () =>
          events.some((event) => event.kind === 'status' && event.status === 'succeeded') ? true : undefined,
        );
      } finally {
        await workers.close(0);
        await reporting.close();
      }
      const mine = events.filter((event) => event.job.id === id);
      expect(mine.every((event) => event.job.ownerId === '00000000-0000-4000-8000-000000000001')).toBe(true);
      expect(
        mine.map((event) =>
          event.kind === 'status'
            ? event.status
            : event.kind === 'progress'
              ? `progress ${event.progress.current}`
              : event.kind === 'handler'
                ? event.event.type
                : event.kind,
        ),
      ).toEqual(['running', 'progress 1', 'file.status', 'queued', 'running', 'progress 2', 'file.status', 'succeeded']);
      const retry = mine[3];
      // The retry carries a bounded code; what the handler threw stays in the log, never in the event.
      expect(retry?.kind === 'status' && retry.error?.code).toBe('internal_error');
      expect(retry?.kind === 'status' && retry.error?.message).not.toContain('try again');
    });

    it('retries a transient error with backoff, then succeeds', async () => {
      const definition = job({ retry: { maxAttempts: 4, backoffMs: 20, maxBackoffMs: 40, jitter: 0.5 } });
      await start(
        new JobRegistry().register(definition, async (_payload, context) => {
          if (context.attempt < 3) throw new Error(`connection reset on attempt ${context.attempt}`);
          return { attempt: context.attempt };
        }),
      );
      const { id } = await api.enqueue(definition, { n: 1 });
      const done = await finished(id);
      expect(done.status).toBe('succeeded');
      expect(done.attempts).toBe(3);
      expect(done.result).toEqual({ attempt: 3 });
    });

    it('fails after the last attempt when the error stays transient', async () => {
      const definition = job({ retry: { maxAttempts: 2, backoffMs: 10, maxBackoffMs: 10 } });
      await start(
        new JobRegistry().register(definition, async () => {
          throw new Error('storage unavailable');
        }),
      );
      const { id } = await api.enqueue(definition, { n: 1 });
      const done = await finished(id);
      expect(done.status).toBe('failed');
      expect(done.attempts).toBe(2);
      // The owner reads a code and a message written for them; what was thrown goes to the log.
      expect(done.error).toEqual({ code: 'internal_error', message: expect.stringMatching(/internal error after 2 attempts/) });
      expect(JSON.stringify(done.error)).not.toContain('storage unavailable');
    });

    it('fails a permanent error at once, without retrying', async () => {
      const definition = job({ retry: { maxAttempts: 5, backoffMs: 10 } });
      await start(
        new JobRegistry().register(definition, async () => {
          throw new PermanentJobError('row 3: not a CSV');
        }),
      );
      const { id } = await api.enqueue(definition, { n: 1 });
      const done = await finished(id);
      expect(done.status).toBe('failed');
      expect(done.attempts).toBe(1);
      expect(done.error).toEqual({ code: 'invalid_data', message: 'row 3: not a CSV' });
    });

    it('refuses to enqueue a payload that does not match its schema', async () => {
      const definition = job();
      await expect(api.enqueue(definition, { n: 'seven' } as unknown as { n: number })).rejects.toThrow(/invalid payload/);
    });

    it('fails a job whose stored payload no longer matches its schema', async () => {
      const enqueuedAs = job();
      // The worker runs a newer release in which the payload shape changed.
      const newer = defineJob({ ...enqueuedAs, version: 2, payload: Type.Object({ n: Type.String() }) });
      await start(new JobRegistry().register(newer, async () => 'never'));
      const { id } = await api.enqueue(enqueuedAs, { n: 1 });
      const done = await finished(id);
      expect(done.status).toBe('failed');
      expect(done.error?.code).toBe('invalid_payload');
    });

    it('fires the signal at the soft time limit and ends the job timed_out', async () => {
      const definition = job({ softTimeLimitMs: 100, hardTimeLimitMs: 10_000, retry: { maxAttempts: 3 } });
      let reason: unknown;
      await start(
        new JobRegistry().register(definition, async (_payload, context) => {
          await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
          reason = context.signal.reason;
          throw context.signal.reason;
        }),
      );
      const { id } = await api.enqueue(definition, { n: 1 });
      const done = await finished(id);
      expect(done.status).toBe('timed_out');
      expect(done.attempts).toBe(1);
      expect(done.error?.code).toBe('timed_out');
      expect((reason as Error).name).toBe('TimeoutError');
    });

    it('abandons an attempt that ignores its signal at the hard limit and frees the slot', async () => {
      const queue = uniqueName('q');
      const stubborn = job({ queue, softTimeLimitMs: 50, hardTimeLimitMs: 200 });
      const next = job({ queue });
      const registry = new JobRegistry().register(stubborn, () => new Promise(() => undefined)).register(next, async () => 'ran');
      const workers = await harness.createQueue({ concurrency: { [queue]: 1 } }).startWorkers({ registry });
      running.push(workers);
      const first = await api.enqueue(stubborn, { n: 1 });
      const second = await api.enqueue(next, { n: 2 });
      const done = await finished(first.id);
      expect(done.status).toBe('timed_out');
      expect(done.error?.message).toMatch(/hard time limit/);
      expect((await finished(second.id)).status).toBe('succeeded');
    });

    it('cancels a queued job, which then never runs', async () => {
      const definition = job();
      let ran = false;
      await start(
        new JobRegistry().register(definition, async () => {
          ran = true;
        }),
      );
      const { id } = await api.enqueue(definition, { n: 1 }, { delayMs: 60 * 60_000 });
      expect(await api.cancel(id)).toBe('cancelled');
      const done = await row(id);
      expect(done?.status).toBe('cancelled');
      expect(done?.finishedAt).toBeInstanceOf(Date);
      expect(ran).toBe(false);
      expect(await api.cancel(id)).toBe('already_finished');
    });

    it('cancels a running job from another process: its task sees the signal', async () => {
      const definition = job();
      let sawAbort = false;
      await start(
        new JobRegistry().register(definition, async (_payload, context) => {
          await context.progress({ current: 0, message: 'waiting' });
          await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
          sawAbort = true;
          throw context.signal.reason;
        }),
      );
      const { id } = await api.enqueue(definition, { n: 1 });
      await eventually(async () => (await row(id))?.progress.message === 'waiting');
      // `api` is another adapter instance: the cancel reaches the worker through the jobs table.
      expect(await api.cancel(id)).toBe('cancelling');
      const done = await finished(id);
      expect(done.status).toBe('cancelled');
      expect(sawAbort).toBe(true);
    });

    it('answers not_found when cancelling a job that does not exist', async () => {
      expect(await api.cancel('00000000-0000-4000-8000-000000000000')).toBe('not_found');
    });

    it('returns the same job for the same idempotency key, per owner', async () => {
      const definition = job();
      const owner = '11111111-1111-4111-8111-111111111111';
      const other = '22222222-2222-4222-8222-222222222222';
      const first = await api.enqueue(definition, { n: 1 }, { ownerId: owner, idempotencyKey: 'upload-7' });
      const again = await api.enqueue(definition, { n: 2 }, { ownerId: owner, idempotencyKey: 'upload-7' });
      const otherOwner = await api.enqueue(definition, { n: 1 }, { ownerId: other, idempotencyKey: 'upload-7' });
      const system = await api.enqueue(definition, { n: 1 }, { idempotencyKey: 'upload-7' });
      const systemAgain = await api.enqueue(definition, { n: 1 }, { idempotencyKey: 'upload-7' });
      expect(again).toEqual({ id: first.id, created: false, status: 'queued' });
      expect(first.created).toBe(true);
      expect(otherOwner.id).not.toBe(first.id);
      expect(systemAgain.id).toBe(system.id);
      expect(systemAgain.created).toBe(false);
      expect((await row(first.id))?.payload).toEqual({ n: 1 });
    });

    it('enqueues atomically with the caller’s transaction', async () => {
      const definition = job();
      await start(new JobRegistry().register(definition, async (payload) => payload.n));
      const db = harness.database().db;
      let rolledBackId: string | undefined;
      await db
        .transaction(async (tx) => {
          rolledBackId = (await api.enqueue(definition, { n: 1 }, { tx })).id;
          throw new Error('the caller’s own write failed');
        })
        .catch(() => undefined);
      expect(rolledBackId).toBeDefined();
      expect(await row(rolledBackId ?? '')).toBeUndefined();
      const committed = await db.transaction(async (tx) => api.enqueue(definition, { n: 5 }, { tx }));
      const done = await finished(committed.id);
      expect(done.status).toBe('succeeded');
      expect(done.result).toBe(5);
    });

    it('tells the outcome listener of each final outcome, once, inside the transaction that writes it', async () => {
      const definition = job({ retry: { maxAttempts: 3, backoffMs: 10, maxBackoffMs: 10, jitter: 0 } });
      const marker = job();
      const seen: { id: string; status: string; statusInTx: string | undefined; attempts: number }[] = [];
      const workers = await workerQueue.startWorkers({
        registry: new JobRegistry().register(definition, async (payload, context) => {
          if (payload.n === 1 && context.attempt < 2) throw new Error('transient');
          if (payload.n === 2) throw new PermanentJobError('bad data');
          return { ok: true };
        }),
        async onFinished(finishedJob, tx) {
          const [inTx] = await tx.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, finishedJob.id));
          seen.push({ id: finishedJob.id, status: finishedJob.status, statusInTx: inTx?.status, attempts: finishedJob.attempts });
          // Whatever the listener records commits with the outcome.
          await api.enqueue(marker, { n: 0 }, { tx, idempotencyKey: `after:${finishedJob.id}` });
        },
      });
      running.push(workers);
      const retried = await api.enqueue(definition, { n: 1 });
      const refused = await api.enqueue(definition, { n: 2 });
      await finished(retried.id);
      await finished(refused.id);
      await eventually(async () => seen.length >= 2 || undefined, 15_000, 'both outcomes');
      expect(seen.sort((a, b) => a.status.localeCompare(b.status))).toEqual([
        { id: refused.id, status: 'failed', statusInTx: 'failed', attempts: 1 },
        { id: retried.id, status: 'succeeded', statusInTx: 'succeeded', attempts: 2 },
      ]);
      const markers = await harness
        .database()
        .db.select({ key: jobs.idempotencyKey })
        .from(jobs)
        .where(eq(jobs.type, marker.name));
      expect(markers.map((entry) => entry.key).sort()).toEqual([`after:${refused.id}`, `after:${retried.id}`].sort());
    });

    it('records the outcome when the outcome listener fails, and undoes what the listener wrote', async () => {
      const definition = job();
      const marker = job();
      let calls = 0;
      const workers = await workerQueue.startWorkers({
        registry: new JobRegistry().register(definition, async () => ({ ok: true })),
        async onFinished(_finishedJob, tx) {
          calls += 1;
          await api.enqueue(marker, { n: 0 }, { tx });
          throw new Error('listener bug');
        },
      });
      running.push(workers);
      const { id } = await api.enqueue(definition, { n: 1 });
      const done = await finished(id);
      expect(done).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(calls).toBe(1);
      expect(await harness.database().db.select().from(jobs).where(eq(jobs.type, marker.name))).toEqual([]);
    });

    it('removes finished jobs once their retention has passed, and keeps the others', async () => {
      const definition = job();
      const shortLived = harness.createQueue({ retentionMs: 0 });
      const workers = await shortLived.startWorkers({ registry: new JobRegistry().register(definition, async () => 'ok') });
      running.push(workers);
      const done = await shortLived.enqueue(definition, { n: 1 });
      const pending = await shortLived.enqueue(definition, { n: 2 }, { delayMs: 60 * 60_000 });
      await finished(done.id);
      await eventually(async () => (await shortLived.sweep()) > 0 || (await row(done.id)) === undefined);
      expect(await row(done.id)).toBeUndefined();
      expect((await row(pending.id))?.status).toBe('queued');
    });

    it('hands a running job back to the queue when its worker shuts down', async () => {
      const definition = job();
      const workers = await harness.createQueue().startWorkers({
        registry: new JobRegistry().register(definition, async (_payload, context) => {
          await context.progress({ current: 0, message: 'started' });
          await new Promise(() => undefined);
        }),
      });
      const { id } = await api.enqueue(definition, { n: 1 });
      await eventually(async () => (await row(id))?.progress.message === 'started');
      await workers.close(0);
      const released = await row(id);
      expect(released?.status).toBe('queued');
      expect(released?.attempts).toBe(0);
      await start(new JobRegistry().register(definition, async () => 'finished elsewhere'));
      const done = await finished(id);
      expect(done.status).toBe('succeeded');
      expect(done.result).toBe('finished elsewhere');
    });

    it('re-runs on another worker a job whose worker process was killed mid-run', async () => {
      const queue = uniqueName('q');
      const definition = killTestJob(queue);
      const { id } = await api.enqueue(definition, { marker: 'sigkill' });
      if (harness.exclusiveDatabase) await harness.releaseDatabase();

      const child = spawn(process.execPath, ['--import', 'tsx', 'test/jobs/fixtures/kill-worker.ts'], {
        env: { ...process.env, ...harness.childEnv(), INTAKE_KILL_TEST_CHILD: '1', INTAKE_KILL_TEST_QUEUE: queue },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      onTestFinished(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      await new Promise<void>((resolve, reject) => {
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes(`STARTED ${id}`)) resolve();
        });
        child.on('exit', (code) => reject(new Error(`worker child exited early with ${code}: ${output}`)));
      });
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');

      if (harness.exclusiveDatabase) {
        await harness.reopenDatabase();
        api = harness.createQueue();
      }
      const midway = await row(id);
      expect(midway?.status).toBe('running');
      expect(midway?.progress.message).toBe('started in the child');

      // The dead worker's lease is over for the worker taking over: its clock is a lease ahead.
      await harness.expireLease(queue, id);
      const { killTestRegistry } = await import('./fixtures/kill-job.ts');
      await start(killTestRegistry(queue), harness.createQueue({ clock: takeoverClock() }));
      const done = await finished(id, 30_000);
      expect(done.status).toBe('succeeded');
      expect(done.result).toMatchObject({ marker: 'sigkill', pid: process.pid });
      expect(done.attempts).toBeGreaterThanOrEqual(2);
    }, 60_000);
  });
}
