import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createJobQueue } from '../../src/jobs/job-queue-factory.ts';
import type { JobQueue } from '../../src/jobs/job-queue.ts';
import { verifySignature } from '../../src/webhooks/webhook-signature.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';
import { startReceiver, type Receiver } from './receiver.ts';

/** Rotating an endpoint's signing secret, with deliveries to a receiver on loopback. */
describe('webhook secret rotation', () => {
  let subject: TestApp;
  let queue: JobQueue;
  let runtime: WorkerRuntime;
  let receiver: Receiver;
  let owner: TestUser;

  beforeAll(async () => {
    subject = await createTestApp({
      env: { JOBS_POLL_INTERVAL_MS: '50', JOBS_RELAY_INTERVAL_MS: '50', WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' },
    });
    queue = await createJobQueue(subject.config.jobs, subject.database, silentLog);
    runtime = await buildWorker(subject.config, { database: subject.database, jobQueue: queue, log: silentLog });
    receiver = await startReceiver();
    owner = await subject.createUser();
  });

  afterAll(async () => {
    await runtime?.close(0);
    await queue?.close();
    await subject?.close();
    await receiver?.close();
  });

  beforeEach(() => {
    receiver.requests.length = 0;
  });

  async function testDelivery(endpointId: string) {
    const queued = await subject.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${endpointId}/test`,
      headers: owner.bearer,
    });
    expect(queued.statusCode).toBe(202);
    return eventually(
      async () => receiver.requests.find((request) => request.headers['intake-delivery-id'] === queued.json().delivery_id),
      30_000,
      'the test delivery',
    );
  }
  const rotate = (endpointId: string, payload: Record<string, unknown>, user = owner) =>
    subject.app.inject({ method: 'POST', url: `/api/v1/webhooks/${endpointId}/rotate-secret`, headers: user.bearer, payload });

  it('signs with the new and the old secret during the overlap, then with the new one only', async () => {
    const created = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: owner.bearer,
      payload: { url: receiver.url, events: ['file.uploaded'] },
    });
    const endpoint = created.json<{ id: string; secret: string }>();

    const rotated = await rotate(endpoint.id, { overlap_seconds: 3600 });
    expect(rotated.statusCode).toBe(200);
    const { secret: newSecret, previous_secret_expires_at } = rotated.json();
    expect(newSecret).not.toBe(endpoint.secret);
    expect(Date.parse(previous_secret_expires_at)).toBeGreaterThan(Date.now());

    const during = await testDelivery(endpoint.id);
    const header = String(during.headers['intake-signature']);
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(verifySignature(newSecret, during.body, header)).toBe(true);
    expect(verifySignature(endpoint.secret, during.body, header)).toBe(true);

    const ended = await rotate(endpoint.id, { overlap_seconds: 0 });
    const latest = ended.json().secret as string;
    expect(ended.json().previous_secret_expires_at).toBeNull();
    const after = await testDelivery(endpoint.id);
    const afterHeader = String(after.headers['intake-signature']);
    expect(afterHeader.match(/v1=/g)).toHaveLength(1);
    expect(verifySignature(latest, after.body, afterHeader)).toBe(true);
    expect(verifySignature(newSecret, after.body, afterHeader)).toBe(false);
  });

  it("answers 404 for someone else's endpoint", async () => {
    const created = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: owner.bearer,
      payload: { url: receiver.url, events: ['file.uploaded'] },
    });
    const stranger = await subject.createUser();
    expect((await rotate(created.json().id, {}, stranger)).statusCode).toBe(404);
  });
});
