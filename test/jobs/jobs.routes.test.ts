import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedQueue } from '../../src/jobs/embedded-queue.ts';
import { defineJob } from '../../src/jobs/job-definition.ts';
import { JobRegistry } from '../../src/jobs/job-registry.ts';
import type { JobQueue } from '../../src/jobs/job-queue.ts';
import type { App } from '../../src/http/app-types.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { eventually, silentLog, TEST_SETTINGS } from './queue-harness.ts';

const FILE = 'ffffffff-ffff-4fff-8fff-ffffffffffff';

const convert = defineJob({ name: 'test.convert', queue: 'files', payload: Type.Object({ step: Type.Integer() }) });

describe('job routes', () => {
  let subject: TestApp;
  let queue: JobQueue;
  let app: App;
  let alice: TestUser;
  let bob: TestUser;
  let admin: TestUser;
  let ALICE: string;
  let BOB: string;

  beforeAll(async () => {
    subject = await createTestApp();
    app = subject.app;
    // A second handle on the same database queue: the API reads the jobs table either way.
    queue = createEmbeddedQueue(subject.database, TEST_SETTINGS, silentLog);
    alice = await subject.createUser();
    bob = await subject.createUser();
    admin = await subject.createUser({ role: 'admin' });
    ALICE = alice.id;
    BOB = bob.id;
  }, 60_000);

  afterAll(async () => {
    await queue?.close();
    await subject?.close();
  });

  const as = (id: string, role = 'user') => {
    if (role === 'admin') return admin.bearer;
    return id === ALICE ? alice.bearer : bob.bearer;
  };

  it('answers 401 to a caller who is not signed in', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/jobs' });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 'unauthenticated' });
  });

  it('shows the owner a job with its progress, and answers 404 to anyone else', async () => {
    const workers = await queue.startWorkers({
      registry: new JobRegistry().register(convert, async (payload, context) => {
        await context.progress({ current: 3, total: 4, message: 'storing' });
        return { steps: payload.step };
      }),
    });
    const { id } = await queue.enqueue(convert, { step: 2 }, { ownerId: ALICE, fileId: FILE });
    const body = await eventually(async () => {
      const response = await app.inject({ method: 'GET', url: `/api/v1/jobs/${id}`, headers: as(ALICE) });
      const json = response.json();
      return json.status === 'succeeded' ? json : undefined;
    });
    await workers.close();
    expect(body).toMatchObject({
      id,
      type: 'test.convert',
      status: 'succeeded',
      progress: { current: 3, total: 4, percent: 75, message: 'storing' },
      attempts: 1,
      max_attempts: 3,
      result: { steps: 2 },
      error: null,
      file_id: FILE,
    });
    expect(new Date(body.created_at).toISOString()).toBe(body.created_at);
    const foreign = await app.inject({ method: 'GET', url: `/api/v1/jobs/${id}`, headers: as(BOB) });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json()).toMatchObject({ code: 'job_not_found' });
  });

  it('lists only my jobs, filtered by status, with paging', async () => {
    await queue.enqueue(convert, { step: 1 }, { ownerId: BOB, delayMs: 3_600_000 });
    await queue.enqueue(convert, { step: 2 }, { ownerId: BOB, delayMs: 3_600_000 });
    await queue.enqueue(convert, { step: 3 }, { ownerId: ALICE, delayMs: 3_600_000 });
    const response = await app.inject({ method: 'GET', url: '/api/v1/jobs?status=queued&limit=1', headers: as(BOB) });
    expect(response.statusCode).toBe(200);
    const page = response.json();
    expect(page).toMatchObject({ total: 2, limit: 1, offset: 0 });
    expect(page.items).toHaveLength(1);
    expect(page.items[0].status).toBe('queued');
    const invalid = await app.inject({ method: 'GET', url: '/api/v1/jobs?status=exploded', headers: as(BOB) });
    expect(invalid.statusCode).toBe(422);
  });

  it('cancels a queued job, then answers 409 because it has finished', async () => {
    const { id } = await queue.enqueue(convert, { step: 1 }, { ownerId: ALICE, delayMs: 3_600_000 });
    const foreign = await app.inject({ method: 'POST', url: `/api/v1/jobs/${id}/cancel`, headers: as(BOB) });
    expect(foreign.statusCode).toBe(404);
    const cancelled = await app.inject({ method: 'POST', url: `/api/v1/jobs/${id}/cancel`, headers: as(ALICE) });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ id, status: 'cancelled' });
    const again = await app.inject({ method: 'POST', url: `/api/v1/jobs/${id}/cancel`, headers: as(ALICE) });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'job_already_finished' });
  });

  it('shows queue counts per state to admins only', async () => {
    const denied = await app.inject({ method: 'GET', url: '/api/v1/admin/queues', headers: as(ALICE) });
    expect(denied.statusCode).toBe(403);
    const response = await app.inject({ method: 'GET', url: '/api/v1/admin/queues', headers: as(ALICE, 'admin') });
    expect(response.statusCode).toBe(200);
    const { queues } = response.json() as { queues: { name: string; counts: Record<string, number> }[] };
    expect(queues.map((entry) => entry.name)).toEqual(['files', 'notifications']);
    const files = queues[0]?.counts;
    expect(files).toMatchObject({ succeeded: 1, cancelled: 1, queued: 3, running: 0, failed: 0, timed_out: 0 });
  });
});
