import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode, totpStep } from '../../src/auth/totp.ts';
import { twoFactorCredentials } from '../../src/auth/two-factor.schema.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { secretFromBase32 as secretOf } from '../helpers/totp.ts';

interface Enrolled {
  user: TestUser;
  secret: Buffer;
  recoveryCodes: string[];
}

/** An app on an injected clock, with the steps every case takes: enrol, sign in to a challenge. */
function twoFactorHarness(env: Record<string, string>) {
  let subject: TestApp;
  let now = Date.parse('2026-11-30T12:00:00Z');
  beforeAll(async () => {
    subject = await createTestApp({ env, overrides: { clock: () => now } });
  });
  afterAll(async () => subject?.close());

  const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
    subject.app.inject({ method: 'POST', url: `/api/v1${url}`, headers, payload });
  const codeNow = (secret: Buffer) => totpCode(secret, totpStep(now));
  return {
    get subject() {
      return subject;
    },
    post,
    codeNow,
    /** A code of a step the drift window never reaches: always wrong. */
    wrongCode: (secret: Buffer) => totpCode(secret, totpStep(now) + 50),
    advance(ms: number) {
      now += ms;
    },
    /** Enrols and confirms, then moves to the next 30-second step so that a new code exists. */
    async enrol(user?: TestUser): Promise<Enrolled> {
      const owner = user ?? (await subject.createUser());
      const started = await subject.app.inject({
        method: 'POST',
        url: '/api/v1/users/me/two-factor',
        headers: owner.bearer,
      });
      expect(started.statusCode).toBe(201);
      const secret = secretOf(started.json().secret);
      const confirmed = await post('/users/me/two-factor/confirm', { code: codeNow(secret) }, owner.bearer);
      expect(confirmed.statusCode).toBe(200);
      now += 30_000;
      return { user: owner, secret, recoveryCodes: confirmed.json().recovery_codes };
    },
    async challenge(user: TestUser, url = '/auth/login'): Promise<string> {
      const response = await post(url, { email: user.email, password: user.password });
      expect(response.statusCode).toBe(200);
      expect(response.json().two_factor_required).toBe(true);
      return response.json().challenge_token;
    },
  };
}

/** Enrolment, sign-in challenges, recovery codes and the audit trail, on an injected clock. */
describe('two-factor authentication', () => {
  const harness = twoFactorHarness({ TWO_FACTOR_RATE_LIMIT_PER_ACCOUNT: '100' });
  const { post, codeNow, enrol, challenge } = harness;
  const nextStep = () => harness.advance(30_000);

  it('enrols with an otpauth URI and a QR code, and keeps the secret encrypted', async () => {
    const user = await harness.subject.createUser({ email: `enrol-${Date.now()}@example.test` });
    const started = await harness.subject.app.inject({
      method: 'POST',
      url: '/api/v1/users/me/two-factor',
      headers: user.bearer,
    });
    expect(started.statusCode).toBe(201);
    const body = started.json();
    expect(body.otpauth_uri).toMatch(/^otpauth:\/\/totp\/Intake:enrol-\d+%40example\.test\?secret=[A-Z2-7]{32}&issuer=Intake/);
    expect(body.otpauth_uri).toContain(`secret=${body.secret}`);
    expect(body.qr_svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const [row] = await harness.subject.database.db
      .select()
      .from(twoFactorCredentials)
      .where(eq(twoFactorCredentials.userId, user.id));
    expect(row?.secretSealed).toBeDefined();
    expect(row?.secretSealed).not.toContain(body.secret);
    expect(row?.secretSealed).not.toContain(secretOf(body.secret).toString('base64url'));

    // Not on until a first code confirms it: sign-in still gives a session at once.
    const status = await harness.subject.app.inject({ method: 'GET', url: '/api/v1/users/me/two-factor', headers: user.bearer });
    expect(status.json()).toMatchObject({ enabled: false, recovery_codes_left: 0 });
    expect((await post('/auth/token', { email: user.email, password: user.password })).json().access_token).toBeDefined();

    const wrong = await post('/users/me/two-factor/confirm', { code: harness.wrongCode(secretOf(body.secret)) }, user.bearer);
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().code).toBe('two_factor_code_wrong');

    const confirmed = await post('/users/me/two-factor/confirm', { code: codeNow(secretOf(body.secret)) }, user.bearer);
    expect(confirmed.statusCode).toBe(200);
    const codes = confirmed.json().recovery_codes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    const enabled = await harness.subject.app.inject({ method: 'GET', url: '/api/v1/users/me/two-factor', headers: user.bearer });
    expect(enabled.json()).toMatchObject({ enabled: true, recovery_codes_left: 10, required: false });

    const again = await harness.subject.app.inject({ method: 'POST', url: '/api/v1/users/me/two-factor', headers: user.bearer });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('two_factor_already_enabled');
  });

  it('answers a password sign-in with a challenge, no cookies, and completes it with the code', async () => {
    const { user, secret } = await enrol();
    const login = await post('/auth/login', { email: user.email, password: user.password });
    expect(login.statusCode).toBe(200);
    expect(login.cookies).toHaveLength(0);
    expect(login.json()).toMatchObject({ two_factor_required: true, expires_in: 300 });
    expect(login.json().user).toBeUndefined();
    const token = login.json().challenge_token as string;

    const wrong = await post('/auth/login/two-factor', { challenge_token: token, code: harness.wrongCode(secret) });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('invalid_two_factor_code');

    // A wrong code leaves the challenge open.
    const completed = await post('/auth/login/two-factor', { challenge_token: token, code: codeNow(secret) });
    expect(completed.statusCode).toBe(200);
    expect(completed.json().user.id).toBe(user.id);
    expect(completed.cookies.map((cookie) => cookie.name).sort()).toEqual(['access_token', 'csrf_token', 'refresh_token']);
    const me = await harness.subject.app.inject({
      method: 'GET',
      url: '/api/v1/users/me',
      cookies: { access_token: completed.cookies.find((cookie) => cookie.name === 'access_token')!.value },
    });
    expect(me.json().id).toBe(user.id);

    const spent = await post('/auth/login/two-factor', { challenge_token: token, code: codeNow(secret) });
    expect(spent.statusCode).toBe(401);
    expect(spent.json().code).toBe('two_factor_challenge_invalid');
  });

  it('refuses a code used once, even on a new challenge, and takes the next one', async () => {
    const { user, secret } = await enrol();
    const code = codeNow(secret);
    const first = await post('/auth/token/two-factor', { challenge_token: await challenge(user, '/auth/token'), code });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ token_type: 'bearer' });
    expect(first.json().access_token).toBeDefined();

    const replayed = await post('/auth/token/two-factor', { challenge_token: await challenge(user, '/auth/token'), code });
    expect(replayed.statusCode).toBe(401);
    expect(replayed.json().code).toBe('invalid_two_factor_code');

    nextStep();
    const next = await post('/auth/token/two-factor', {
      challenge_token: await challenge(user, '/auth/token'),
      code: codeNow(secret),
    });
    expect(next.statusCode).toBe(200);
  });

  it('accepts each recovery code once', async () => {
    const { user, recoveryCodes } = await enrol();
    const [code] = recoveryCodes;
    const used = await post('/auth/login/two-factor', { challenge_token: await challenge(user), code: code!.toUpperCase() });
    expect(used.statusCode).toBe(200);
    const again = await post('/auth/login/two-factor', { challenge_token: await challenge(user), code: code! });
    expect(again.statusCode).toBe(401);
    expect(again.json().code).toBe('invalid_two_factor_code');
    const status = await harness.subject.app.inject({ method: 'GET', url: '/api/v1/users/me/two-factor', headers: user.bearer });
    expect(status.json().recovery_codes_left).toBe(9);
  });

  it('lets a challenge expire', async () => {
    const { user, secret } = await enrol();
    const token = await challenge(user);
    harness.advance(301_000);
    const late = await post('/auth/login/two-factor', { challenge_token: token, code: codeNow(secret) });
    expect(late.statusCode).toBe(401);
    expect(late.json().code).toBe('two_factor_challenge_invalid');
  });

  it('disables only with the password and a code', async () => {
    const { user, secret, recoveryCodes } = await enrol();
    const wrongPassword = await post(
      '/users/me/two-factor/disable',
      { password: 'not the password', code: codeNow(secret) },
      user.bearer,
    );
    expect(wrongPassword.statusCode).toBe(400);
    expect(wrongPassword.json().code).toBe('invalid_current_password');
    const wrongCode = await post(
      '/users/me/two-factor/disable',
      { password: user.password, code: harness.wrongCode(secret) },
      user.bearer,
    );
    expect(wrongCode.statusCode).toBe(400);
    expect(wrongCode.json().code).toBe('two_factor_code_wrong');

    const disabled = await post(
      '/users/me/two-factor/disable',
      { password: user.password, code: recoveryCodes[3]! },
      user.bearer,
    );
    expect(disabled.statusCode).toBe(204);
    const login = await post('/auth/token', { email: user.email, password: user.password });
    expect(login.json().access_token).toBeDefined();
    const off = await post('/users/me/two-factor/disable', { password: user.password, code: codeNow(secret) }, user.bearer);
    expect(off.statusCode).toBe(409);
    expect(off.json().code).toBe('two_factor_not_enrolled');
  });

  it('records every change, challenge, failure, success and sign-out in the audit log', async () => {
    const { user, secret, recoveryCodes } = await enrol();
    const token = await challenge(user);
    await post('/auth/login/two-factor', { challenge_token: token, code: harness.wrongCode(secret) });
    const session = (await post('/auth/login/two-factor', { challenge_token: token, code: codeNow(secret) })).json();
    const viaRecovery = await post('/auth/token/two-factor', {
      challenge_token: await challenge(user, '/auth/token'),
      code: recoveryCodes[0]!,
    });
    await post('/auth/logout', {}, { authorization: `Bearer ${viaRecovery.json().access_token}` });
    nextStep();
    await post('/users/me/two-factor/disable', { password: user.password, code: codeNow(secret) }, user.bearer);
    expect(session.user.id).toBe(user.id);

    const admin = await harness.subject.createUser({ role: 'admin' });
    const audit = await harness.subject.app.inject({
      method: 'GET',
      url: `/api/v1/admin/audit?target_user_id=${user.id}&limit=100`,
      headers: admin.bearer,
    });
    expect(audit.statusCode).toBe(200);
    const events = audit.json().items as { action: string; details: Record<string, unknown> }[];
    // The clock stands still between steps, so events are compared as a set, not in order.
    expect(events.map((event) => event.action).sort()).toEqual(
      [
        'sign_in.succeeded', // the helper's own password sign-in, before two-factor
        'two_factor.enrolment_started',
        'two_factor.enabled',
        'sign_in.challenged',
        'sign_in.failed',
        'sign_in.succeeded',
        'sign_in.challenged',
        'two_factor.recovery_code_used',
        'sign_in.succeeded',
        'session.signed_out',
        'two_factor.disabled',
      ].sort(),
    );
    expect(events.find((event) => event.action === 'sign_in.failed')?.details).toMatchObject({ reason: 'wrong_two_factor_code' });
    const secondFactors = events
      .filter((event) => event.action === 'sign_in.succeeded')
      .map((event) => event.details.second_factor)
      .sort();
    expect(secondFactors).toEqual([null, 'recovery_code', 'totp']);
  });
});

describe('two-factor limits and the admin policy', () => {
  const harness = twoFactorHarness({ REQUIRE_2FA_FOR_ADMINS: 'true', TWO_FACTOR_RATE_LIMIT_PER_ACCOUNT: '3' });
  const { post, codeNow, enrol } = harness;

  it('stops code guessing per account with 429, the right code included', async () => {
    const user = await harness.subject.createUser();
    const { secret } = await enrol(user);
    const login = await post('/auth/login', { email: user.email, password: user.password });
    const token = login.json().challenge_token as string;
    // Confirming enrolment took one attempt of the window.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const wrong = await post('/auth/login/two-factor', { challenge_token: token, code: harness.wrongCode(secret) });
      expect(wrong.statusCode).toBe(401);
    }
    const limited = await post('/auth/login/two-factor', { challenge_token: token, code: codeNow(secret) });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('keeps an administrator without two-factor to enrolment and a user’s powers until enrolled', async () => {
    const admin = await harness.subject.createUser({ role: 'admin' });
    const refused = await harness.subject.app.inject({ method: 'GET', url: '/api/v1/admin/audit', headers: admin.bearer });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('two_factor_required');
    expect(refused.headers['content-type']).toContain('application/problem+json');
    const status = await harness.subject.app.inject({ method: 'GET', url: '/api/v1/users/me/two-factor', headers: admin.bearer });
    expect(status.json()).toMatchObject({ enabled: false, required: true });
    // Their own account keeps working.
    expect((await harness.subject.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: admin.bearer })).statusCode).toBe(
      200,
    );

    await enrol(admin);
    const allowed = await harness.subject.app.inject({ method: 'GET', url: '/api/v1/admin/audit', headers: admin.bearer });
    expect(allowed.statusCode).toBe(200);

    const user = await harness.subject.createUser();
    const notAdmin = await harness.subject.app.inject({ method: 'GET', url: '/api/v1/admin/audit', headers: user.bearer });
    expect(notAdmin.statusCode).toBe(403);
    expect(notAdmin.json().code).toBe('forbidden');
    const userStatus = await harness.subject.app.inject({
      method: 'GET',
      url: '/api/v1/users/me/two-factor',
      headers: user.bearer,
    });
    expect(userStatus.json().required).toBe(false);
  });
});
