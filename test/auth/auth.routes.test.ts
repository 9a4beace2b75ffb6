import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieSessionFrom, createTestApp, DEFAULT_PASSWORD, setUserActive, type TestApp } from '../helpers/app.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});

afterAll(async () => {
  await t?.close();
});

const email = () => `person-${randomUUID()}@example.test`;

function post(url: string, payload?: unknown, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'POST', url: `/api/v1${url}`, payload: payload as object, headers });
}

describe('POST /auth/register', () => {
  it('creates a user and answers 201 without any secret', async () => {
    const address = email();
    const response = await post('/auth/register', { email: address, password: DEFAULT_PASSWORD, full_name: 'Ada' });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toMatchObject({ email: address, full_name: 'Ada', role: 'user', is_active: true });
    expect(body).not.toHaveProperty('password_hash');
    expect(response.body).not.toContain('argon2');
  });

  it('answers 409 email_taken for an email that differs only in case', async () => {
    const address = email();
    expect((await post('/auth/register', { email: address, password: DEFAULT_PASSWORD })).statusCode).toBe(201);
    const again = await post('/auth/register', { email: address.toUpperCase(), password: DEFAULT_PASSWORD });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('email_taken');
  });

  it.each([
    ['7 characters', 'x'.repeat(7)],
    ['129 characters', 'x'.repeat(129)],
  ])('refuses a password of %s with 422', async (_label, password) => {
    const response = await post('/auth/register', { email: email(), password });
    expect(response.statusCode).toBe(422);
    expect(response.json().code).toBe('validation_failed');
  });

  it('accepts passwords of exactly 8 and 128 characters', async () => {
    for (const password of ['x'.repeat(8), 'y'.repeat(128)]) {
      expect((await post('/auth/register', { email: email(), password })).statusCode).toBe(201);
    }
  });

  it('refuses an invalid email with 422', async () => {
    const response = await post('/auth/register', { email: 'not-an-email', password: DEFAULT_PASSWORD });
    expect(response.statusCode).toBe(422);
  });
});

describe('POST /auth/login', () => {
  it('signs in with JSON and sets the three cookies with their attributes', async () => {
    const user = await t.createUser();
    const response = await post('/auth/login', { email: user.email, password: user.password });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const cookies = Object.fromEntries(response.cookies.map((cookie) => [cookie.name, cookie]));
    expect(cookies.access_token).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/', maxAge: 900 });
    expect(cookies.refresh_token).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/api/v1/auth', maxAge: 604800 });
    expect(cookies.csrf_token).toMatchObject({ sameSite: 'Strict', path: '/' });
    expect(cookies.csrf_token?.httpOnly).toBeFalsy();
    expect(response.json()).toMatchObject({ user: { id: user.id }, csrf_token: cookies.csrf_token?.value, expires_in: 900 });
    expect(response.body).not.toContain(cookies.access_token?.value);
  });

  it('signs in with a form (username, password)', async () => {
    const user = await t.createUser();
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username: user.email, password: user.password }).toString(),
    });
    expect(response.statusCode).toBe(200);
    expect(response.cookies.map((cookie) => cookie.name).sort()).toEqual(['access_token', 'csrf_token', 'refresh_token']);
  });

  it('matches the email case-insensitively', async () => {
    const user = await t.createUser();
    const response = await post('/auth/login', { email: user.email.toUpperCase(), password: user.password });
    expect(response.statusCode).toBe(200);
  });

  it('gives the same answer for a wrong password, an unknown email and a deactivated account', async () => {
    const user = await t.createUser();
    const inactive = await t.createUser();
    await setUserActive(t, inactive.id, false);
    const answers = await Promise.all([
      post('/auth/login', { email: user.email, password: 'wrong password' }),
      post('/auth/login', { email: email(), password: user.password }),
      post('/auth/login', { email: inactive.email, password: inactive.password }),
    ]);
    for (const response of answers) {
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      const { code, detail, title } = response.json();
      expect({ code, detail, title }).toEqual({
        code: 'invalid_credentials',
        detail: 'The email or password is incorrect.',
        title: 'Unauthorized',
      });
    }
  });
});

describe('POST /auth/token', () => {
  it('answers the OAuth2 password grant with bearer tokens and no cookies', async () => {
    const user = await t.createUser();
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'password',
        username: user.email,
        password: user.password,
        scope: '',
      }).toString(),
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['set-cookie']).toBeUndefined();
    expect(response.json()).toMatchObject({ token_type: 'bearer', expires_in: 900 });
    expect(typeof response.json().access_token).toBe('string');
    expect(typeof response.json().refresh_token).toBe('string');
  });

  it('refuses a wrong password with 401 invalid_credentials', async () => {
    const user = await t.createUser();
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `username=${encodeURIComponent(user.email)}&password=nope`,
    });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('invalid_credentials');
  });
});

describe('POST /auth/refresh', () => {
  it('rotates a bearer refresh token: the new pair works and the old access token still does until it expires', async () => {
    const user = await t.createUser();
    const response = await post('/auth/refresh', { refresh_token: user.refreshToken });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.refresh_token).not.toBe(user.refreshToken);
    const me = await t.app.inject({
      method: 'GET',
      url: '/api/v1/users/me',
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    expect(me.statusCode).toBe(200);
  });

  it('rejects a reused refresh token with token_reused and revokes its whole family', async () => {
    const user = await t.createUser();
    const first = await post('/auth/refresh', { refresh_token: user.refreshToken });
    expect(first.statusCode).toBe(200);
    const { refresh_token: rotated, access_token: rotatedAccess } = first.json();

    // Another client (a thief's program), so the grace for a repeated refresh does not apply.
    const reused = await post('/auth/refresh', { refresh_token: user.refreshToken }, { 'user-agent': 'thief/1.0' });
    expect(reused.statusCode).toBe(401);
    expect(reused.json().code).toBe('token_reused');
    expect(reused.headers['www-authenticate']).toMatch(/^Bearer/);

    // The thief's and the owner's descendants die with the family, access tokens included.
    const afterwards = await post('/auth/refresh', { refresh_token: rotated });
    expect(afterwards.statusCode).toBe(401);
    expect(afterwards.json().code).toBe('token_revoked');
    const me = await t.app.inject({
      method: 'GET',
      url: '/api/v1/users/me',
      headers: { authorization: `Bearer ${rotatedAccess}` },
    });
    expect(me.json().code).toBe('token_revoked');
  });

  it('keeps other sessions of the same user alive when one family is revoked', async () => {
    const user = await t.createUser();
    const other = await t.tokenLogin(user.email, user.password);
    await post('/auth/refresh', { refresh_token: user.refreshToken });
    await post('/auth/refresh', { refresh_token: user.refreshToken });
    const me = await t.app.inject({
      method: 'GET',
      url: '/api/v1/users/me',
      headers: { authorization: `Bearer ${other.accessToken}` },
    });
    expect(me.statusCode).toBe(200);
  });

  it('rejects an expired refresh token with token_expired', async () => {
    const user = await t.createUser();
    const sid = JSON.parse(Buffer.from(user.refreshToken.split('.')[1] ?? '', 'base64url').toString()).sid as string;
    const past = Math.floor(Date.now() / 1000) - 10 * 24 * 3600;
    const expired = await t.tokens.sign({ type: 'refresh', sub: user.id, sid, lifetimeSeconds: 3600, issuedAtSeconds: past });
    const response = await post('/auth/refresh', { refresh_token: expired.token });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('token_expired');
  });

  it('rejects a well-signed refresh token that was never issued (invalid_token)', async () => {
    const user = await t.createUser();
    const sid = JSON.parse(Buffer.from(user.refreshToken.split('.')[1] ?? '', 'base64url').toString()).sid as string;
    const forged = await t.tokens.sign({ type: 'refresh', sub: user.id, sid, lifetimeSeconds: 3600 });
    const response = await post('/auth/refresh', { refresh_token: forged.token });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('invalid_token');
  });

  it('answers 401 unauthenticated when no refresh token is sent', async () => {
    const response = await post('/auth/refresh');
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('unauthenticated');
  });

  it('refreshes from the cookie with the CSRF header and sets new cookies', async () => {
    const user = await t.createUser();
    const session = await t.cookieLogin(user.email, user.password);
    const response = await post('/auth/refresh', undefined, { cookie: session.authCookie, 'x-csrf-token': session.csrfToken });
    expect(response.statusCode).toBe(200);
    const renewed = cookieSessionFrom(response.cookies, user.id);
    expect(renewed.refreshToken).not.toBe(session.refreshToken);
    expect(response.json().csrf_token).toBe(renewed.csrfToken);
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { cookie: renewed.cookie } });
    expect(me.statusCode).toBe(200);
  });

  it('refuses a cookie refresh without the CSRF header', async () => {
    const user = await t.createUser();
    const session = await t.cookieLogin(user.email, user.password);
    const response = await post('/auth/refresh', undefined, { cookie: session.authCookie });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('csrf_missing');
  });

  it('refuses to refresh a deactivated user', async () => {
    const user = await t.createUser();
    await setUserActive(t, user.id, false);
    const response = await post('/auth/refresh', { refresh_token: user.refreshToken });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('account_disabled');
  });
});

describe('POST /auth/logout', () => {
  it('revokes the access token and the refresh family, and clears the cookies', async () => {
    const user = await t.createUser();
    const session = await t.cookieLogin(user.email, user.password);
    const response = await post('/auth/logout', undefined, session.headers);
    expect(response.statusCode).toBe(204);
    const cleared = Object.fromEntries(response.cookies.map((cookie) => [cookie.name, cookie]));
    for (const name of ['access_token', 'refresh_token', 'csrf_token']) expect(cleared[name]?.value).toBe('');

    const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { cookie: session.cookie } });
    expect(me.statusCode).toBe(401);
    expect(me.json().code).toBe('token_revoked');
    const refresh = await post('/auth/refresh', { refresh_token: session.refreshToken });
    expect(refresh.statusCode).toBe(401);
    expect(refresh.json().code).toBe('token_revoked');
  });

  it('requires the CSRF header when signed in with cookies', async () => {
    const user = await t.createUser();
    const session = await t.cookieLogin(user.email, user.password);
    const response = await post('/auth/logout', undefined, { cookie: session.cookie });
    expect(response.statusCode).toBe(403);
  });

  it('answers 401 without credentials', async () => {
    expect((await post('/auth/logout')).statusCode).toBe(401);
  });
});

describe('with COOKIE_SECURE=true and REGISTRATION_OPEN=false', () => {
  // One extra app for both settings: each app costs a PGlite initdb.
  let configured: TestApp;
  beforeAll(async () => {
    configured = await createTestApp({ env: { COOKIE_SECURE: 'true', REGISTRATION_OPEN: 'false' } });
  });
  afterAll(async () => {
    await configured?.close();
  });

  it('sets Secure on all three cookies', async () => {
    const user = await configured.createUser();
    const response = await configured.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: user.password },
    });
    expect(response.cookies).toHaveLength(3);
    for (const cookie of response.cookies) expect(cookie.secure).toBe(true);
  });

  it('answers 403 registration_closed to registrations', async () => {
    const response = await configured.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: email(), password: DEFAULT_PASSWORD },
    });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('registration_closed');
  });
});

describe('GET /.well-known/jwks.json', () => {
  it('publishes the Ed25519 public key under its kid, without private parts', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(response.statusCode).toBe(200);
    const { keys } = response.json();
    expect(keys).toEqual([
      expect.objectContaining({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: t.signingKeys.current.kid }),
    ]);
    expect(keys[0]).not.toHaveProperty('d');
  });
});
