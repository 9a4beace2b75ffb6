import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobQueue } from '../../src/jobs/job-queue-factory.ts';
import type { JobQueue } from '../../src/jobs/job-queue.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { DEFAULT_PASSWORD, createTestApp, type TestApp } from '../helpers/app.ts';
import { linkToken, startMailCatcher, type MailCatcher } from '../helpers/smtp.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';

/** EMAIL_VERIFICATION=required, with links mailed through a real SMTP server on loopback. */
describe('e-mail verification (required)', () => {
  let smtp: MailCatcher;
  let subject: TestApp;
  let queue: JobQueue;
  let runtime: WorkerRuntime;

  beforeAll(async () => {
    smtp = await startMailCatcher();
    subject = await createTestApp({
      env: { JOBS_POLL_INTERVAL_MS: '50', JOBS_RELAY_INTERVAL_MS: '50', SMTP_URL: smtp.url, EMAIL_VERIFICATION: 'required' },
    });
    queue = await createJobQueue(subject.config.jobs, subject.database, silentLog);
    runtime = await buildWorker(subject.config, { database: subject.database, jobQueue: queue, log: silentLog });
  });

  afterAll(async () => {
    await runtime?.close(0);
    await queue?.close();
    await subject?.close();
    await smtp?.close();
  });

  const mailTo = (address: string, count = 1) =>
    eventually(async () => smtp.to(address)[count - 1], 30_000, `mail ${count} to ${address}`);
  const verify = (token: string) => subject.app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', payload: { token } });

  async function registerAndSignIn() {
    const email = `new-${randomUUID()}@example.test`;
    const registered = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email, password: DEFAULT_PASSWORD },
    });
    expect(registered.statusCode).toBe(201);
    expect(registered.json()).toMatchObject({ email_verified: false, pending_email: null });
    const session = await subject.tokenLogin(email, DEFAULT_PASSWORD);
    return { email, headers: { authorization: `Bearer ${session.accessToken}` } };
  }

  it('lets an unverified account sign in and verify, and refuses everything else with email_not_verified', async () => {
    const { email, headers } = await registerAndSignIn();
    const files = await subject.app.inject({ method: 'GET', url: '/api/v1/files', headers });
    expect(files.statusCode).toBe(403);
    expect(files.json().code).toBe('email_not_verified');
    expect((await subject.app.inject({ method: 'GET', url: '/api/v1/users/me', headers })).statusCode).toBe(200);
    const standing = () => subject.app.inject({ method: 'GET', url: '/api/v1/users/me/email-verification', headers });
    expect((await standing()).json()).toEqual({ mode: 'required', email_verified: false, pending_email: null });

    const mail = await mailTo(email);
    expect(mail.data).toContain('/verify-email#token=');
    expect((await verify(linkToken(mail))).statusCode).toBe(204);
    expect((await subject.app.inject({ method: 'GET', url: '/api/v1/files', headers })).statusCode).toBe(200);
    expect((await standing()).json()).toMatchObject({ email_verified: true });
    const me = await subject.app.inject({ method: 'GET', url: '/api/v1/users/me', headers });
    expect(me.json().email_verified).toBe(true);
    const again = await verify(linkToken(mail));
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('verification_token_invalid');
  });

  it('sends a new link on request', async () => {
    const { email, headers } = await registerAndSignIn();
    await mailTo(email);
    const resent = await subject.app.inject({ method: 'POST', url: '/api/v1/auth/verify-email/resend', headers });
    expect(resent.statusCode).toBe(202);
    const second = await mailTo(email, 2);
    expect((await verify(linkToken(second))).statusCode).toBe(204);
  });

  it('changes the address only once the new one is verified', async () => {
    const { email, headers } = await registerAndSignIn();
    expect((await verify(linkToken(await mailTo(email)))).statusCode).toBe(204);
    const next = `moved-${randomUUID()}@example.test`;
    const asked = await subject.app.inject({ method: 'PUT', url: '/api/v1/users/me/email', headers, payload: { email: next } });
    expect(asked.statusCode).toBe(200);
    expect(asked.json()).toMatchObject({ email, pending_email: next, email_verified: true });
    // Still the old address until the link sent to the new one is followed.
    await subject.tokenLogin(email, DEFAULT_PASSWORD);
    expect((await verify(linkToken(await mailTo(next)))).statusCode).toBe(204);
    const me = await subject.app.inject({ method: 'GET', url: '/api/v1/users/me', headers });
    expect(me.json()).toMatchObject({ email: next, pending_email: null, email_verified: true });
    await subject.tokenLogin(next, DEFAULT_PASSWORD);
  });
});
