import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createJobQueue } from '../../src/jobs/job-queue-factory.ts';
import type { JobQueue } from '../../src/jobs/job-queue.ts';
import { outboundGuardFor } from '../../src/webhooks/webhook-delivery.job.ts';
import { WebhookPublisher } from '../../src/webhooks/webhook-events.ts';
import { loadSecretBox, verifySignature } from '../../src/webhooks/webhook-signature.ts';
import { webhookDeliveries, webhookDeliveryAttempts } from '../../src/webhooks/webhook.schema.ts';
import { WebhookService } from '../../src/webhooks/webhook.service.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { multipartBody, uploadOne } from '../files/multipart.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';
import { startReceiver, type Receiver } from './receiver.ts';

const RETRY_BASE_MS = 300;

/**
 * Webhooks end to end: the API records endpoints and events, a real worker beside it (BullMQ
 * when REDIS_URL is set) delivers them to a receiver on loopback, which this file allows
 * explicitly (WEBHOOK_ALLOWED_CIDRS); every other private address stays refused.
 */
describe('webhooks', () => {
  let subject: TestApp;
  let queue: JobQueue;
  let runtime: WorkerRuntime;
  let receiver: Receiver;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    subject = await createTestApp({
      env: {
        JOBS_POLL_INTERVAL_MS: '50',
        JOBS_RELAY_INTERVAL_MS: '50',
        WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
        // 300 ms, 600 ms, 1200 ms fit in 3 s; a fourth retry (2400 ms more) would not: 4 attempts.
        WEBHOOK_RETRY_BASE_MS: String(RETRY_BASE_MS),
        WEBHOOK_RETRY_MAX_DELAY_MS: '5000',
        WEBHOOK_RETRY_WINDOW_SECONDS: '3',
      },
    });
    queue = await createJobQueue(subject.config.jobs, subject.database, silentLog);
    runtime = await buildWorker(subject.config, { database: subject.database, jobQueue: queue, log: silentLog });
    receiver = await startReceiver();
    alice = await subject.createUser();
    bob = await subject.createUser();
  });

  afterAll(async () => {
    await runtime?.close(0);
    await queue?.close();
    await subject?.close();
    await receiver?.close();
  });

  beforeEach(() => {
    receiver.requests.length = 0;
    receiver.respond = () => ({ status: 204 });
  });

  async function createEndpoint(user: TestUser, body: Record<string, unknown>) {
    return subject.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: user.bearer, payload: body });
  }

  async function deliveries(user: TestUser, endpointId: string) {
    const response = await subject.app.inject({
      method: 'GET',
      url: `/api/v1/webhooks/${endpointId}/deliveries`,
      headers: user.bearer,
    });
    expect(response.statusCode).toBe(200);
    return response.json<{ items: Delivery[]; total: number }>();
  }

  it('creates, lists, reads, updates and deletes endpoints, showing the secret only at creation', async () => {
    const created = await createEndpoint(alice, { url: receiver.url, events: ['file.uploaded'], description: 'crm' });
    expect(created.statusCode).toBe(201);
    const endpoint = created.json();
    expect(endpoint).toMatchObject({ url: receiver.url, events: ['file.uploaded'], description: 'crm', active: true });
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(created.headers.location).toBe(`/api/v1/webhooks/${endpoint.id}`);

    const read = await subject.app.inject({ method: 'GET', url: `/api/v1/webhooks/${endpoint.id}`, headers: alice.bearer });
    expect(read.statusCode).toBe(200);
    expect(read.json()).not.toHaveProperty('secret');
    expect(read.body).not.toContain(endpoint.secret);

    const list = await subject.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: alice.bearer });
    expect(list.json()).toMatchObject({ total: 1, limit: 20, offset: 0 });
    expect(list.body).not.toContain(endpoint.secret);

    const patched = await subject.app.inject({
      method: 'PATCH',
      url: `/api/v1/webhooks/${endpoint.id}`,
      headers: alice.bearer,
      payload: { events: ['job.failed', 'file.failed'], active: false, description: null },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ events: ['job.failed', 'file.failed'], active: false, description: null });

    const removed = await subject.app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${endpoint.id}`, headers: alice.bearer });
    expect(removed.statusCode).toBe(204);
    expect(
      (await subject.app.inject({ method: 'GET', url: `/api/v1/webhooks/${endpoint.id}`, headers: alice.bearer })).statusCode,
    ).toBe(404);
  });

  it("answers 404 for someone else's endpoint, whatever the method", async () => {
    const endpoint = (await createEndpoint(alice, { url: receiver.url, events: ['job.succeeded'] })).json();
    const base = `/api/v1/webhooks/${endpoint.id}`;
    for (const [method, url, payload] of [
      ['GET', base, undefined],
      ['PATCH', base, { active: false }],
      ['DELETE', base, undefined],
      ['POST', `${base}/test`, undefined],
      ['GET', `${base}/deliveries`, undefined],
      ['POST', `${base}/deliveries/${endpoint.id}/redeliver`, undefined],
    ] as const) {
      const response = await subject.app.inject({ method, url, headers: bob.bearer, ...(payload ? { payload } : {}) });
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(response.json().code).toBe('webhook_not_found');
    }
    expect((await subject.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: bob.bearer })).json().total).toBe(0);
    expect((await subject.app.inject({ method: 'GET', url: base })).statusCode).toBe(401);
  });

  it('refuses URLs that are not http(s), carry credentials or point at private addresses, with a clear 422', async () => {
    const cases: [string, RegExp][] = [
      ['ftp://example.com/hook', /only http and https/],
      ['http://user:pass@127.0.0.1:9/hook', /user name or password/],
      ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a private, loopback, link-local or reserved address/],
      ['http://10.1.2.3/hook', /10\.1\.2\.3 is a private/],
      ['http://[::1]:8080/hook', /::1 is a private/],
      ['http://[::ffff:169.254.169.254]/hook', /private/],
      ['http://[fd00::1]/hook', /private/],
      ['not a url', /absolute URL/],
    ];
    for (const [url, message] of cases) {
      const response = await createEndpoint(alice, { url, events: ['file.uploaded'] });
      expect(response.statusCode, url).toBe(422);
      expect(response.json()).toMatchObject({ code: 'webhook_url_refused', errors: [{ path: '/url' }] });
      expect(response.json().detail, url).toMatch(message);
    }
    expect((await createEndpoint(alice, { url: receiver.url, events: ['nope'] })).statusCode).toBe(422);
    expect((await createEndpoint(alice, { url: receiver.url, events: [] })).statusCode).toBe(422);
  });

  it('delivers a signed file.uploaded and file.processed for a real upload and its processing', async () => {
    const user = await subject.createUser();
    const endpoint = (
      await createEndpoint(user, { url: receiver.url, events: ['file.uploaded', 'file.processed', 'job.succeeded'] })
    ).json();
    const file = await uploadOne(subject.app, user, {
      filename: 'people.csv',
      contentType: 'text/csv',
      content: 'name,age\nada,36\n',
    });

    await eventually(async () => receiver.requests.length >= 3 || undefined, 30_000, 'three deliveries');
    const types = receiver.requests.map((request) => request.headers['intake-event-type']).sort();
    expect(types).toEqual(['file.processed', 'file.uploaded', 'job.succeeded']);
    for (const request of receiver.requests) {
      const header = String(request.headers['intake-signature']);
      expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verifySignature(endpoint.secret, request.body, header)).toBe(true);
      // Any change to the body, or another secret, breaks the signature.
      expect(verifySignature(endpoint.secret, `${request.body} `, header)).toBe(false);
      expect(verifySignature('whsec_other', request.body, header)).toBe(false);
      const event = JSON.parse(request.body);
      expect(Object.keys(event).sort()).toEqual(['created_at', 'data', 'id', 'type']);
      expect(request.headers['intake-event-id']).toBe(event.id);
      expect(request.headers['content-type']).toBe('application/json');
    }
    const byType = Object.fromEntries(
      receiver.requests.map((request) => [request.headers['intake-event-type'], JSON.parse(request.body)]),
    );
    expect(byType['file.uploaded'].data.file).toMatchObject({ id: file.id, filename: 'people.csv', status: 'uploaded' });
    expect(byType['file.processed'].data).toMatchObject({ file: { id: file.id, status: 'processed' }, job_id: file.job_id });
    expect(byType['job.succeeded'].data.job).toMatchObject({
      id: file.job_id,
      type: 'files.process',
      status: 'succeeded',
      result: { rows: 1 },
    });

    // A signature older than five minutes is a replay: refused.
    const request = receiver.requests[0]!;
    const header = String(request.headers['intake-signature']);
    const signedAt = Number(/t=(\d+)/.exec(header)?.[1]);
    expect(verifySignature(endpoint.secret, request.body, header, signedAt + 301)).toBe(false);

    // The receiver answers before the delivery job records its outcome: wait for the log.
    const log = await eventually(
      async () => {
        const page = await deliveries(user, endpoint.id);
        return page.items.every((item) => item.status === 'succeeded') && page.total === 3 ? page : undefined;
      },
      30_000,
      'three delivered entries in the log',
    );
    expect(log.items.every((item) => item.attempt === 1 && item.status_code === 204)).toBe(true);
  });

  it('announces a completed direct upload as file.uploaded', async () => {
    const user = await subject.createUser();
    await createEndpoint(user, { url: receiver.url, events: ['file.uploaded'] });
    const content = 'name\nada\n';
    const start = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/uploads',
      headers: user.bearer,
      payload: { filename: 'direct.csv', content_type: 'text/csv', size_bytes: content.length },
    });
    expect(start.statusCode).toBe(201);
    const { file_id, upload_url, method, headers } = start.json();
    const target = new URL(upload_url);
    const put = await subject.app.inject({ method, url: `${target.pathname}${target.search}`, headers, payload: content });
    expect(put.statusCode).toBeLessThan(300);
    // Nothing is announced before the upload is verified and recorded.
    expect(receiver.requests).toHaveLength(0);
    const complete = await subject.app.inject({
      method: 'POST',
      url: `/api/v1/files/${file_id}/complete?process=false`,
      headers: user.bearer,
    });
    expect(complete.statusCode).toBe(200);
    const request = await eventually(async () => receiver.requests[0], 30_000, 'the file.uploaded delivery');
    expect(JSON.parse(request.body)).toMatchObject({
      type: 'file.uploaded',
      data: { file: { id: file_id, status: 'uploaded' } },
    });
  });

  it('limits how many endpoints one account may have', async () => {
    const user = await subject.createUser();
    for (let index = 0; index < 25; index += 1) {
      expect((await createEndpoint(user, { url: `${receiver.url}/${index}`, events: ['job.failed'] })).statusCode).toBe(201);
    }
    const over = await createEndpoint(user, { url: receiver.url, events: ['job.failed'] });
    expect(over.statusCode).toBe(409);
    expect(over.json().code).toBe('conflict');
  });

  it('announces a failed processing as file.failed and job.failed', async () => {
    const user = await subject.createUser();
    const endpoint = (await createEndpoint(user, { url: receiver.url, events: ['file.failed', 'job.failed'] })).json();
    const { body, contentType } = multipartBody([
      { filename: 'deep.json', contentType: 'application/json', content: `[{"a":[${'['.repeat(5_000)}${']'.repeat(5_000)}]}]` },
    ]);
    const upload = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: { ...user.bearer, 'content-type': contentType },
      payload: body,
    });
    expect(upload.statusCode).toBe(201);
    const file = upload.json().items[0];
    await eventually(
      async () =>
        (await deliveries(user, endpoint.id)).items.filter((item) => item.status === 'succeeded').length === 2 || undefined,
      30_000,
    );
    const events = receiver.requests.map((request) => JSON.parse(request.body));
    const failed = events.find((event) => event.type === 'file.failed');
    expect(failed.data).toMatchObject({
      file: { id: file.id, status: 'failed' },
      job_id: file.job_id,
      error: { message: expect.any(String) },
    });
    expect(events.find((event) => event.type === 'job.failed').data.job).toMatchObject({ id: file.job_id, status: 'failed' });
  });

  it('retries after 500s with exponential backoff, logs every attempt, and stops when the window is spent', async () => {
    const endpoint = (await createEndpoint(alice, { url: receiver.url, events: ['job.failed'] })).json();
    receiver.respond = () => ({ status: 500 });
    const test = await subject.app.inject({ method: 'POST', url: `/api/v1/webhooks/${endpoint.id}/test`, headers: alice.bearer });
    expect(test.statusCode).toBe(202);
    expect(test.json()).toMatchObject({ event_type: 'webhook.test', status_url: `/api/v1/webhooks/${endpoint.id}/deliveries` });

    const delivery = await eventually(
      async () => {
        const item = (await deliveries(alice, endpoint.id)).items.find((entry) => entry.id === test.json().delivery_id);
        return item?.status === 'failed' ? item : undefined;
      },
      30_000,
      'the delivery to give up',
    );
    expect(receiver.requests).toHaveLength(4);
    expect(delivery).toMatchObject({ attempt: 4, status_code: 500, error: 'HTTP 500', next_attempt_at: null });
    expect(delivery.attempts.map((attempt) => [attempt.attempt, attempt.status_code, attempt.error])).toEqual([
      [1, 500, 'HTTP 500'],
      [2, 500, 'HTTP 500'],
      [3, 500, 'HTTP 500'],
      [4, 500, 'HTTP 500'],
    ]);
    // Each wait is at least the backoff (base × 2^(n-1)) less its jitter (at most 20 %).
    const starts = receiver.requests.map((request) => request.at);
    for (let retry = 1; retry < starts.length; retry += 1) {
      const gap = starts[retry]! - starts[retry - 1]!;
      expect(gap, `wait before attempt ${retry + 1}`).toBeGreaterThanOrEqual(RETRY_BASE_MS * 2 ** (retry - 1) * 0.8 - 5);
    }
    // The same event, every time: one id, and the attempt number in its own header.
    expect(new Set(receiver.requests.map((request) => request.headers['intake-event-id'])).size).toBe(1);
    expect(receiver.requests.map((request) => request.headers['intake-delivery-attempt'])).toEqual(['1', '2', '3', '4']);
  });

  it('succeeds on a retry after a 503, and redelivers the same event by hand as a new delivery', async () => {
    const endpoint = (await createEndpoint(alice, { url: receiver.url, events: ['job.failed'] })).json();
    receiver.respond = (_request, index) => ({ status: index === 0 ? 503 : 200 });
    const test = (
      await subject.app.inject({ method: 'POST', url: `/api/v1/webhooks/${endpoint.id}/test`, headers: alice.bearer })
    ).json();
    const succeeded = await eventually(async () => {
      const item = (await deliveries(alice, endpoint.id)).items.find((entry) => entry.id === test.delivery_id);
      return item?.status === 'succeeded' ? item : undefined;
    }, 30_000);
    expect(succeeded.attempts.map((attempt) => attempt.status_code)).toEqual([503, 200]);
    expect(succeeded.duration_ms).toEqual(expect.any(Number));

    const again = await subject.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${endpoint.id}/deliveries/${test.delivery_id}/redeliver`,
      headers: alice.bearer,
    });
    expect(again.statusCode).toBe(202);
    expect(again.json().event_id).toBe(test.event_id);
    const redelivered = await eventually(async () => {
      const item = (await deliveries(alice, endpoint.id)).items.find((entry) => entry.id === again.json().delivery_id);
      return item?.status === 'succeeded' ? item : undefined;
    }, 30_000);
    expect(redelivered).toMatchObject({ redelivery_of: test.delivery_id, attempt: 1, event_id: test.event_id });
    expect(receiver.requests).toHaveLength(3);
    expect(receiver.requests[2]!.body).toBe(receiver.requests[0]!.body);

    const missing = await subject.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${endpoint.id}/deliveries/00000000-0000-4000-8000-000000000000/redeliver`,
      headers: alice.bearer,
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('webhook_delivery_not_found');
  });

  it('records a redirect as a failed attempt and never follows it', async () => {
    const endpoint = (await createEndpoint(alice, { url: receiver.url, events: ['job.failed'] })).json();
    receiver.respond = (_request, index) =>
      index === 0 ? { status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/' } } : { status: 200 };
    const test = (
      await subject.app.inject({ method: 'POST', url: `/api/v1/webhooks/${endpoint.id}/test`, headers: alice.bearer })
    ).json();
    const done = await eventually(async () => {
      const item = (await deliveries(alice, endpoint.id)).items.find((entry) => entry.id === test.delivery_id);
      return item?.status === 'succeeded' ? item : undefined;
    }, 30_000);
    expect(done.attempts[0]).toMatchObject({ status_code: 302, error: expect.stringMatching(/redirects are not followed/) });
    expect(receiver.requests).toHaveLength(2);
  });

  // Last: it empties the delivery log of every endpoint in this file.
  it('sweeps finished deliveries past retention, with their attempts', async () => {
    const db = subject.database.db;
    const service = new WebhookService(
      db,
      outboundGuardFor(subject.config.webhooks),
      () => loadSecretBox(subject.config.webhooks),
      new WebhookPublisher(queue, subject.config.webhooks),
      async () => new Map(),
    );
    const finishedBefore = await db
      .select({ id: webhookDeliveries.id })
      .from(webhookDeliveries)
      .where(inArray(webhookDeliveries.status, ['succeeded', 'failed']));
    expect(finishedBefore.length).toBeGreaterThan(0);
    expect(await service.sweepLog(new Date(Date.now() - 3600_000))).toBe(0);
    expect(await service.sweepLog(new Date(Date.now() + 1_000))).toBe(finishedBefore.length);
    expect(
      await db
        .select()
        .from(webhookDeliveryAttempts)
        .where(
          inArray(
            webhookDeliveryAttempts.deliveryId,
            finishedBefore.map((row) => row.id),
          ),
        ),
    ).toEqual([]);
  });
});

interface Delivery {
  id: string;
  event_id: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempt: number;
  status_code: number | null;
  duration_ms: number | null;
  error: string | null;
  next_attempt_at: string | null;
  redelivery_of: string | null;
  attempts: { attempt: number; status_code: number | null; duration_ms: number; error: string | null }[];
}
