import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeUserAgent } from '../../src/auth/user-agent.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';
const SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1';

/** The sessions list, signing out elsewhere, and the grace for two tabs refreshing at once (on an injected clock). */
describe('sessions', () => {
  let subject: TestApp;
  let now = Date.parse('2026-11-30T12:00:00Z');

  beforeAll(async () => {
    subject = await createTestApp({ env: { REFRESH_REUSE_GRACE_SECONDS: '5' }, overrides: { clock: () => now } });
  });
  afterAll(async () => subject?.close());

  async function login(email: string, password: string, userAgent: string, ip = '127.0.0.1') {
    const response = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      headers: { 'user-agent': userAgent },
      remoteAddress: ip,
      payload: { email, password },
    });
    expect(response.statusCode).toBe(200);
    return response.json<{ access_token: string; refresh_token: string }>();
  }
  const refresh = (token: string, userAgent = FIREFOX) =>
    subject.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      headers: { 'user-agent': userAgent },
      payload: { refresh_token: token },
    });
  const sessions = (access: string) =>
    subject.app.inject({ method: 'GET', url: '/api/v1/users/me/sessions', headers: { authorization: `Bearer ${access}` } });

  it('lists my sessions with device, address, times and which one is current', async () => {
    const user = await subject.createUser();
    const laptop = await login(user.email, user.password, FIREFOX, '127.0.0.2');
    now += 60_000;
    const phone = await login(user.email, user.password, SAFARI, '127.0.0.3');
    const response = await sessions(laptop.access_token);
    expect(response.statusCode).toBe(200);
    const items = response.json().items as Record<string, unknown>[];
    // The helper's own sign-in, the laptop and the phone.
    expect(items).toHaveLength(3);
    expect(items[0]).toMatchObject({ device: 'Safari on iOS', ip: '127.0.0.3', current: false, user_agent: SAFARI });
    expect(items.find((item) => item.device === 'Firefox on Linux')).toMatchObject({ ip: '127.0.0.2', current: true });
    expect(items[0]?.created_at).toBe(new Date(now).toISOString());
    expect((await sessions(phone.access_token)).json().items[0].current).toBe(true);
  });

  it('moves "last used" on refresh, not on ordinary requests', async () => {
    const user = await subject.createUser();
    const laptop = await login(user.email, user.password, FIREFOX);
    const signedInAt = new Date(now).toISOString();
    now += 120_000;
    await sessions(laptop.access_token);
    const mine = () =>
      sessions(laptop.access_token).then((response) => response.json().items.find((item: { current: boolean }) => item.current));
    expect((await mine()).last_used_at).toBe(signedInAt);
    const rotated = (await refresh(laptop.refresh_token)).json();
    const after = (await sessions(rotated.access_token)).json().items.find((item: { current: boolean }) => item.current);
    expect(after.last_used_at).toBe(new Date(now).toISOString());
  });

  it('signs out one session, then every other one, and answers 404 for a session not mine', async () => {
    const user = await subject.createUser();
    const stranger = await subject.createUser();
    const a = await login(user.email, user.password, FIREFOX);
    const b = await login(user.email, user.password, SAFARI);
    const items = (await sessions(a.access_token)).json().items as { id: string; current: boolean }[];
    const phoneId = items.find((item) => item.id !== undefined && !item.current && item.id)!.id;

    const notMine = await subject.app.inject({
      method: 'DELETE',
      url: `/api/v1/users/me/sessions/${phoneId}`,
      headers: stranger.bearer,
    });
    expect(notMine.statusCode).toBe(404);

    const ended = await subject.app.inject({
      method: 'DELETE',
      url: `/api/v1/users/me/sessions/${phoneId}`,
      headers: { authorization: `Bearer ${a.access_token}` },
    });
    expect(ended.statusCode).toBe(204);
    expect((await sessions(a.access_token)).json().items.some((item: { id: string }) => item.id === phoneId)).toBe(false);

    const everywhereElse = await subject.app.inject({
      method: 'DELETE',
      url: '/api/v1/users/me/sessions',
      headers: { authorization: `Bearer ${a.access_token}` },
    });
    expect(everywhereElse.statusCode).toBe(204);
    expect((await sessions(b.access_token)).json().code).toBe('token_revoked');
    expect((await sessions(user.accessToken)).json().code).toBe('token_revoked');
    const left = (await sessions(a.access_token)).json().items;
    expect(left).toHaveLength(1);
    expect(left[0].current).toBe(true);
  });

  it('gives two tabs refreshing with the same token the same new pair', async () => {
    const user = await subject.createUser();
    const tab = await login(user.email, user.password, FIREFOX);
    const [first, second] = await Promise.all([refresh(tab.refresh_token), refresh(tab.refresh_token)]);
    expect(first.statusCode).toBe(200);
    expect(second.statusCode).toBe(200);
    expect(second.json().refresh_token).toBe(first.json().refresh_token);
    expect(second.json().access_token).toBe(first.json().access_token);
    now += 4_000;
    const third = await refresh(tab.refresh_token);
    expect(third.json().refresh_token).toBe(first.json().refresh_token);
    // The family lives on: the shared new token rotates as usual.
    expect((await refresh(first.json().refresh_token)).statusCode).toBe(200);
  });

  it('still revokes the family when an old token comes back after the grace period', async () => {
    const user = await subject.createUser();
    const tab = await login(user.email, user.password, FIREFOX);
    const rotated = (await refresh(tab.refresh_token)).json();
    now += 6_000;
    const late = await refresh(tab.refresh_token);
    expect(late.statusCode).toBe(401);
    expect(late.json().code).toBe('token_reused');
    expect((await refresh(rotated.refresh_token)).json().code).toBe('token_revoked');
  });

  it('revokes the family when another client replays a spent token within the grace period', async () => {
    const user = await subject.createUser();
    const tab = await login(user.email, user.password, FIREFOX);
    const rotated = (await refresh(tab.refresh_token)).json();
    const thief = await refresh(tab.refresh_token, 'curl/8.0');
    expect(thief.json().code).toBe('token_reused');
    expect((await sessions(rotated.access_token)).json().code).toBe('token_revoked');
  });
});

describe('device names', () => {
  it('reads browser and system from common User-Agents', () => {
    expect(describeUserAgent(FIREFOX)).toBe('Firefox on Linux');
    expect(describeUserAgent(SAFARI)).toBe('Safari on iOS');
    expect(
      describeUserAgent(
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0',
      ),
    ).toBe('Edge on Windows');
    expect(describeUserAgent('curl/8.5.0')).toBe('curl');
    expect(describeUserAgent(null)).toBe('Unknown device');
  });
});
