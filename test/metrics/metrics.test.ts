import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobMetricsSinkFor } from '../../src/composition/infrastructure.ts';
import { createJobQueue } from '../../src/jobs/job-queue-factory.ts';
import type { JobQueue } from '../../src/jobs/job-queue.ts';
import { allOf } from '../../src/metrics/job-metrics.ts';
import { IntakeMetrics } from '../../src/metrics/metrics.ts';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/metrics-server.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { CSV_SAMPLE, uploadOne } from '../files/multipart.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';
import { TestSocket } from '../realtime/ws-client.ts';
import { labelValues, sampleValue } from './scrape.ts';

const TOKEN = randomUUID();

describe('GET /metrics', () => {
  let subject: TestApp;
  let queue: JobQueue;
  let runtime: WorkerRuntime;
  let workerMetrics: MetricsServer;
  let alice: TestUser;

  beforeAll(async () => {
    subject = await createTestApp({ env: { JOBS_POLL_INTERVAL_MS: '50', METRICS_TOKEN: TOKEN } });
    // The worker counts its jobs on metrics of its own, served on its own port as `intake worker` does.
    const metrics = new IntakeMetrics();
    queue = await createJobQueue(
      subject.config.jobs,
      subject.database,
      silentLog,
      allOf(jobMetricsSinkFor(subject.config, metrics)),
    );
    runtime = await buildWorker(subject.config, { database: subject.database, jobQueue: queue, log: silentLog, metrics });
    workerMetrics = await startMetricsServer({ metrics, host: '127.0.0.1', port: 0, token: TOKEN });
    alice = await subject.createUser();
  });

  afterAll(async () => {
    await workerMetrics?.close();
    await runtime?.close(0);
    await queue?.close();
    await subject?.close();
  });

  const scrapeApi = async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.body;
  };
  const scrapeWorker = async () => {
    const response = await fetch(`${workerMetrics.address}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    return response.text();
  };

  it('refuses a scrape without the token or with another one, as a problem', async () => {
    const missing = await subject.app.inject({ method: 'GET', url: '/metrics' });
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toMatchObject({ code: 'unauthenticated' });
    const wrong = await subject.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 'invalid_token' });
    const worker = await fetch(`${workerMetrics.address}/metrics`);
    expect(worker.status).toBe(401);
    expect(worker.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await worker.json()).toMatchObject({ code: 'unauthenticated', status: 401 });
    expect((await fetch(`${workerMetrics.address}/health`)).status).toBe(200);
  });

  it('labels requests by route template and status class, never by raw URL or id', async () => {
    const id = randomUUID();
    await subject.app.inject({ method: 'GET', url: `/api/v1/files/${id}`, headers: alice.bearer });
    await subject.app.inject({ method: 'GET', url: `/no/such/${id}` });
    const text = await scrapeApi();
    expect(
      sampleValue(text, 'intake_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/api/v1/files/:id',
        status_class: '4xx',
      }),
    ).toBe(1);
    expect(
      sampleValue(text, 'intake_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_class: '4xx' }),
    ).toBe(1);
    expect(text).not.toContain(id);
    expect(sampleValue(text, 'intake_http_requests_in_flight')).toBe(1); // the scrape itself
    // The library's process metrics and event-loop lag come along.
    expect(sampleValue(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(text).toContain('nodejs_eventloop_lag_p99_seconds');
  });

  it('counts an upload on the API and its job on the worker, by queue and type', async () => {
    const before = await scrapeApi();
    const file = await uploadOne(subject.app, alice, { filename: 'people.csv', contentType: 'text/csv', content: CSV_SAMPLE });
    await eventually(async () => {
      const job = (await subject.app.inject({ method: 'GET', url: `/api/v1/jobs/${file.job_id}`, headers: alice.bearer })).json();
      return job.status === 'succeeded';
    }, 60_000);

    const api = await scrapeApi();
    expect(sampleValue(api, 'intake_upload_files_total')! - (sampleValue(before, 'intake_upload_files_total') ?? 0)).toBe(1);
    expect(sampleValue(api, 'intake_upload_bytes_total')! - (sampleValue(before, 'intake_upload_bytes_total') ?? 0)).toBe(
      Buffer.byteLength(CSV_SAMPLE),
    );
    expect(labelValues(api, 'intake_queue_depth', 'queue').sort()).toEqual(['files', 'notifications']);
    expect(sampleValue(api, 'intake_queue_oldest_waiting_seconds', { queue: 'files' })).toBeGreaterThanOrEqual(0);
    // The worker's presence row: one live worker on each queue.
    expect(sampleValue(api, 'intake_queue_workers', { queue: 'files' })).toBe(1);
    expect(sampleValue(api, 'intake_queue_workers', { queue: 'notifications' })).toBe(1);

    const worker = await scrapeWorker();
    const labels = { queue: 'files', type: 'files.process' };
    expect(sampleValue(worker, 'intake_jobs_started_total', labels)).toBe(1);
    expect(sampleValue(worker, 'intake_jobs_succeeded_total', labels)).toBe(1);
    expect(sampleValue(worker, 'intake_job_attempt_duration_seconds_count', { ...labels, outcome: 'succeeded' })).toBe(1);
    expect(sampleValue(worker, 'intake_jobs_failed_total', labels)).toBeUndefined();
  });

  it('counts open WebSockets and the frames sent to them', async () => {
    const address = await subject.app.listen({ host: '127.0.0.1', port: 0 });
    const socket = new TestSocket(`${address.replace('http', 'ws')}/api/v1/ws`, alice.bearer);
    await socket.opened;
    socket.send({ type: 'subscribe', channel: 'user' });
    await socket.until((frame) => frame.type === 'subscribed');
    const open = await scrapeApi();
    expect(sampleValue(open, 'intake_websocket_connections')).toBe(1);
    expect(sampleValue(open, 'intake_websocket_messages_sent_total')).toBeGreaterThanOrEqual(1);
    socket.socket.close();
    await socket.closed;
    await eventually(async () => sampleValue(await scrapeApi(), 'intake_websocket_connections') === 0);
  });
});
