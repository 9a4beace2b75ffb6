import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { CSV_SAMPLE, uploadOne } from '../files/multipart.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { startLoopbackCollector, type LoopbackCollector } from '../helpers/loopback-collector.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number; boolValue?: boolean } }[];
  status?: { code?: number };
}

interface OtlpExport {
  resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

const SPAN_KIND = { server: 2, producer: 4, consumer: 5 } as const;

function attribute(span: OtlpSpan, key: string): string | number | boolean | undefined {
  const value = span.attributes.find((entry) => entry.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? value?.boolValue : Number(value.intValue));
}

/**
 * With OTEL_EXPORTER_OTLP_ENDPOINT set, one upload is one trace across processes: the API's
 * request, the enqueue inside it, and the worker's attempt, linked through the context the job
 * carries (the jobs table, and Redis with BullMQ). The API and the worker each export on their
 * own, as two processes would, to a loopback OTLP/HTTP receiver.
 */
describe('tracing', () => {
  let collector: LoopbackCollector;
  let subject: TestApp;
  let runtime: WorkerRuntime | undefined;
  let alice: TestUser;

  beforeAll(async () => {
    collector = await startLoopbackCollector();
    subject = await createTestApp({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.origin,
        OTEL_SERVICE_NAME: 'intake-test',
        JOBS_POLL_INTERVAL_MS: '50',
        JOBS_RELAY_INTERVAL_MS: '50',
      },
    });
    runtime = await buildWorker(subject.config, { database: subject.database, log: silentLog });
    alice = await subject.createUser();
  }, 120_000);

  afterAll(async () => {
    await runtime?.close(0);
    await subject?.close();
    await collector?.close();
  });

  it('links the upload request, the enqueue and the worker attempt in one trace', async () => {
    const file = await uploadOne(subject.app, alice, { filename: 'people.csv', contentType: 'text/csv', content: CSV_SAMPLE });
    await eventually(async () => {
      const job = await subject.app.inject({ method: 'GET', url: `/api/v1/jobs/${file.job_id}`, headers: alice.bearer });
      return job.json<{ status: string }>().status === 'succeeded';
    }, 60_000);
    // Closing flushes each side's exporter: everything they traced has been posted once both are closed.
    await runtime?.close(0);
    runtime = undefined;
    await subject.app.close();

    const uploads = collector.requests.filter((request) => request.method === 'POST' && request.path === '/v1/traces');
    expect(uploads.length).toBeGreaterThan(0);
    expect(uploads.every((request) => request.headers['content-type']?.startsWith('application/json'))).toBe(true);
    const exports = uploads.map((request) => JSON.parse(request.body) as OtlpExport);
    const services = exports.flatMap((body) =>
      body.resourceSpans.map(
        (resource) => resource.resource.attributes.find((entry) => entry.key === 'service.name')?.value.stringValue,
      ),
    );
    expect(new Set(services)).toEqual(new Set(['intake-test']));
    const spans = exports.flatMap((body) =>
      body.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans)),
    );

    const enqueue = spans.find(
      (span) => span.kind === SPAN_KIND.producer && attribute(span, 'messaging.message.id') === file.job_id,
    );
    expect(enqueue, 'the enqueue span of the upload job').toBeDefined();
    expect(enqueue!.name).toBe('files publish');
    expect(attribute(enqueue!, 'intake.job.type')).toBe('files.process');

    const request = spans.find((span) => span.spanId === enqueue!.parentSpanId);
    expect(request, 'the enqueue span’s parent').toBeDefined();
    expect(request).toMatchObject({ kind: SPAN_KIND.server, name: 'POST /api/v1/files', traceId: enqueue!.traceId });
    expect(attribute(request!, 'http.route')).toBe('/api/v1/files');
    expect(attribute(request!, 'http.response.status_code')).toBe(201);

    const attempts = spans.filter(
      (span) => span.kind === SPAN_KIND.consumer && attribute(span, 'messaging.message.id') === file.job_id,
    );
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ name: 'files process', traceId: enqueue!.traceId, parentSpanId: enqueue!.spanId });
    expect(attribute(attempts[0]!, 'intake.job.attempt')).toBe(1);
    expect(attribute(attempts[0]!, 'messaging.system')).toBe(subject.config.jobs.redisUrl ? 'bullmq' : 'intake');

    // Bounded names only: no ids in span names, no query strings or tokens anywhere.
    for (const span of spans) expect(span.name).not.toContain(file.id);
    const everything = uploads.map((upload) => upload.body).join('\n');
    expect(everything).not.toContain(alice.accessToken);
  }, 120_000);
});
