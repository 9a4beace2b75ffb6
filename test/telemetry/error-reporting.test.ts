import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInfrastructure, type Infrastructure } from '../../src/composition/infrastructure.ts';
import { defineJob } from '../../src/jobs/job-definition.ts';
import { JobRegistry } from '../../src/jobs/job-registry.ts';
import { jobs } from '../../src/jobs/jobs.schema.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { startLoopbackCollector, type CollectedRequest, type LoopbackCollector } from '../helpers/loopback-collector.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';

const SECRET = `secret-${randomUUID()}`;
const failingJob = defineJob({
  name: 'test.always-breaks',
  queue: 'error-reporting-test',
  payload: Type.Object({ note: Type.String() }),
  retry: { maxAttempts: 1 },
});

interface SentryEvent {
  level: string;
  transaction: string;
  tags: Record<string, string>;
  extra: Record<string, string>;
  exception: { values: { type: string; value: string; stacktrace?: { frames: unknown[] } }[] };
}

/** A Sentry envelope: a header line, then item header and payload lines. */
function eventsIn(request: CollectedRequest): SentryEvent[] {
  const [, ...items] = request.body.split('\n');
  const events: SentryEvent[] = [];
  for (let index = 0; index + 1 < items.length; index += 2) {
    if ((JSON.parse(items[index]!) as { type: string }).type === 'event')
      events.push(JSON.parse(items[index + 1]!) as SentryEvent);
  }
  return events;
}

/**
 * With SENTRY_DSN set, an unexpected 500 and a job attempt failing on an internal error reach a
 * loopback Sentry receiver, named by route template and job type, carrying no header, body or
 * secret; a 4xx is an answer, not an error, and is not reported.
 */
describe('error reporting to Sentry', () => {
  let collector: LoopbackCollector;
  let subject: TestApp;
  let infrastructure: Infrastructure;
  let runtime: WorkerRuntime | undefined;
  let alice: TestUser;

  beforeAll(async () => {
    collector = await startLoopbackCollector();
    subject = await createTestApp({
      env: {
        SENTRY_DSN: `http://publickey@127.0.0.1:${collector.port}/1`,
        SENTRY_ENVIRONMENT: 'ci',
        JOBS_POLL_INTERVAL_MS: '50',
        JOBS_RELAY_INTERVAL_MS: '50',
      },
      routes: (app) =>
        app.post('/api/v1/test/explode/:id', async () => {
          throw new Error('the handler broke');
        }),
    });
    const registry = new JobRegistry().register(failingJob, async () => {
      throw new Error('the job broke');
    });
    // The worker's own infrastructure (its own reporter, as in `intake worker`); its queue enqueues the test job.
    infrastructure = await buildInfrastructure(subject.config, silentLog, { database: subject.database });
    runtime = await buildWorker(subject.config, { infrastructure, registry, log: silentLog });
    alice = await subject.createUser();
  }, 120_000);

  afterAll(async () => {
    await runtime?.close(0);
    await infrastructure?.close();
    await subject?.close();
    await collector?.close();
  });

  it('reports a forced 500 and a failed job attempt, and nothing for a 4xx', async () => {
    const missing = await subject.app.inject({ method: 'GET', url: `/api/v1/files/${randomUUID()}`, headers: alice.bearer });
    expect(missing.statusCode).toBe(404);
    const unauthenticated = await subject.app.inject({ method: 'GET', url: '/api/v1/files' });
    expect(unauthenticated.statusCode).toBe(401);

    const id = randomUUID();
    const exploded = await subject.app.inject({
      method: 'POST',
      url: `/api/v1/test/explode/${id}?token=${SECRET}`,
      headers: { ...alice.bearer, cookie: `session=${SECRET}` },
      payload: { password: SECRET },
    });
    expect(exploded.statusCode).toBe(500);

    const enqueued = await infrastructure.jobQueue.enqueue(failingJob, { note: SECRET });
    await eventually(async () => {
      const [row] = await subject.database.db.select().from(jobs).where(eq(jobs.id, enqueued.id));
      return row?.status === 'failed';
    }, 60_000);

    // Closing waits for the reports still on their way.
    await runtime?.close(0);
    runtime = undefined;
    await infrastructure.close();
    await subject.app.close();

    const envelopes = collector.requests.filter((request) => request.method === 'POST');
    expect(envelopes.map((request) => request.path)).toEqual(['/api/1/envelope/', '/api/1/envelope/']);
    for (const envelope of envelopes) {
      expect(envelope.headers['x-sentry-auth']).toContain('sentry_key=publickey');
      expect(envelope.headers['content-type']).toBe('application/x-sentry-envelope');
    }
    const events = envelopes.flatMap(eventsIn);
    const http = events.find((event) => event.tags.kind === 'http');
    expect(http).toMatchObject({
      level: 'error',
      transaction: 'POST /api/v1/test/explode/:id',
      tags: { method: 'POST', route: '/api/v1/test/explode/:id', status: '500' },
      exception: { values: [{ type: 'Error', value: 'the handler broke' }] },
    });
    expect(http!.exception.values[0]!.stacktrace?.frames.length).toBeGreaterThan(0);
    const failed = events.find((event) => event.tags.kind === 'job');
    expect(failed).toMatchObject({
      transaction: 'error-reporting-test/test.always-breaks',
      tags: { queue: 'error-reporting-test', job_type: 'test.always-breaks', attempt: '1' },
      extra: { job_id: enqueued.id },
      exception: { values: [{ type: 'Error', value: 'the job broke' }] },
    });
    // No URL with its ids and query, no header, no body, no payload.
    const sent = envelopes.map((request) => request.body).join('\n');
    for (const leak of [SECRET, id, alice.accessToken, 'authorization']) expect(sent).not.toContain(leak);
  }, 120_000);
});
