import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobQueue } from '../../src/jobs/job-queue-factory.ts';
import type { JobQueue } from '../../src/jobs/job-queue.ts';
import { inlineExecutor, type JobExecutor } from '../../src/jobs/job-executor.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';
import { multipartBody, uploadOne } from './multipart.ts';

const ROWS = 25_000;
const CSV = `id,value\n${Array.from({ length: ROWS }, (_, index) => `${index},${index * 3}`).join('\n')}\n`;
const RATE_LIMIT = 14;

/**
 * What readers see of a file's processing runs: only a complete run, and one run at a time.
 * The worker's executor can hold a `files.process` attempt once it has stored rows (as the
 * attempt reports), until the job is cancelled: a cancellation provably part-way.
 */
describe('processing runs', () => {
  let subject: TestApp;
  let queue: JobQueue;
  let runtime: WorkerRuntime;
  let alice: TestUser;
  let holdNextRun = false;
  let held: (() => void) | undefined;
  const heldRun = () => new Promise<void>((resolve) => (held = resolve));

  const holding: JobExecutor = {
    execute(job, payload, context) {
      let holding = job.definition.name === 'files.process' && holdNextRun;
      if (holding) holdNextRun = false;
      return inlineExecutor.execute(job, payload, {
        ...context,
        async progress(update) {
          await context.progress(update);
          if (holding && /^store: [1-9]/.test(update.message ?? '')) {
            holding = false;
            held?.();
            // Until the cancellation reaches the attempt; the handler then sees its signal.
            await new Promise<void>((resolve) => {
              if (context.signal.aborted) resolve();
              else context.signal.addEventListener('abort', () => resolve(), { once: true });
            });
          }
        },
      });
    },
    close: async () => undefined,
  };

  beforeAll(async () => {
    subject = await createTestApp({ env: { JOBS_POLL_INTERVAL_MS: '50', PROCESS_RATE_LIMIT_PER_USER: String(RATE_LIMIT) } });
    queue = await createJobQueue(subject.config.jobs, subject.database, silentLog);
    runtime = await buildWorker(subject.config, {
      database: subject.database,
      jobQueue: queue,
      log: silentLog,
      executor: holding,
    });
    alice = await subject.createUser();
  });

  afterAll(async () => {
    await runtime?.close(0);
    await queue?.close();
    await subject?.close();
  });

  const get = (url: string) => subject.app.inject({ method: 'GET', url, headers: alice.bearer });
  const processAgain = (fileId: string) =>
    subject.app.inject({ method: 'POST', url: `/api/v1/files/${fileId}/process`, headers: alice.bearer });

  async function finished(jobId: string) {
    return eventually(async () => {
      const job = (await get(`/api/v1/jobs/${jobId}`)).json();
      return ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(job.status) ? job : undefined;
    }, 120_000);
  }

  async function exportedRows(fileId: string): Promise<number> {
    const body = (await get(`/api/v1/files/${fileId}/records.ndjson`)).body.trim();
    return body === '' ? 0 : body.split('\n').length;
  }

  it('serves no records of a run cancelled part-way, then every record of the run that succeeds', async () => {
    holdNextRun = true;
    const reached = heldRun();
    const file = await uploadOne(subject.app, alice, { filename: 'cancelled.csv', contentType: 'text/csv', content: CSV });
    await reached;
    expect((await get(`/api/v1/jobs/${file.job_id}`)).json().progress.message).toMatch(/^store: [1-9]/);

    const cancel = await subject.app.inject({ method: 'POST', url: `/api/v1/jobs/${file.job_id}/cancel`, headers: alice.bearer });
    expect(cancel.statusCode).toBe(202);
    expect((await finished(file.job_id)).status).toBe('cancelled');
    expect((await get(`/api/v1/files/${file.id}/records`)).json()).toEqual({ items: [], next_cursor: null });
    expect(await exportedRows(file.id)).toBe(0);
    expect((await get(`/api/v1/files/${file.id}`)).json()).toMatchObject({ status: 'uploaded', metadata: null });

    const run = await processAgain(file.id);
    expect((await finished(run.json().job_id)).status).toBe('succeeded');
    expect(await exportedRows(file.id)).toBe(ROWS);
  });

  it('keeps serving the previous complete run while a re-run is under way and after it is cancelled', async () => {
    const file = await uploadOne(subject.app, alice, { filename: 'rerun.csv', contentType: 'text/csv', content: CSV });
    expect((await finished(file.job_id)).status).toBe('succeeded');

    holdNextRun = true;
    const reached = heldRun();
    const rerun = (await processAgain(file.id)).json();
    await reached;
    expect(await exportedRows(file.id)).toBe(ROWS);
    await subject.app.inject({ method: 'POST', url: `/api/v1/jobs/${rerun.job_id}/cancel`, headers: alice.bearer });
    expect((await finished(rerun.job_id)).status).toBe('cancelled');
    expect(await exportedRows(file.id)).toBe(ROWS);
    expect((await get(`/api/v1/files/${file.id}`)).json()).toMatchObject({ status: 'processed', metadata: { rows: ROWS } });
    const page = (await get(`/api/v1/files/${file.id}/records?limit=1&order=desc`)).json();
    expect(page.items).toEqual([{ row: ROWS, data: { id: ROWS - 1, value: (ROWS - 1) * 3 } }]);
  });

  it('answers concurrent processing requests with the one run under way, and limits requests per user', async () => {
    const { body, contentType } = multipartBody([{ filename: 'quiet.csv', contentType: 'text/csv', content: CSV }]);
    const uploaded = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/files?process=false',
      headers: { ...alice.bearer, 'content-type': contentType },
      payload: body,
    });
    const file = uploaded.json().items[0];
    holdNextRun = true;
    const reached = heldRun();

    const answers = await Promise.all(Array.from({ length: 10 }, () => processAgain(file.id)));
    expect(answers.map((answer) => answer.statusCode)).toEqual(Array(10).fill(202));
    const jobIds = new Set(answers.map((answer) => answer.json().job_id));
    expect(jobIds.size).toBe(1);
    const [jobId] = [...jobIds] as [string];
    await reached;
    // Running now: asking again still answers the same run.
    expect((await processAgain(file.id)).json().job_id).toBe(jobId);

    // The earlier tests used 2 of the budget and this one 11 so far: one more is allowed, then 429.
    expect((await processAgain(file.id)).statusCode).toBe(202);
    const limited = await processAgain(file.id);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toEqual(expect.any(String));
    expect(limited.json()).toMatchObject({ code: 'rate_limited' });

    await subject.app.inject({ method: 'POST', url: `/api/v1/jobs/${jobId}/cancel`, headers: alice.bearer });
    expect((await finished(jobId)).status).toBe('cancelled');
  });
});
