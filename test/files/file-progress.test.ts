import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileProgress } from '../../src/files/file-progress.ts';
import { createJobQueue } from '../../src/jobs/job-queue-factory.ts';
import type { JobEvent, JobQueue } from '../../src/jobs/job-queue.ts';
import type { JobProgress } from '../../src/jobs/jobs.schema.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';
import { uploadOne } from './multipart.ts';

const percent = (progress: JobProgress) => (progress.current / (progress.total ?? 1)) * 100;

describe('FileProgress', () => {
  it('moves from step 1 to step 4 with the share of bytes read, one report per whole percent, never backwards', async () => {
    const reports: JobProgress[] = [];
    const progress = new FileProgress(async (update) => void reports.push(update));
    await progress.step(0);
    await progress.step(1);
    for (let read = 0; read <= 1000; read += 5) {
      progress.bytes({ current: read, total: 1000 });
      await progress.rowsStored(read);
    }
    // A late, smaller position (a batch reported after the last read) does not move it back.
    progress.bytes({ current: 400, total: 1000 });
    await progress.rowsStored(1001);
    await progress.step(4);
    await progress.done();

    const percents = reports.map(percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    const streaming = reports.filter((report) => report.message?.startsWith('store: '));
    expect(streaming.length).toBeGreaterThanOrEqual(50);
    expect(streaming.length).toBeLessThanOrEqual(61);
    expect(streaming.every((report) => report.current > 1 && report.current <= 4)).toBe(true);
    expect(reports.at(-1)).toEqual({ current: 5, total: 5, message: 'done' });
  });

  it('falls back to a row count every 10,000 rows when the size is unknown', async () => {
    const reports: JobProgress[] = [];
    const progress = new FileProgress(async (update) => void reports.push(update));
    await progress.step(1);
    for (let rows = 1000; rows <= 25_000; rows += 1000) await progress.rowsStored(rows);
    expect(reports.map((report) => report.message)).toEqual(['parse', 'store: 10000 rows', 'store: 20000 rows']);
    expect(reports.slice(1).every((report) => report.current === 3)).toBe(true);
  });
});

/**
 * A CSV spanning many reads of the blob, parsed in many batches: its job's progress, as the
 * queue announces it, climbs through intermediate percents instead of jumping.
 */
describe('progress of a large CSV through a worker', () => {
  let subject: TestApp;
  let queue: JobQueue;
  let runtime: WorkerRuntime;
  let alice: TestUser;
  const events: JobEvent[] = [];

  beforeAll(async () => {
    subject = await createTestApp({ env: { JOBS_POLL_INTERVAL_MS: '50', PROCESSING_BATCH_SIZE: '50' } });
    queue = await createJobQueue(subject.config.jobs, subject.database, silentLog, (event) => events.push(event));
    runtime = await buildWorker(subject.config, { database: subject.database, jobQueue: queue, log: silentLog });
    alice = await subject.createUser();
  }, 60_000);

  afterAll(async () => {
    await runtime?.close(0);
    await queue?.close();
    await subject?.close();
  });

  it('reports monotonic percents with many intermediate values derived from the bytes read', async () => {
    // 2,000 rows of ~1 KiB: about 2 MiB, i.e. some 30 reads of the blob and 40 batches.
    const filler = 'x'.repeat(1000);
    const lines = ['id,text'];
    for (let row = 1; row <= 2000; row += 1) lines.push(`${row},${filler}`);
    const file = await uploadOne(subject.app, alice, {
      filename: 'wide.csv',
      contentType: 'text/csv',
      content: `${lines.join('\n')}\n`,
    });

    await eventually(
      async () => events.some((event) => event.kind === 'status' && event.job.id === file.job_id && event.status === 'succeeded'),
      60_000,
      'the job to succeed',
    );
    const progress = events.flatMap((event) =>
      event.kind === 'progress' && event.job.id === file.job_id ? [event.progress] : [],
    );
    const percents = progress.map(percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    const intermediate = new Set(percents.filter((value) => value > 20 && value < 80).map(Math.floor));
    expect(intermediate.size).toBeGreaterThanOrEqual(10);
    expect(progress.some((update) => /^store: \d+ rows$/.test(update.message ?? ''))).toBe(true);
    expect(progress.at(-1)).toEqual({ current: 5, total: 5, message: 'done' });

    const job = (await subject.app.inject({ method: 'GET', url: `/api/v1/jobs/${file.job_id}`, headers: alice.bearer })).json();
    expect(job).toMatchObject({ status: 'succeeded', result: { rows: 2000 }, progress: { percent: 100 } });
  });
});
