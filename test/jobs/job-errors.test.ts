import { Writable } from 'node:stream';
import { and, eq } from 'drizzle-orm';
import pino from 'pino';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInfrastructure, type Infrastructure } from '../../src/composition/infrastructure.ts';
import { createEventBus } from '../../src/events/create-event-bus.ts';
import type { EventBus } from '../../src/events/event-bus.ts';
import { MemoryEventBus } from '../../src/events/memory-event-bus.ts';
import { ownerChannel, type RealtimeEvent } from '../../src/events/realtime-events.ts';
import { defineJob, PermanentJobError } from '../../src/jobs/job-definition.ts';
import { MAX_JOB_ERROR_BYTES } from '../../src/jobs/job-error.ts';
import { JobRegistry } from '../../src/jobs/job-registry.ts';
import { jobs, type JobRow } from '../../src/jobs/jobs.schema.ts';
import { webhookDeliveries, webhookEndpoints } from '../../src/webhooks/webhook.schema.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { eventually, silentLog } from './queue-harness.ts';

/** What a driver error looks like once Drizzle wrapped it: the statement and every parameter in the message. */
function leakyDatabaseError(sqlState: string | undefined): Error {
  const rows = Array.from(
    { length: 20_000 },
    (_, index) => `{"row":${index},"data":{"secret":"customer-${index}@example.test"}}`,
  );
  const driver = Object.assign(new Error('unsupported Unicode escape sequence'), sqlState ? { code: sqlState } : {});
  return new Error(
    `Failed query: insert into "records" ("file_id", "row", "data") select $1 from jsonb_to_recordset($2)\nparams: ${rows.join(',')}`,
    {
      cause: driver,
    },
  );
}

const queue = 'job-errors-test';
// Three attempts allowed: a permanent failure must still use only one.
const retry = { maxAttempts: 3, backoffMs: 10, maxBackoffMs: 10 };
const unstorable = defineJob({ name: 'test.unstorable-data', queue, payload: Type.Object({}), retry });
const brokenInside = defineJob({
  name: 'test.broken-inside',
  queue,
  payload: Type.Object({}),
  retry: { ...retry, maxAttempts: 2 },
});
const wordy = defineJob({ name: 'test.wordy-permanent', queue, payload: Type.Object({}), retry });

/**
 * Issue 15, "errors never carry internals": whatever a handler throws, the job's stored error is a
 * code from a fixed set and a bounded message, and that is all the API, the webhook and the
 * realtime event carry; the SQL and its parameters go to the log under the job id.
 */
describe('job errors', () => {
  let subject: TestApp;
  let infrastructure: Infrastructure;
  let runtime: WorkerRuntime;
  let listener: EventBus;
  let alice: TestUser;
  const events: RealtimeEvent[] = [];
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const sharedBus = process.env.REDIS_URL ? undefined : new MemoryEventBus(silentLog);
    subject = await createTestApp({
      env: { JOBS_POLL_INTERVAL_MS: '50', JOBS_RELAY_INTERVAL_MS: '50', WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' },
      overrides: sharedBus ? { eventBus: sharedBus } : {},
    });
    alice = await subject.createUser();
    listener = sharedBus ?? (await createEventBus(subject.config, silentLog));
    await listener.subscribe(ownerChannel(alice.id), (event) => events.push(event));

    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
            logLines.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      }),
    );
    infrastructure = await buildInfrastructure(subject.config, log, {
      database: subject.database,
      ...(sharedBus ? { eventBus: sharedBus } : {}),
    });
    const registry = new JobRegistry()
      .register(unstorable, async () => {
        throw leakyDatabaseError('22P05');
      })
      .register(brokenInside, async () => {
        throw leakyDatabaseError(undefined);
      })
      .register(wordy, async () => {
        throw new PermanentJobError(`Row 7 is not valid: ${'x'.repeat(2_000_000)}`);
      });
    runtime = await buildWorker(subject.config, { infrastructure, registry, log });

    const endpoint = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: alice.bearer,
      payload: { url: 'http://127.0.0.1:9/hook', events: ['job.failed'] },
    });
    expect(endpoint.statusCode).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await runtime?.close(0);
    await infrastructure?.close();
    if (listener && process.env.REDIS_URL) await listener.close();
    await subject?.close();
  });

  async function failed(id: string): Promise<JobRow> {
    return eventually(async () => {
      const [row] = await subject.database.db.select().from(jobs).where(eq(jobs.id, id));
      return row && ['failed', 'timed_out'].includes(row.status) ? row : undefined;
    }, 60_000);
  }

  /** The error as the job row, GET /jobs/{id}, the job.failed webhook and the realtime event carry it. */
  async function everywhere(row: JobRow) {
    const api = await subject.app.inject({ method: 'GET', url: `/api/v1/jobs/${row.id}`, headers: alice.bearer });
    expect(api.statusCode).toBe(200);
    const delivery = await eventually(async () => {
      const all = await subject.database.db
        .select({ payload: webhookDeliveries.payload })
        .from(webhookDeliveries)
        .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
        .where(and(eq(webhookEndpoints.ownerId, alice.id), eq(webhookDeliveries.eventType, 'job.failed')));
      return all.find((item) => JSON.stringify(item.payload).includes(row.id));
    }, 30_000);
    const event = await eventually(
      async () => events.find((item) => item.type === 'job.status' && item.job_id === row.id && item.status === 'failed'),
      30_000,
    );
    return {
      stored: row.error,
      api: api.json<{ error: unknown }>().error,
      webhook: (delivery.payload as { data: { job: { error: unknown } } }).data.job.error,
      realtime: event.type === 'job.status' ? event.error : undefined,
    };
  }

  function expectBounded(error: unknown): void {
    const text = JSON.stringify(error);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_JOB_ERROR_BYTES);
    expect(Object.keys(error as object).sort()).toEqual(['code', 'message']);
    expect(text).not.toMatch(/insert into|params:|jsonb_to_recordset|customer-|at .*\.ts:/);
  }

  it('fails data the database can never store at once, and shows only a code and a short message', async () => {
    const { id } = await infrastructure.jobQueue.enqueue(unstorable, {}, { ownerId: alice.id });
    const row = await failed(id);
    expect(row.attempts).toBe(1);
    const seen = await everywhere(row);
    expect(seen.stored).toEqual({ code: 'invalid_data', message: expect.stringContaining('SQLSTATE 22P05') });
    for (const error of Object.values(seen)) {
      expectBounded(error);
      expect(error).toEqual(seen.stored);
    }
    // The operator still has the statement, under the job id.
    const logged = logLines.find((line) => line.job_id === id && line.msg === 'job attempt failed');
    expect(JSON.stringify(logged)).toContain('Failed query: insert into');
  });

  it('retries an internal failure, then reports it without its internals', async () => {
    const { id } = await infrastructure.jobQueue.enqueue(brokenInside, {}, { ownerId: alice.id });
    const row = await failed(id);
    expect(row.attempts).toBe(2);
    const seen = await everywhere(row);
    expect(seen.stored).toEqual({ code: 'internal_error', message: expect.stringMatching(/after 2 attempts/) });
    for (const error of Object.values(seen)) {
      expectBounded(error);
      expect(error).toEqual(seen.stored);
    }
  });

  it("cuts a handler's own over-long message to the bound", async () => {
    const { id } = await infrastructure.jobQueue.enqueue(wordy, {}, { ownerId: alice.id });
    const row = await failed(id);
    expect(row.attempts).toBe(1);
    expect(row.error?.code).toBe('invalid_data');
    expect(row.error?.message).toMatch(/^Row 7 is not valid: x+…$/);
    expect(Buffer.byteLength(JSON.stringify(row.error))).toBeLessThanOrEqual(MAX_JOB_ERROR_BYTES);
  });
});
