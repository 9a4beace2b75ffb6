import type { AddressInfo } from 'node:net';
import { and, eq } from 'drizzle-orm';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../src/jobs/jobs.schema.ts';
import { createJobQueue } from '../../src/jobs/job-queue-factory.ts';
import type { JobQueue } from '../../src/jobs/job-queue.ts';
import { fileFinishedEmailJob } from '../../src/notifications/email.job.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { uploadOne } from '../files/multipart.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';

interface Mail {
  from: string | undefined;
  to: string[];
  data: string;
}

/** E-mail on processing outcomes, sent through the notifications queue to an SMTP server on loopback. */
describe('e-mail notifications', () => {
  let smtp: SMTPServer;
  const mails: Mail[] = [];
  let subject: TestApp;
  let queue: JobQueue;
  let runtime: WorkerRuntime;

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      // Plain SMTP on loopback: the test server has no certificate a client would trust.
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
            to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            // Quoted-printable soft line breaks joined back, so the text can be searched.
            data: Buffer.concat(chunks).toString('utf8').replace(/=\r\n/g, ''),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const { port } = smtp.server.address() as AddressInfo;
    subject = await createTestApp({
      env: {
        JOBS_POLL_INTERVAL_MS: '50',
        JOBS_RELAY_INTERVAL_MS: '50',
        SMTP_URL: `smtp://127.0.0.1:${port}`,
        EMAIL_FROM: 'Intake <intake@example.test>',
      },
    });
    queue = await createJobQueue(subject.config.jobs, subject.database, silentLog);
    runtime = await buildWorker(subject.config, { database: subject.database, jobQueue: queue, log: silentLog });
  });

  afterAll(async () => {
    await runtime?.close(0);
    await queue?.close();
    await subject?.close();
    await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  });

  async function uploadAndFinish(user: TestUser, filename: string, content: string): Promise<{ id: string; job_id: string }> {
    const file = await uploadOne(subject.app, user, {
      filename,
      contentType: filename.endsWith('.csv') ? 'text/csv' : 'application/json',
      content,
    });
    await eventually(async () => {
      const job = (await subject.app.inject({ method: 'GET', url: `/api/v1/jobs/${file.job_id}`, headers: user.bearer })).json();
      return ['succeeded', 'failed'].includes(job.status) || undefined;
    }, 30_000);
    return file;
  }

  async function optIn(user: TestUser, on: boolean) {
    const response = await subject.app.inject({
      method: 'PUT',
      url: '/api/v1/users/me/notifications',
      headers: user.bearer,
      payload: { email_on_file_finished: on },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ email_on_file_finished: on, email_available: true });
  }

  it('is off until the user opts in', async () => {
    const user = await subject.createUser();
    const response = await subject.app.inject({ method: 'GET', url: '/api/v1/users/me/notifications', headers: user.bearer });
    expect(response.json()).toEqual({ email_on_file_finished: false, email_available: true });
  });

  it('mails a user who opted in when a file is processed and when one fails', async () => {
    const user = await subject.createUser();
    await optIn(user, true);
    const good = await uploadAndFinish(user, 'people.csv', 'name\nada\n');
    const processed = await eventually(
      async () => mails.find((mail) => mail.data.includes(good.id)),
      30_000,
      'the processed mail',
    );
    expect(processed.to).toEqual([user.email.toLowerCase()]);
    expect(processed.from).toBe('intake@example.test');
    expect(processed.data).toMatch(/Subject: Processed: people\.csv/);
    expect(processed.data).toContain(good.job_id);

    const bad = await uploadAndFinish(user, 'deep.json', `[{"a":[${'['.repeat(5_000)}${']'.repeat(5_000)}]}]`);
    const failed = await eventually(async () => mails.find((mail) => mail.data.includes(bad.id)), 30_000, 'the failure mail');
    expect(failed.data).toMatch(/Subject: Processing failed: deep\.json/);
  });

  it('sends nothing to a user who has not opted in, or who opted out again', async () => {
    const user = await subject.createUser();
    const first = await uploadAndFinish(user, 'quiet.csv', 'a\n1\n');
    await optIn(user, true);
    await optIn(user, false);
    const second = await uploadAndFinish(user, 'quiet2.csv', 'a\n2\n');
    // The outcome and any e-mail job are written in one transaction: once the job has finished, no mail job exists.
    const queued = await subject.database.db
      .select({ id: jobs.id, payload: jobs.payload })
      .from(jobs)
      .where(and(eq(jobs.type, fileFinishedEmailJob.name)));
    const mine = queued.filter((job) => [first.id, second.id].includes((job.payload as { file_id: string }).file_id));
    expect(mine).toEqual([]);
    expect(mails.filter((mail) => mail.to.includes(user.email.toLowerCase()))).toEqual([]);
  });
});
