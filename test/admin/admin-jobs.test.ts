import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineJob, PermanentJobError } from '../../src/jobs/job-definition.ts';
import { JobRegistry } from '../../src/jobs/job-registry.ts';
import { createJobQueue } from '../../src/jobs/job-queue-factory.ts';
import type { JobQueue, RunningWorkers } from '../../src/jobs/job-queue.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';

/** Fails while its payload's key is listed as broken; each run is counted per key. */
const flaky = defineJob({
  name: 'test.flaky',
  queue: 'files',
  payload: Type.Object({ key: Type.String() }),
  retry: { maxAttempts: 1, backoffMs: 10, maxBackoffMs: 10, jitter: 0 },
});
const report = defineJob({ name: 'test.report', queue: 'notifications', payload: Type.Object({ key: Type.String() }) });

/** Queues no worker in this file serves. */
const unserved = defineJob({ name: 'test.unserved', queue: 'test-unserved', payload: Type.Object({ key: Type.String() }) });
const later = defineJob({ name: 'test.later', queue: 'test-later', payload: Type.Object({ key: Type.String() }) });

const broken = new Set<string>();
const runs = new Map<string, number>();

/**
 * The queue dashboard's API through the app, with a worker on the same database (and, when
 * REDIS_URL is set, on BullMQ: the retry must go back through Redis to a worker).
 */
describe('admin job API', () => {
  let subject: TestApp;
  let queue: JobQueue;
  let workers: RunningWorkers;
  let admin: TestUser;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    subject = await createTestApp({ env: { JOBS_POLL_INTERVAL_MS: '50' } });
    // Another handle on the same queue, as an `intake worker` process would have.
    queue = await createJobQueue(subject.config.jobs, subject.database, silentLog);
    const registry = new JobRegistry()
      .register(flaky, async ({ key }) => {
        runs.set(key, (runs.get(key) ?? 0) + 1);
        if (broken.has(key)) throw new PermanentJobError(`${key} is broken`);
        return { key };
      })
      .register(report, async ({ key }) => ({ key }));
    workers = await queue.startWorkers({ registry });
    admin = await subject.createUser({ role: 'admin' });
    alice = await subject.createUser();
    bob = await subject.createUser();
  }, 60_000);

  afterAll(async () => {
    await workers?.close(0);
    await queue?.close();
    await subject?.close();
  });

  const inject = (method: 'GET' | 'POST', url: string, user: TestUser | null = admin) =>
    subject.app.inject({ method, url: `/api/v1${url}`, headers: user ? user.bearer : {} });

  async function settled(id: string, status: string) {
    return eventually(
      async () => {
        const job = (await inject('GET', `/admin/jobs/${id}`)).json();
        return job.status === status ? job : undefined;
      },
      30_000,
      `job ${id} to be ${status}`,
    );
  }

  async function failedJob(ownerId: string) {
    const key = randomUUID();
    broken.add(key);
    const { id } = await queue.enqueue(flaky, { key }, { ownerId });
    const job = await settled(id, 'failed');
    return { id, key, job };
  }

  it('answers 401 without credentials and 403 forbidden to a user who is not an administrator', async () => {
    expect((await inject('GET', '/admin/jobs', null)).json()).toMatchObject({ code: 'unauthenticated' });
    for (const [method, url] of [
      ['GET', '/admin/jobs'],
      ['GET', '/admin/jobs/summary'],
      ['GET', `/admin/jobs/${randomUUID()}`],
      ['POST', `/admin/jobs/${randomUUID()}/retry`],
      ['POST', `/admin/jobs/${randomUUID()}/discard`],
    ] as const) {
      const response = await inject(method, url, alice);
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(response.json()).toMatchObject({ code: 'forbidden' });
    }
  });

  it('lists every user’s jobs, newest first, filtered by queue, type, status, owner and creation time, in pages', async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    const first = await queue.enqueue(report, { key: 'a' }, { ownerId: alice.id });
    const second = await queue.enqueue(report, { key: 'b' }, { ownerId: bob.id });
    await settled(first.id, 'succeeded');
    await settled(second.id, 'succeeded');
    const failed = await failedJob(bob.id);

    const all = (await inject('GET', `/admin/jobs?since=${encodeURIComponent(before)}&limit=100`)).json();
    const ids = all.items.map((item: { id: string }) => item.id);
    expect(ids).toEqual(expect.arrayContaining([first.id, second.id, failed.id]));
    expect(all.items.find((item: { id: string }) => item.id === second.id)).toMatchObject({
      queue: 'notifications',
      type: 'test.report',
      owner_id: bob.id,
      status: 'succeeded',
      worker: null,
    });

    const bobs = (await inject('GET', `/admin/jobs?owner=${bob.id}&limit=100`)).json();
    expect(bobs.items.map((item: { id: string }) => item.id).sort()).toEqual([second.id, failed.id].sort());
    const failures = (await inject('GET', `/admin/jobs?status=failed&owner=${bob.id}`)).json();
    expect(failures).toMatchObject({
      total: 1,
      items: [{ id: failed.id, error: { code: 'invalid_data', message: `${failed.key} is broken` } }],
    });
    const byQueue = (await inject('GET', `/admin/jobs?queue=notifications&owner=${alice.id}`)).json();
    expect(byQueue.items.map((item: { id: string }) => item.id)).toEqual([first.id]);
    const byType = (await inject('GET', `/admin/jobs?type=test.flaky&owner=${bob.id}`)).json();
    expect(byType.items.map((item: { id: string }) => item.id)).toEqual([failed.id]);
    const future = (
      await inject('GET', `/admin/jobs?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)
    ).json();
    expect(future).toMatchObject({ items: [], total: 0 });

    const page = (await inject('GET', `/admin/jobs?owner=${bob.id}&limit=1&offset=1`)).json();
    expect(page).toMatchObject({ total: 2, limit: 1, offset: 1 });
    expect(page.items).toHaveLength(1);
    // Newest first: the failed job was enqueued after bob's report.
    expect(page.items[0].id).toBe(second.id);
  });

  it('rejects malformed filters with 422', async () => {
    expect((await inject('GET', '/admin/jobs?owner=not-a-uuid')).statusCode).toBe(422);
    expect((await inject('GET', '/admin/jobs?since=yesterday')).statusCode).toBe(422);
    expect((await inject('GET', '/admin/jobs?status=exploded')).statusCode).toBe(422);
  });

  it('summarizes counts per queue and state, recent throughput and the oldest waiting job', async () => {
    await failedJob(alice.id);
    const summary = (await inject('GET', '/admin/jobs/summary')).json();
    expect(summary.throughput_window_seconds).toBeGreaterThan(0);
    const names = summary.queues.map((entry: { name: string }) => entry.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['files', 'notifications']));
    const files = summary.queues.find((entry: { name: string }) => entry.name === 'files');
    expect(files.counts.failed).toBeGreaterThanOrEqual(1);
    expect(files.finished_recently.failed).toBeGreaterThanOrEqual(1);
    expect(files).toHaveProperty('oldest_waiting_seconds');
    expect(Array.isArray(summary.workers)).toBe(true);
    expect(Date.parse(summary.generated_at)).not.toBeNaN();

    // A due job no worker takes is waiting; one whose time has not come is not.
    const waiting = await queue.enqueue(unserved, { key: 'due' }, { ownerId: alice.id });
    await queue.enqueue(later, { key: 'later' }, { ownerId: alice.id, delayMs: 3_600_000 });
    const after = (await inject('GET', '/admin/jobs/summary')).json();
    const idle = after.queues.find((entry: { name: string }) => entry.name === unserved.queue);
    expect(idle).toMatchObject({ counts: { queued: 1 }, oldest_waiting_seconds: expect.any(Number) });
    expect(idle.oldest_waiting_seconds).toBeGreaterThanOrEqual(0);
    expect(after.queues.find((entry: { name: string }) => entry.name === later.queue)).toMatchObject({
      counts: { queued: 1 },
      oldest_waiting_seconds: null,
    });
    expect((await inject('GET', `/admin/jobs/${waiting.id}`)).json()).toMatchObject({
      status: 'queued',
      queue: unserved.queue,
      worker: null,
    });
  });

  it('runs a failed job again through a worker when an administrator retries it', async () => {
    const { id, key, job } = await failedJob(alice.id);
    expect(job.attempts).toBe(1);
    expect(runs.get(key)).toBe(1);
    broken.delete(key);

    const retried = await inject('POST', `/admin/jobs/${id}/retry`);
    expect(retried.statusCode).toBe(202);
    expect(retried.json()).toMatchObject({ id, status: 'queued', attempts: 0, error: null, finished_at: null });

    const done = await settled(id, 'succeeded');
    expect(done).toMatchObject({ attempts: 1, result: { key }, error: null });
    expect(runs.get(key)).toBe(2);
    // The owner sees the same job succeed.
    expect((await inject('GET', `/jobs/${id}`, alice)).json()).toMatchObject({ status: 'succeeded' });
  });

  it('answers 409 job_not_failed to a retry or discard of a job that has not failed, and 404 to an unknown one', async () => {
    const { id } = await queue.enqueue(report, { key: 'fine' }, { ownerId: alice.id });
    await settled(id, 'succeeded');
    for (const action of ['retry', 'discard']) {
      const conflict = await inject('POST', `/admin/jobs/${id}/${action}`);
      expect(conflict.statusCode).toBe(409);
      expect(conflict.json()).toMatchObject({ code: 'job_not_failed' });
      const missing = await inject('POST', `/admin/jobs/${randomUUID()}/${action}`);
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toMatchObject({ code: 'job_not_found' });
    }
    expect((await inject('GET', `/admin/jobs/${randomUUID()}`)).json()).toMatchObject({ code: 'job_not_found' });
  });

  it('lets only one of two simultaneous retries through', async () => {
    const { id, key } = await failedJob(bob.id);
    broken.delete(key);
    const answers = await Promise.all([inject('POST', `/admin/jobs/${id}/retry`), inject('POST', `/admin/jobs/${id}/retry`)]);
    expect(answers.map((answer) => answer.statusCode).sort()).toEqual([202, 409]);
    await settled(id, 'succeeded');
    expect(runs.get(key)).toBe(2);
  });

  it('discards a failed job: it leaves the list and is not found afterwards', async () => {
    const { id } = await failedJob(alice.id);
    const discarded = await inject('POST', `/admin/jobs/${id}/discard`);
    expect(discarded.statusCode).toBe(204);
    expect((await inject('GET', `/admin/jobs/${id}`)).statusCode).toBe(404);
    const list = (await inject('GET', `/admin/jobs?owner=${alice.id}&limit=100`)).json();
    expect(list.items.map((item: { id: string }) => item.id)).not.toContain(id);
    expect((await inject('POST', `/admin/jobs/${id}/retry`)).statusCode).toBe(404);
  });

  it('documents the admin endpoints with their security in the OpenAPI document', async () => {
    const document = (await subject.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const [path, method] of [
      ['/api/v1/admin/jobs', 'get'],
      ['/api/v1/admin/jobs/summary', 'get'],
      ['/api/v1/admin/jobs/{id}', 'get'],
      ['/api/v1/admin/jobs/{id}/retry', 'post'],
      ['/api/v1/admin/jobs/{id}/discard', 'post'],
    ] as const) {
      const operation = document.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation.security).toEqual(expect.arrayContaining([{ bearerAuth: [] }]));
      expect(operation.tags).toContain('admin');
    }
  });
});
