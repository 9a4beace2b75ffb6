import { createHmac, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { JwtTokens } from '../../src/auth/jwt-tokens.ts';
import { revokeSession } from '../../src/auth/sessions.ts';
import {
  DatabaseTokenRevocationStore,
  RedisTokenRevocationStore,
  type TokenRevocationStore,
} from '../../src/auth/token-revocation-store.ts';
import { generateSigningKeys } from '../../src/auth/signing-keys.ts';
import { createTestApp, setUserActive, type TestApp } from '../helpers/app.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
  // A probe route, as another domain would write it, to observe what the hook hands over.
  for (const method of ['GET', 'POST', 'DELETE'] as const) {
    t.app.route({
      method,
      url: '/test/whoami',
      preHandler: t.app.authenticate,
      handler: async (request) => ({ id: request.user?.id, role: request.user?.role, auth_method: request.user?.method }),
    });
  }
  t.app.get('/test/admin-only', { preHandler: t.app.requireAdmin }, async () => ({ ok: true }));
});

afterAll(async () => {
  await t?.close();
});

const base64url = (value: object | string) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function claimsFor(userId: string, sessionId: string, extra: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: userId,
    sid: sessionId,
    jti: randomUUID(),
    type: 'access',
    iss: 'intake',
    aud: 'intake-api',
    iat: now,
    exp: now + 600,
    ...extra,
  };
}

function sessionOf(token: string): { sub: string; sid: string } {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub: string; sid: string };
}

async function whoami(headers: Record<string, string>, method: 'GET' | 'POST' | 'DELETE' = 'GET') {
  return t.app.inject({ method, url: '/test/whoami', headers });
}

function expectUnauthorized(response: Awaited<ReturnType<typeof whoami>>, code: string) {
  expect(response.statusCode).toBe(401);
  expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
  expect(response.headers['content-type']).toContain('application/problem+json');
  expect(response.json()).toMatchObject({ status: 401, code });
}

describe('the authenticate hook', () => {
  it('accepts a valid bearer access token and reports the bearer method', async () => {
    const user = await t.createUser();
    const response = await whoami(user.bearer);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ id: user.id, role: 'user', auth_method: 'bearer' });
  });

  it('accepts the access cookie and reports the cookie method', async () => {
    const user = await t.createUser();
    const session = await t.cookieLogin(user.email, user.password);
    const response = await whoami({ cookie: session.cookie });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ id: user.id, auth_method: 'cookie' });
  });

  it('answers 401 unauthenticated with WWW-Authenticate when no credential is sent', async () => {
    expectUnauthorized(await whoami({}), 'unauthenticated');
  });

  it('rejects an expired access token with token_expired', async () => {
    const user = await t.createUser();
    const { sid } = sessionOf(user.accessToken);
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = await t.tokens.sign({ type: 'access', sub: user.id, sid, lifetimeSeconds: 60, issuedAtSeconds: past });
    expectUnauthorized(await whoami({ authorization: `Bearer ${expired.token}` }), 'token_expired');
  });

  it.each([
    ['garbage', 'not-a-jwt'],
    ['two segments', 'abc.def'],
    ['a tampered payload', 'TAMPER'],
  ])('rejects a malformed token (%s) with invalid_token', async (_label, raw) => {
    const user = await t.createUser();
    let token = raw;
    if (raw === 'TAMPER') {
      const [header, , signature] = user.accessToken.split('.');
      token = `${header}.${base64url({ ...sessionOf(user.accessToken), sub: randomUUID() })}.${signature}`;
    }
    expectUnauthorized(await whoami({ authorization: `Bearer ${token}` }), 'invalid_token');
  });

  it('rejects an Authorization header that is not a bearer credential', async () => {
    expectUnauthorized(await whoami({ authorization: 'Basic dXNlcjpwYXNz' }), 'invalid_token');
  });

  it('never accepts a refresh token as an access token', async () => {
    const user = await t.createUser();
    const response = await whoami({ authorization: `Bearer ${user.refreshToken}` });
    expectUnauthorized(response, 'invalid_token');
  });

  it('never accepts an access token as a refresh token', async () => {
    const user = await t.createUser();
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refresh_token: user.accessToken },
    });
    expectUnauthorized(response, 'invalid_token');
  });

  it('rejects a token signed by a foreign key', async () => {
    const user = await t.createUser();
    const { sid } = sessionOf(user.accessToken);
    const foreign = new JwtTokens(await generateSigningKeys(), { accessSeconds: 600, refreshSeconds: 600 });
    const forged = await foreign.issue('access', { userId: user.id, sessionId: sid });
    expectUnauthorized(await whoami({ authorization: `Bearer ${forged.token}` }), 'invalid_token');
  });

  it('rejects a token whose kid is unknown, even when the signature would match', async () => {
    const user = await t.createUser();
    const [, payload, signature] = user.accessToken.split('.');
    const header = base64url({ alg: 'EdDSA', kid: 'unknown-kid', typ: 'JWT' });
    expectUnauthorized(await whoami({ authorization: `Bearer ${header}.${payload}.${signature}` }), 'invalid_token');
  });

  it('rejects alg none', async () => {
    const user = await t.createUser();
    const { sid } = sessionOf(user.accessToken);
    const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claimsFor(user.id, sid))}.`;
    expectUnauthorized(await whoami({ authorization: `Bearer ${token}` }), 'invalid_token');
  });

  it('rejects HS256 signed with the public key (algorithm confusion)', async () => {
    const user = await t.createUser();
    const { sid } = sessionOf(user.accessToken);
    const publicKey = [...t.signingKeys.verifying.values()][0];
    if (!publicKey) throw new Error('no key');
    const secrets = [publicKey.key.export({ format: 'pem', type: 'spki' }).toString(), JSON.stringify(publicKey.jwk)];
    for (const secret of secrets) {
      const signingInput = `${base64url({ alg: 'HS256', kid: publicKey.kid, typ: 'JWT' })}.${base64url(claimsFor(user.id, sid))}`;
      const signature = createHmac('sha256', secret).update(signingInput).digest('base64url');
      expectUnauthorized(await whoami({ authorization: `Bearer ${signingInput}.${signature}` }), 'invalid_token');
    }
  });

  it.each(['jti', 'iat', 'exp', 'type', 'sub'])('rejects a correctly signed token without the %s claim', async (claim) => {
    const user = await t.createUser();
    const { sid } = sessionOf(user.accessToken);
    const claims: Record<string, unknown> = claimsFor(user.id, sid);
    delete claims[claim];
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid: t.signingKeys.current.kid, typ: 'JWT' })
      .sign(t.signingKeys.current.privateKey);
    expectUnauthorized(await whoami({ authorization: `Bearer ${token}` }), 'invalid_token');
  });

  it('rejects a token of an unknown type', async () => {
    const user = await t.createUser();
    const { sid } = sessionOf(user.accessToken);
    const odd = await t.tokens.sign({ type: 'id', sub: user.id, sid, lifetimeSeconds: 600 });
    expectUnauthorized(await whoami({ authorization: `Bearer ${odd.token}` }), 'invalid_token');
  });

  it('rejects a revoked access token (after logout) with token_revoked', async () => {
    const user = await t.createUser();
    const logout = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: user.bearer });
    expect(logout.statusCode).toBe(204);
    expectUnauthorized(await whoami(user.bearer), 'token_revoked');
  });

  it('stops a deactivated user at once, with account_disabled', async () => {
    const user = await t.createUser();
    expect((await whoami(user.bearer)).statusCode).toBe(200);
    await setUserActive(t, user.id, false);
    expectUnauthorized(await whoami(user.bearer), 'account_disabled');
  });
});

describe('what another process changes', () => {
  // Another API process shares only the database (and Redis): nothing it does reaches this one
  // except through them. A token already accepted here (its signature check remembered) must
  // still stop on the very next request.
  it('refuses an accepted token at once when its session is revoked in the database', async () => {
    const user = await t.createUser();
    expect((await whoami(user.bearer)).statusCode).toBe(200);
    await revokeSession(t.database.db, sessionOf(user.accessToken).sid);
    expectUnauthorized(await whoami(user.bearer), 'token_revoked');
  });

  it('refuses an accepted token at once when another process revokes its id', async () => {
    const user = await t.createUser();
    expect((await whoami(user.bearer)).statusCode).toBe(200);
    const redis = t.config.redis.url ? new Redis(t.config.redis.url) : undefined;
    try {
      const elsewhere: TokenRevocationStore = redis
        ? new RedisTokenRevocationStore(redis, t.config.redis.keyPrefix)
        : new DatabaseTokenRevocationStore(t.database.db);
      const { jti } = JSON.parse(Buffer.from(user.accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
        jti: string;
      };
      await elsewhere.revoke(jti, new Date(Date.now() + 600_000));
      expectUnauthorized(await whoami(user.bearer), 'token_revoked');
    } finally {
      redis?.disconnect();
    }
  });

  it('refuses an accepted token once it expires, without verifying it again', async () => {
    let now = Date.now();
    const tokens = new JwtTokens(t.signingKeys, { accessSeconds: 60, refreshSeconds: 600 }, () => now);
    const user = await t.createUser();
    const { sub, sid } = sessionOf(user.accessToken);
    const issued = await tokens.issue('access', { userId: sub, sessionId: sid });
    expect((await tokens.verify(issued.token, 'access')).sub).toBe(sub);
    now += 120_000;
    await expect(tokens.verify(issued.token, 'access')).rejects.toMatchObject({ code: 'token_expired' });
    await expect(tokens.verify(issued.token, 'refresh')).rejects.toMatchObject({ code: 'token_expired' });
  });
});

describe('CSRF on cookie-authenticated changes', () => {
  it('requires X-CSRF-Token on POST and DELETE with the cookie (csrf_missing)', async () => {
    const user = await t.createUser();
    const session = await t.cookieLogin(user.email, user.password);
    for (const method of ['POST', 'DELETE'] as const) {
      const response = await whoami({ cookie: session.cookie }, method);
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('csrf_missing');
    }
  });

  it('rejects an X-CSRF-Token that differs from the cookie (csrf_mismatch)', async () => {
    const user = await t.createUser();
    const session = await t.cookieLogin(user.email, user.password);
    const response = await whoami({ cookie: session.cookie, 'x-csrf-token': `${session.csrfToken}x` }, 'POST');
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('csrf_mismatch');
  });

  it('rejects a header when the csrf cookie is absent (csrf_mismatch)', async () => {
    const user = await t.createUser();
    const session = await t.cookieLogin(user.email, user.password);
    const response = await whoami({ cookie: `access_token=${session.accessToken}`, 'x-csrf-token': session.csrfToken }, 'POST');
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('csrf_mismatch');
  });

  it('accepts a matching X-CSRF-Token', async () => {
    const user = await t.createUser();
    const session = await t.cookieLogin(user.email, user.password);
    const response = await whoami(session.headers, 'POST');
    expect(response.statusCode).toBe(200);
  });

  it('does not require CSRF on GET with the cookie, nor on bearer calls', async () => {
    const user = await t.createUser();
    const session = await t.cookieLogin(user.email, user.password);
    expect((await whoami({ cookie: session.cookie })).statusCode).toBe(200);
    expect((await whoami(user.bearer, 'POST')).statusCode).toBe(200);
  });

  it('prefers the Authorization header over a cookie, so a header call needs no CSRF token', async () => {
    const user = await t.createUser();
    const session = await t.cookieLogin(user.email, user.password);
    const response = await whoami({ ...user.bearer, cookie: session.cookie }, 'POST');
    expect(response.statusCode).toBe(200);
    expect(response.json().auth_method).toBe('bearer');
  });
});

describe('requireAdmin', () => {
  it('answers 403 forbidden to a user and 200 to an admin', async () => {
    const user = await t.createUser();
    const admin = await t.createUser({ role: 'admin' });
    const denied = await t.app.inject({ method: 'GET', url: '/test/admin-only', headers: user.bearer });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().code).toBe('forbidden');
    const allowed = await t.app.inject({ method: 'GET', url: '/test/admin-only', headers: admin.bearer });
    expect(allowed.statusCode).toBe(200);
  });

  it('answers 401 before 403 when there is no credential', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/test/admin-only' });
    expect(response.statusCode).toBe(401);
  });
});
