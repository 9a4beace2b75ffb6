import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { jobAttemptLog } from '../../src/jobs/job-attempt-log.ts';
import type { JobEvent, JobEventSubject } from '../../src/jobs/job-queue.ts';
import { IntakeMetrics } from '../../src/metrics/metrics.ts';
import { jobMetricsSink } from '../../src/metrics/job-metrics.ts';
import { sampleValue } from '../metrics/scrape.ts';

/** What the queue's store emits, as status events for one job (a small fake of the store's side). */
function subject(attempt: number, id = 'job-1'): JobEventSubject {
  return { id, type: 'files.process', queue: 'files', attempt, ownerId: null, fileId: null };
}
const status = (
  job: JobEventSubject,
  value: Extract<JobEvent, { kind: 'status' }>['status'],
  error: { code: string; message: string } | null = null,
) => ({ kind: 'status', job, status: value, error }) as unknown as JobEvent;

function recording() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { lines, log };
}

describe('job attempt log', () => {
  it('writes one line when an attempt starts and one when it ends, with duration, outcome and error code', () => {
    const { lines, log } = recording();
    let now = 1_000;
    const sink = jobAttemptLog(
      log,
      () => 'worker-a',
      () => now,
    );
    sink(status(subject(1), 'running'));
    now += 250;
    sink(status(subject(1), 'queued', { code: 'internal_error', message: 'retried' }));
    sink(status(subject(2), 'running'));
    now += 100;
    sink(status(subject(2), 'failed', { code: 'invalid_data', message: 'bad row' }));

    expect(lines.map((line) => [line.msg, line.outcome ?? null, line.attempt])).toEqual([
      ['job attempt started', null, 1],
      ['job attempt ended', 'retry', 1],
      ['job attempt started', null, 2],
      ['job attempt ended', 'failed', 2],
    ]);
    expect(lines[1]).toMatchObject({
      job_id: 'job-1',
      type: 'files.process',
      queue: 'files',
      worker_id: 'worker-a',
      duration_ms: 250,
      error_code: 'internal_error',
      level: 30,
    });
    expect(lines[3]).toMatchObject({ duration_ms: 100, error_code: 'invalid_data', level: 40 });
  });

  it('tells an attempt handed back at shutdown from a retry: the hand-back does not count the attempt', () => {
    const { lines, log } = recording();
    const sink = jobAttemptLog(log, () => 'worker-a');
    sink(status(subject(2), 'running'));
    // The row keeps the previous attempt's error; the count drops back to 1.
    sink(status(subject(1), 'queued', { code: 'internal_error', message: 'from attempt 1' }));
    expect(lines[1]).toMatchObject({ msg: 'job attempt ended', outcome: 'released', error_code: null });
  });

  it('warns when this process takes back a stalled job, naming itself, and counts it', () => {
    const { lines, log } = recording();
    const metrics = new IntakeMetrics({ defaultMetrics: false });
    const events = [
      status(subject(1, 'job-9'), 'queued', { code: 'stalled', message: 'the worker stopped' }),
      status(subject(3, 'job-8'), 'failed', { code: 'stalled', message: 'x' }),
    ];
    const log_ = jobAttemptLog(log, () => 'worker-b');
    const counted = jobMetricsSink(metrics);
    for (const event of events) {
      log_(event);
      counted(event);
    }
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        job_id: 'job-9',
        recovered_by: 'worker-b',
        requeued: true,
        msg: expect.stringContaining('queued again'),
      }),
      expect.objectContaining({
        level: 40,
        job_id: 'job-8',
        recovered_by: 'worker-b',
        requeued: false,
        msg: expect.stringContaining('it failed'),
      }),
    ]);
    return metrics.exposition().then(({ body }) => {
      expect(sampleValue(body, 'intake_jobs_stalled_total', { queue: 'files', type: 'files.process' })).toBe(2);
      expect(sampleValue(body, 'intake_jobs_failed_total', { queue: 'files', error_code: 'stalled' })).toBe(1);
    });
  });

  it('counts a stall BullMQ noticed after the new attempt had started here, and still ends that attempt', async () => {
    const { lines, log } = recording();
    const metrics = new IntakeMetrics({ defaultMetrics: false });
    const log_ = jobAttemptLog(log, () => 'worker-c');
    const counted = jobMetricsSink(metrics);
    const events: JobEvent[] = [
      status(subject(2, 'job-7'), 'running'),
      { kind: 'stalled', job: subject(2, 'job-7') },
      status(subject(2, 'job-7'), 'succeeded'),
    ];
    for (const event of events) {
      log_(event);
      counted(event);
    }
    expect(lines.map((line) => [line.msg, line.recovered_by ?? null, line.outcome ?? null])).toEqual([
      ['job attempt started', null, null],
      ['recovered a stalled job: its worker stopped responding; it is queued again', 'worker-c', null],
      ['job attempt ended', null, 'succeeded'],
    ]);
    const { body } = await metrics.exposition();
    expect(sampleValue(body, 'intake_jobs_stalled_total', { queue: 'files', type: 'files.process' })).toBe(1);
    expect(sampleValue(body, 'intake_jobs_succeeded_total', { queue: 'files', type: 'files.process' })).toBe(1);
  });

  it("counts webhook deliveries by outcome from the delivery job's attempts", async () => {
    const metrics = new IntakeMetrics({ defaultMetrics: false });
    const sink = jobMetricsSink(metrics, { webhookJobType: 'webhooks.deliver' });
    const job = (attempt: number): JobEventSubject => ({
      ...subject(attempt, 'delivery-1'),
      type: 'webhooks.deliver',
      queue: 'notifications',
    });
    sink(status(job(1), 'running'));
    sink(status(job(1), 'queued', { code: 'internal_error', message: 'HTTP 500' }));
    sink(status(job(2), 'running'));
    sink(status(job(2), 'succeeded'));
    const { body } = await metrics.exposition();
    expect(sampleValue(body, 'intake_webhook_deliveries_total', { outcome: 'retrying' })).toBe(1);
    expect(sampleValue(body, 'intake_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(sampleValue(body, 'intake_jobs_retried_total', { queue: 'notifications', type: 'webhooks.deliver' })).toBe(1);
  });
});
