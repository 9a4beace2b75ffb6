import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobQueue, RunningWorkers } from '../../src/jobs/job-queue.ts';
import type { JobExecutor } from '../../src/jobs/job-executor.ts';
import { withTraceCarrier } from '../../src/jobs/job-definition.ts';
import { jobs, type JobRow } from '../../src/jobs/jobs.schema.ts';
import { createThreadExecutor } from '../../src/jobs/thread-executor.ts';
import { createThreadTestRegistry, inThreadJob, rejectedInThreadJob, waitsInThreadJob } from './fixtures/thread-jobs.ts';
import { createHarness, eventually, silentLog, type QueueHarness } from './queue-harness.ts';

describe('running handlers in worker threads (embedded serve)', () => {
  let harness: QueueHarness;
  let queue: JobQueue;
  let executor: JobExecutor;
  let workers: RunningWorkers;

  beforeAll(async () => {
    harness = await createHarness('pglite', 'embedded');
    queue = harness.createQueue();
    executor = createThreadExecutor({
      threads: 1,
      registry: {
        module: new URL('./fixtures/thread-jobs.ts', import.meta.url).href,
        exportName: 'createThreadTestRegistry',
        settings: null,
      },
      database: harness.database(),
      log: silentLog,
    });
    // The main thread's registry supplies the definitions (queue, limits, retries); the thread runs the handlers.
    workers = await queue.startWorkers({ registry: createThreadTestRegistry(harness.database().db), executor });
  }, 60_000);

  afterAll(async () => {
    await workers?.close(0);
    await executor?.close();
    await harness?.close();
  });

  async function finished(id: string): Promise<JobRow> {
    return eventually(async () => {
      const [row] = await harness.database().db.select().from(jobs).where(eq(jobs.id, id));
      return row && !['queued', 'running'].includes(row.status) ? row : undefined;
    }, 30_000);
  }

  it('runs the handler in another thread, which reads the embedded database through the main thread', async () => {
    const { id } = await queue.enqueue(inThreadJob, { rows: 3 });
    const done = await finished(id);
    expect(done.error).toBeNull();
    expect(done.status).toBe('succeeded');
    const result = done.result as { threadId: number; jobs: number; rows: number };
    expect(result.threadId).toBeGreaterThan(0);
    expect(result.jobs).toBeGreaterThanOrEqual(1);
    expect(result.rows).toBe(3);
    expect(done.progress).toEqual({ current: 1, total: 2, message: 'querying through the main thread' });
  }, 60_000);

  it('hands the trace context a job carries to its handler in the thread, and the payload without it', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    // What a tracing API process enqueues (telemetry/job-tracing.ts): the context in the payload's reserved member.
    const carried = withTraceCarrier({ rows: 1 }, { traceparent }) as { rows: number };
    const { id } = await queue.enqueue(inThreadJob, carried);
    const done = await finished(id);
    expect(done.status).toBe('succeeded');
    expect(done.result).toMatchObject({ payloadKeys: ['rows'], traceparent });
  }, 60_000);

  it('keeps a permanent error permanent across the thread boundary', async () => {
    const { id } = await queue.enqueue(rejectedInThreadJob, {});
    const done = await finished(id);
    expect(done.status).toBe('failed');
    expect(done.attempts).toBe(1);
    expect(done.error).toEqual({ code: 'invalid_data', message: 'bad data' });
  });

  it('delivers a cancellation to the task running in the thread', async () => {
    const { id } = await queue.enqueue(waitsInThreadJob, {});
    await eventually(async () => {
      const [row] = await harness.database().db.select().from(jobs).where(eq(jobs.id, id));
      return row?.progress.message === 'waiting';
    }, 30_000);
    expect(await queue.cancel(id)).toBe('cancelling');
    expect((await finished(id)).status).toBe('cancelled');
  }, 30_000);
});
