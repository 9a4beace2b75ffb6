import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, DEFAULT_PASSWORD, type TestApp } from '../helpers/app.ts';

let t: TestApp;
let ipCounter = 0;
const freshIp = () => `10.0.${Math.floor((ipCounter += 1) / 250)}.${ipCounter % 250}`;

beforeAll(async () => {
  t = await createTestApp({
    env: { LOGIN_RATE_LIMIT_PER_IP: '3', LOGIN_RATE_LIMIT_PER_ACCOUNT: '2', REGISTER_RATE_LIMIT_PER_IP: '2' },
  });
});

afterAll(async () => {
  await t?.close();
});

function login(email: string, password: string, ip: string, url = '/api/v1/auth/login') {
  return t.app.inject({ method: 'POST', url, remoteAddress: ip, payload: { email, password } });
}

function expectRateLimited(response: Awaited<ReturnType<typeof login>>) {
  expect(response.statusCode).toBe(429);
  expect(response.json().code).toBe('rate_limited');
  const retryAfter = Number(response.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(900);
}

describe('rate limits on password attempts', () => {
  it('limits attempts per IP across accounts, with 429 and Retry-After', async () => {
    const ip = freshIp();
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect((await login(`${randomUUID()}@example.test`, 'wrong', ip)).statusCode).toBe(401);
    }
    expectRateLimited(await login(`${randomUUID()}@example.test`, 'wrong', ip));
  });

  it('limits attempts per account across IPs, even with the right password afterwards', async () => {
    const user = await t.createUser({ email: `victim-${randomUUID()}@example.test` });
    // createUser signed in once already: one attempt of the account's two is spent.
    expect((await login(user.email, 'wrong', freshIp())).statusCode).toBe(401);
    expectRateLimited(await login(user.email, user.password, freshIp()));
    expectRateLimited(await login(user.email.toUpperCase(), user.password, freshIp()));
  });

  it('counts the token grant and the login together', async () => {
    const ip = freshIp();
    await login(`${randomUUID()}@example.test`, 'wrong', ip);
    await login(`${randomUUID()}@example.test`, 'wrong', ip, '/api/v1/auth/token');
    await login(`${randomUUID()}@example.test`, 'wrong', ip);
    expectRateLimited(await login(`${randomUUID()}@example.test`, 'wrong', ip, '/api/v1/auth/token'));
  });

  it('does not limit other IPs and accounts', async () => {
    const ip = freshIp();
    for (let attempt = 0; attempt < 4; attempt += 1) await login(`${randomUUID()}@example.test`, 'wrong', ip);
    const user = await t.createUser();
    expect((await login(user.email, user.password, freshIp())).statusCode).toBe(200);
  });
});

describe('rate limits on registration', () => {
  it('limits registrations per IP', async () => {
    const ip = freshIp();
    const register = () =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        remoteAddress: ip,
        payload: { email: `${randomUUID()}@example.test`, password: DEFAULT_PASSWORD },
      });
    expect((await register()).statusCode).toBe(201);
    expect((await register()).statusCode).toBe(201);
    expectRateLimited(await register());
  });

  it('limits registrations per email across IPs', async () => {
    const address = `${randomUUID()}@example.test`;
    const register = () =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        remoteAddress: freshIp(),
        payload: { email: address, password: DEFAULT_PASSWORD },
      });
    expect((await register()).statusCode).toBe(201);
    expect((await register()).statusCode).toBe(409);
    expectRateLimited(await register());
  });
});
