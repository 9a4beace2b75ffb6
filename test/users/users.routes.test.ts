import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});

afterAll(async () => {
  await t?.close();
});

const api = (method: 'GET' | 'POST' | 'PATCH', url: string, headers: Record<string, string>, payload?: object) =>
  t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });

describe('GET and PATCH /users/me', () => {
  it('returns the signed-in user', async () => {
    const user = await t.createUser({ fullName: 'Grace' });
    const response = await api('GET', '/users/me', user.bearer);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ id: user.id, email: user.email, full_name: 'Grace', role: 'user', is_active: true });
  });

  it('changes the full name, and only that', async () => {
    const user = await t.createUser();
    const response = await api('PATCH', '/users/me', user.bearer, { full_name: 'Grace Hopper', role: 'admin' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ full_name: 'Grace Hopper', role: 'user' });
  });

  it('needs the CSRF header with cookies', async () => {
    const user = await t.createUser();
    const session = await t.cookieLogin(user.email, user.password);
    const without = await api('PATCH', '/users/me', { cookie: session.cookie }, { full_name: 'x' });
    expect(without.json().code).toBe('csrf_missing');
    const withToken = await api('PATCH', '/users/me', session.headers, { full_name: 'x' });
    expect(withToken.statusCode).toBe(200);
  });
});

describe('POST /users/me/password', () => {
  it('changes the password and revokes every other session, keeping the current one', async () => {
    const user = await t.createUser();
    const other = await t.tokenLogin(user.email, user.password);
    const browser = await t.cookieLogin(user.email, user.password);
    const response = await api('POST', '/users/me/password', user.bearer, {
      current_password: user.password,
      new_password: 'a brand new passphrase',
    });
    expect(response.statusCode).toBe(204);

    expect((await api('GET', '/users/me', user.bearer)).statusCode).toBe(200);
    const otherMe = await api('GET', '/users/me', { authorization: `Bearer ${other.accessToken}` });
    expect(otherMe.json().code).toBe('token_revoked');
    expect((await api('GET', '/users/me', { cookie: browser.cookie })).json().code).toBe('token_revoked');
    const refresh = await api('POST', '/auth/refresh', {}, { refresh_token: other.refreshToken });
    expect(refresh.json().code).toBe('token_revoked');

    await expect(t.tokenLogin(user.email, user.password)).rejects.toThrow(/401/);
    await expect(t.tokenLogin(user.email, 'a brand new passphrase')).resolves.toBeTruthy();
  });

  it('refuses a wrong current password with 400 invalid_current_password', async () => {
    const user = await t.createUser();
    const response = await api('POST', '/users/me/password', user.bearer, {
      current_password: 'not my password',
      new_password: 'a brand new passphrase',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('invalid_current_password');
  });

  it('refuses a new password shorter than 8 characters with 422', async () => {
    const user = await t.createUser();
    const response = await api('POST', '/users/me/password', user.bearer, {
      current_password: user.password,
      new_password: 'short',
    });
    expect(response.statusCode).toBe(422);
  });
});

describe('admin: GET /users', () => {
  it('is forbidden to ordinary users', async () => {
    const user = await t.createUser();
    const response = await api('GET', '/users', user.bearer);
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('forbidden');
  });

  it('lists users with pagination and filters by email substring, case-insensitively', async () => {
    const admin = await t.createUser({ role: 'admin' });
    const marker = randomUUID().slice(0, 8);
    for (let index = 0; index < 3; index += 1) await t.createUser({ email: `${marker}-${index}@example.test` });
    const filtered = await api('GET', `/users?email=${marker.toUpperCase()}&limit=2&offset=0`, admin.bearer);
    expect(filtered.statusCode).toBe(200);
    const page = filtered.json();
    expect(page).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(page.items).toHaveLength(2);
    const rest = (await api('GET', `/users?email=${marker}&limit=2&offset=2`, admin.bearer)).json();
    expect(rest.items).toHaveLength(1);
    const all = [...page.items, ...rest.items].map((item: { email: string }) => item.email).sort();
    expect(all).toEqual([0, 1, 2].map((index) => `${marker}-${index}@example.test`));
  });

  it('treats % and _ in the filter literally', async () => {
    const admin = await t.createUser({ role: 'admin' });
    const response = await api('GET', '/users?email=%25', admin.bearer);
    expect(response.json().total).toBe(0);
  });

  it('refuses a limit above 100 with 422', async () => {
    const admin = await t.createUser({ role: 'admin' });
    expect((await api('GET', '/users?limit=101', admin.bearer)).statusCode).toBe(422);
  });
});

describe('admin: PATCH /users/{id}', () => {
  it('promotes a user to admin, who then passes admin checks', async () => {
    const admin = await t.createUser({ role: 'admin' });
    const user = await t.createUser();
    const response = await api('PATCH', `/users/${user.id}`, admin.bearer, { role: 'admin' });
    expect(response.statusCode).toBe(200);
    expect(response.json().role).toBe('admin');
    // The role is read on each request, so the same token now carries it.
    expect((await api('GET', '/users', user.bearer)).statusCode).toBe(200);
  });

  it('deactivates a user whose tokens, cookies and API keys stop working at once', async () => {
    const admin = await t.createUser({ role: 'admin' });
    const user = await t.createUser();
    const browser = await t.cookieLogin(user.email, user.password);
    const key = (await api('POST', '/api-keys', user.bearer, { name: 'robot' })).json().key as string;

    const response = await api('PATCH', `/users/${user.id}`, admin.bearer, { is_active: false });
    expect(response.json().is_active).toBe(false);

    expect((await api('GET', '/users/me', user.bearer)).json().code).toBe('account_disabled');
    expect((await api('GET', '/users/me', { cookie: browser.cookie })).json().code).toBe('account_disabled');
    expect((await api('GET', '/users/me', { authorization: `Bearer ${key}` })).json().code).toBe('account_disabled');

    // Reactivation does not revive the old sessions.
    await api('PATCH', `/users/${user.id}`, admin.bearer, { is_active: true });
    expect((await api('GET', '/users/me', user.bearer)).json().code).toBe('token_revoked');
  });

  it('is forbidden to ordinary users', async () => {
    const user = await t.createUser();
    const other = await t.createUser();
    const response = await api('PATCH', `/users/${other.id}`, user.bearer, { role: 'admin' });
    expect(response.statusCode).toBe(403);
  });

  it('answers 404 for an unknown user', async () => {
    const admin = await t.createUser({ role: 'admin' });
    const response = await api('PATCH', `/users/${randomUUID()}`, admin.bearer, { is_active: false });
    expect(response.statusCode).toBe(404);
  });

  it('refuses to let an admin demote or deactivate themselves', async () => {
    const admin = await t.createUser({ role: 'admin' });
    const response = await api('PATCH', `/users/${admin.id}`, admin.bearer, { role: 'user' });
    expect(response.statusCode).toBe(409);
  });

  it('refuses an unknown role with 422', async () => {
    const admin = await t.createUser({ role: 'admin' });
    const user = await t.createUser();
    expect((await api('PATCH', `/users/${user.id}`, admin.bearer, { role: 'root' })).statusCode).toBe(422);
  });
});
