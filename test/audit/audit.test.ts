import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit.service.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';

/** The security audit log: what gets recorded, and GET /admin/audit with its filters. */
describe('audit log', () => {
  let subject: TestApp;
  let now = Date.parse('2026-11-30T12:00:00Z');

  beforeAll(async () => {
    subject = await createTestApp({ overrides: { clock: () => now } });
  });
  afterAll(async () => subject?.close());

  const audit = (admin: { bearer: { authorization: string } }, query: string) =>
    subject.app.inject({ method: 'GET', url: `/api/v1/admin/audit?${query}`, headers: admin.bearer });

  it('records sign-ins, failures, API keys, role and activation changes with actor, target, IP and time', async () => {
    const admin = await subject.createUser({ role: 'admin' });
    const user = await subject.createUser();
    const failed = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      remoteAddress: '127.0.0.7',
      payload: { email: user.email, password: 'not the password' },
    });
    expect(failed.statusCode).toBe(401);
    const key = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: user.bearer,
      payload: { name: 'ci' },
    });
    await subject.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${key.json().id}`, headers: user.bearer });
    await subject.app.inject({
      method: 'PATCH',
      url: `/api/v1/users/${user.id}`,
      headers: admin.bearer,
      payload: { role: 'admin' },
    });
    await subject.app.inject({
      method: 'PATCH',
      url: `/api/v1/users/${user.id}`,
      headers: admin.bearer,
      payload: { is_active: false },
    });

    const response = await audit(admin, `target_user_id=${user.id}&limit=100`);
    expect(response.statusCode).toBe(200);
    const actions = (response.json().items as { action: string }[]).map((item) => item.action).sort();
    expect(actions).toEqual(
      [
        'api_key.created',
        'api_key.revoked',
        'sign_in.failed',
        'sign_in.succeeded',
        'user.deactivated',
        'user.role_changed',
      ].sort(),
    );
    const failure = (await audit(admin, `action=sign_in.failed&target_user_id=${user.id}`)).json().items[0];
    expect(failure).toMatchObject({
      actor_id: null,
      ip: '127.0.0.7',
      occurred_at: new Date(now).toISOString(),
      details: { reason: 'wrong_password', email: user.email.toLowerCase() },
    });
    const promoted = (await audit(admin, `action=user.role_changed&actor_id=${admin.id}`)).json().items;
    expect(promoted).toEqual([expect.objectContaining({ target_user_id: user.id, details: { from: 'user', to: 'admin' } })]);
  });

  it('filters by time and is for administrators only', async () => {
    const admin = await subject.createUser({ role: 'admin' });
    const user = await subject.createUser();
    now += 60_000;
    const since = new Date(now).toISOString();
    await subject.tokenLogin(user.email, user.password);
    const recent = (await audit(admin, `action=sign_in.succeeded&since=${encodeURIComponent(since)}&limit=100`)).json();
    expect(recent.items.map((item: { target_user_id: string }) => item.target_user_id)).toEqual([user.id]);
    const forbidden = await audit(user, '');
    expect(forbidden.statusCode).toBe(403);
    const bad = await audit(admin, 'action=nonsense');
    expect(bad.statusCode).toBe(422);
  });

  it('sweeps events older than the retention', async () => {
    const log = new AuditLog(subject.database.db, () => Date.parse('2020-01-01T00:00:00Z'));
    await log.record({ action: 'password.changed', details: { marker: 'old' } });
    const removed = await log.sweep(new Date('2021-01-01T00:00:00Z'));
    expect(removed).toBe(1);
  });
});
