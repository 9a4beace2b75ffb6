import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys } from '../../src/api-keys/api-key.schema.ts';
import { hashApiKey } from '../../src/api-keys/api-key.service.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});

afterAll(async () => {
  await t?.close();
});

async function createKey(user: TestUser, body: object = { name: 'importer' }) {
  const response = await t.app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: user.bearer, payload: body });
  return response;
}

const withKey = (key: string) => ({ authorization: `Bearer ${key}` });

describe('API keys', () => {
  it('shows the key once, lists it by prefix only and stores only its hash', async () => {
    const user = await t.createUser();
    const created = await createKey(user, { name: 'nightly import' });
    expect(created.statusCode).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const body = created.json();
    expect(body.key).toMatch(/^ik_[A-Za-z0-9_-]{43}$/);
    expect(body.key.startsWith(body.prefix)).toBe(true);
    expect(body).toMatchObject({ name: 'nightly import', last_used_at: null, expires_at: null });

    const list = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: user.bearer });
    expect(list.json()).toMatchObject({ total: 1, limit: 20, offset: 0 });
    expect(list.json().items[0]).toEqual({
      id: body.id,
      name: 'nightly import',
      prefix: body.prefix,
      created_at: body.created_at,
      last_used_at: null,
      expires_at: null,
    });
    expect(list.body).not.toContain(body.key);

    const [row] = await t.database.db.select().from(apiKeys).where(eq(apiKeys.id, body.id));
    expect(row?.keyHash).toBe(hashApiKey(body.key));
    expect(JSON.stringify(row)).not.toContain(body.key);
  });

  it('authenticates as its owner with auth_method api_key, needs no CSRF, and records last use', async () => {
    const user = await t.createUser();
    const { key, id } = (await createKey(user)).json();
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: withKey(key) });
    expect(me.statusCode).toBe(200);
    expect(me.json().id).toBe(user.id);
    const patch = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/users/me',
      headers: withKey(key),
      payload: { full_name: 'Robot' },
    });
    expect(patch.statusCode).toBe(200);
    const [row] = await t.database.db.select().from(apiKeys).where(eq(apiKeys.id, id));
    expect(row?.lastUsedAt).toBeInstanceOf(Date);
  });

  it("carries its owner's role", async () => {
    const admin = await t.createUser({ role: 'admin' });
    const user = await t.createUser();
    const adminKey = (await createKey(admin)).json().key;
    const userKey = (await createKey(user)).json().key;
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: withKey(adminKey) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: withKey(userKey) })).statusCode).toBe(403);
  });

  it('stops working once deleted', async () => {
    const user = await t.createUser();
    const { key, id } = (await createKey(user)).json();
    const deleted = await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${id}`, headers: user.bearer });
    expect(deleted.statusCode).toBe(204);
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: withKey(key) });
    expect(me.statusCode).toBe(401);
    expect(me.json().code).toBe('invalid_token');
    expect(me.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it("answers 404 when deleting someone else's key, and leaves it working", async () => {
    const owner = await t.createUser();
    const stranger = await t.createUser();
    const { key, id } = (await createKey(owner)).json();
    const response = await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${id}`, headers: stranger.bearer });
    expect(response.statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: withKey(key) })).statusCode).toBe(200);
  });

  it('lists only the caller’s keys', async () => {
    const owner = await t.createUser();
    const stranger = await t.createUser();
    await createKey(owner);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: stranger.bearer });
    expect(list.json()).toMatchObject({ items: [], total: 0 });
  });

  it('rejects an expired key with token_expired', async () => {
    const user = await t.createUser();
    const { key, id } = (
      await createKey(user, { name: 'short-lived', expires_at: new Date(Date.now() + 60_000).toISOString() })
    ).json();
    await t.database.db
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.id, id));
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: withKey(key) });
    expect(me.statusCode).toBe(401);
    expect(me.json().code).toBe('token_expired');
  });

  it('refuses an expiry in the past with 400', async () => {
    const user = await t.createUser();
    const response = await createKey(user, { name: 'x', expires_at: new Date(Date.now() - 60_000).toISOString() });
    expect(response.statusCode).toBe(400);
  });

  it('rejects an unknown key with invalid_token', async () => {
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: withKey(`ik_${'A'.repeat(43)}`) });
    expect(me.statusCode).toBe(401);
    expect(me.json().code).toBe('invalid_token');
  });

  it('answers 404 for an unknown key id and 422 for a malformed one', async () => {
    const user = await t.createUser();
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/api/v1/api-keys/${randomUUID()}`, headers: user.bearer })).statusCode,
    ).toBe(404);
    expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/api-keys/nope', headers: user.bearer })).statusCode).toBe(422);
  });

  it('requires authentication for every API-key route', async () => {
    for (const [method, url] of [
      ['POST', '/api/v1/api-keys'],
      ['GET', '/api/v1/api-keys'],
      ['DELETE', `/api/v1/api-keys/${randomUUID()}`],
    ] as const) {
      expect((await t.app.inject({ method, url, payload: method === 'POST' ? { name: 'x' } : undefined })).statusCode).toBe(401);
    }
  });
});
