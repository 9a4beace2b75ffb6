import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundGuard } from '../../src/net/safe-http.ts';
import { createSignedBlobUrl, verifySignedBlobUrl } from '../../src/storage/signed-url.ts';
import { createTestApp, DEFAULT_PASSWORD, type TestApp } from '../helpers/app.ts';

const guard = new OutboundGuard({
  allowPrivateNetworks: false,
  allowedCidrs: [],
  connectTimeoutMs: 1_000,
  totalTimeoutMs: 1_000,
  maxResponseBytes: 1_024,
});

describe('the SSRF guard and IPv6 forms that embed IPv4', () => {
  it('refuses translated, local-use NAT64, Teredo, 6to4 and IPv4-compatible forms of private addresses', () => {
    for (const address of [
      '::ffff:0:7f00:1',
      '::ffff:0:127.0.0.1',
      '64:ff9b:1::7f00:1',
      '2001:0:4136:e378:8000:63bf:3fff:fdd2',
      '2002:7f00:1::1',
      '::7f00:1',
      '::127.0.0.1',
    ]) {
      expect(guard.addressProblem(address), address).toEqual(expect.any(String));
    }
  });

  it('still allows public IPv6 and IPv4-mapped public addresses', () => {
    for (const address of ['2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])
      expect(guard.addressProblem(address), address).toBeUndefined();
  });
});

describe('signed links', () => {
  it('refuses another encoding of the same signature bytes', () => {
    const expiresAt = new Date('2030-01-01T00:00:00Z');
    const url = new URL(
      createSignedBlobUrl({ baseUrl: 'https://x.test/api/v1', secret: 's'.repeat(40), method: 'GET', key: 'a/b', expiresAt }),
    );
    const query = Object.fromEntries(url.searchParams);
    const now = new Date('2029-01-01T00:00:00Z');
    expect(() => verifySignedBlobUrl({ secret: 's'.repeat(40), method: 'GET', key: 'a/b', query, now })).not.toThrow();
    const signature = query.signature!;
    const padded = `${signature}=`;
    const standard = Buffer.from(signature, 'base64url').toString('base64');
    for (const variant of [padded, standard].filter((candidate) => candidate !== signature)) {
      expect(
        () =>
          verifySignedBlobUrl({
            secret: 's'.repeat(40),
            method: 'GET',
            key: 'a/b',
            query: { ...query, signature: variant },
            now,
          }),
        variant,
      ).toThrow(expect.objectContaining({ code: 'signed_url_invalid' }));
    }
  });
});

describe('sign-in, tokens and readiness', () => {
  let subject: TestApp;

  beforeAll(async () => {
    subject = await createTestApp({ env: { PUBLIC_URL: 'https://intake.example.com' } });
  });
  afterAll(async () => subject?.close());

  it('refuses a cross-site sign-in that would set session cookies, and accepts a same-origin one', async () => {
    const user = await subject.createUser();
    const payload = { email: user.email, password: DEFAULT_PASSWORD };
    for (const headers of [{ origin: 'https://attacker.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }]) {
      const response = await subject.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers, payload });
      expect(response.statusCode, JSON.stringify(headers)).toBe(403);
      expect(response.json().code).toBe('cross_site_request');
      expect(response.headers['set-cookie']).toBeUndefined();
    }
    const sameOrigin = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { origin: 'https://intake.example.com', 'sec-fetch-site': 'same-origin' },
      payload,
    });
    expect(sameOrigin.statusCode, sameOrigin.body).toBe(200);
  });

  it('refuses a token issued in the future beyond the clock skew', async () => {
    const user = await subject.createUser();
    const issued = await subject.tokens.sign({
      type: 'access',
      sub: user.id,
      sid: '00000000-0000-4000-8000-000000000001',
      lifetimeSeconds: 600,
      issuedAtSeconds: Math.floor(Date.now() / 1000) + 3600,
    });
    const response = await subject.app.inject({
      method: 'GET',
      url: '/api/v1/users/me',
      headers: { authorization: `Bearer ${issued.token}` },
    });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('invalid_token');
  });

  it('shows readiness targets to administrators only', async () => {
    const visitor = (await subject.app.inject({ method: 'GET', url: '/ready' })).json<{
      components: Record<string, unknown>[];
    }>();
    expect(visitor.components.length).toBeGreaterThan(0);
    for (const component of visitor.components) expect(Object.keys(component).sort()).toEqual(['latency_ms', 'name', 'status']);
    const user = await subject.createUser();
    const asUser = (await subject.app.inject({ method: 'GET', url: '/ready', headers: user.bearer })).json<{
      components: Record<string, unknown>[];
    }>();
    expect(asUser.components[0]).not.toHaveProperty('target');
    const admin = await subject.createUser({ role: 'admin' });
    const asAdmin = (await subject.app.inject({ method: 'GET', url: '/ready', headers: admin.bearer })).json<{
      components: Record<string, unknown>[];
    }>();
    expect(asAdmin.components[0]).toHaveProperty('target');
  });
});
