import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../src/jobs/jobs.schema.ts';
import { createJobQueue } from '../../src/jobs/job-queue-factory.ts';
import type { JobQueue } from '../../src/jobs/job-queue.ts';
import { accountEmailJob } from '../../src/auth/account-email.job.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { linkToken, startMailCatcher, type MailCatcher } from '../helpers/smtp.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';

const NEW_PASSWORD = 'a brand new passphrase';

/** Password reset by e-mail, through a real SMTP server on loopback and the notifications queue. */
describe('password reset by e-mail', () => {
  let smtp: MailCatcher;
  let subject: TestApp;
  let queue: JobQueue;
  let runtime: WorkerRuntime;
  let clockOffsetMs = 0;

  beforeAll(async () => {
    smtp = await startMailCatcher();
    subject = await createTestApp({
      env: {
        JOBS_POLL_INTERVAL_MS: '50',
        JOBS_RELAY_INTERVAL_MS: '50',
        SMTP_URL: smtp.url,
        EMAIL_VERIFICATION: 'off',
        PASSWORD_RESET_RATE_LIMIT_PER_EMAIL: '3',
        PASSWORD_RESET_RATE_LIMIT_PER_IP: '100000',
      },
      overrides: { clock: () => Date.now() + clockOffsetMs },
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

  const request = (email: string, ip = '127.0.0.1') =>
    subject.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload: { email }, remoteAddress: ip });
  const confirm = (token: string, password = NEW_PASSWORD) =>
    subject.app.inject({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token, new_password: password },
    });

  async function resetMail(email: string, count = 1) {
    return eventually(async () => smtp.to(email)[count - 1], 30_000, `reset mail ${count} to ${email}`);
  }

  it('answers the same 202 for an unknown address and mails only a known one', async () => {
    const user = await subject.createUser();
    const unknown = `nobody-${randomUUID()}@example.test`;
    const known = await request(user.email);
    const missing = await request(unknown);
    expect(known.statusCode).toBe(202);
    expect(missing.statusCode).toBe(202);
    expect(missing.body).toBe(known.body);

    const mail = await resetMail(user.email);
    expect(mail.data).toMatch(/Subject: Reset your Intake password/);
    expect(mail.data).toContain('/reset-password#token=');
    // The job for the unknown address ends without a mail, and its payload holds no token.
    const finished = await eventually(async () => {
      const [row] = await subject.database.db
        .select()
        .from(jobs)
        .where(and(eq(jobs.type, accountEmailJob.name), sql`${jobs.payload}->>'email' = ${unknown}`));
      return row?.status === 'succeeded' ? row : undefined;
    }, 30_000);
    expect(finished.result).toMatchObject({ skipped: expect.any(String) });
    expect(smtp.to(unknown)).toHaveLength(0);
    expect(JSON.stringify(finished.payload)).not.toContain(linkToken(mail));
  });

  it('sets the new password, ends every session but keeps API keys, and works once', async () => {
    const user = await subject.createUser();
    const key = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: user.bearer,
      payload: { name: 'ci' },
    });
    expect(key.statusCode).toBe(201);
    await request(user.email);
    const token = linkToken(await resetMail(user.email));

    expect((await confirm(token)).statusCode).toBe(204);
    const me = await subject.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: user.bearer });
    expect(me.json().code).toBe('token_revoked');
    const withKey = await subject.app.inject({
      method: 'GET',
      url: '/api/v1/users/me',
      headers: { authorization: `Bearer ${key.json().key}` },
    });
    expect(withKey.statusCode).toBe(200);
    await expect(subject.tokenLogin(user.email, user.password)).rejects.toThrow(/401/);
    await subject.tokenLogin(user.email, NEW_PASSWORD);

    const again = await confirm(token, 'yet another passphrase');
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('reset_token_invalid');
  });

  it('refuses a link after an hour, an unknown token and a weak password', async () => {
    const user = await subject.createUser();
    await request(user.email);
    const token = linkToken(await resetMail(user.email));

    expect((await confirm(token, 'short')).statusCode).toBe(422);
    expect((await confirm('x'.repeat(43))).json().code).toBe('reset_token_invalid');
    clockOffsetMs = 3601_000;
    try {
      const late = await confirm(token);
      expect(late.statusCode).toBe(400);
      expect(late.json().code).toBe('reset_token_invalid');
    } finally {
      clockOffsetMs = 0;
    }
  });

  it('limits requests per address whatever the IP', async () => {
    const address = `limited-${randomUUID()}@example.test`;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect((await request(address, `127.0.0.${attempt + 2}`)).statusCode).toBe(202);
    }
    const refused = await request(address, '127.0.0.9');
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
  });

  it('records the reset in the audit log', async () => {
    const user = await subject.createUser();
    await request(user.email);
    expect((await confirm(linkToken(await resetMail(user.email)))).statusCode).toBe(204);
    const admin = await subject.createUser({ role: 'admin' });
    const audit = await subject.app.inject({
      method: 'GET',
      url: `/api/v1/admin/audit?action=password.reset&target_user_id=${user.id}`,
      headers: admin.bearer,
    });
    expect(audit.statusCode).toBe(200);
    expect(audit.json().items).toEqual([
      expect.objectContaining({ action: 'password.reset', actor_id: user.id, target_user_id: user.id, ip: '127.0.0.1' }),
    ]);
  });
});

describe('password reset without SMTP', () => {
  let subject: TestApp;
  beforeAll(async () => {
    subject = await createTestApp();
  });
  afterAll(async () => subject?.close());

  it('answers 501 email_not_configured on both endpoints', async () => {
    for (const [url, payload] of [
      ['/api/v1/auth/password-reset', { email: 'someone@example.test' }],
      ['/api/v1/auth/password-reset/confirm', { token: 'x'.repeat(43), new_password: NEW_PASSWORD }],
    ] as const) {
      const response = await subject.app.inject({ method: 'POST', url, payload });
      expect(response.statusCode).toBe(501);
      expect(response.json()).toMatchObject({ code: 'email_not_configured', status: 501 });
      expect(response.json().detail).toContain('intake reset-password');
    }
  });
});
