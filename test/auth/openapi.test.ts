import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.ts';

let t: TestApp;
let document: {
  components: { securitySchemes: Record<string, { type: string; in?: string; name?: string; scheme?: string }> };
  paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
};

beforeAll(async () => {
  t = await createTestApp();
  document = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
});

afterAll(async () => {
  await t?.close();
});

describe('OpenAPI security', () => {
  it('declares the cookie, bearer and OAuth2 password schemes', () => {
    const schemes = document.components.securitySchemes;
    expect(schemes.cookieAuth).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'access_token' });
    expect(schemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes.oauth2).toMatchObject({ type: 'oauth2' });
  });

  it.each([
    ['/api/v1/users/me', 'get'],
    ['/api/v1/users/me', 'patch'],
    ['/api/v1/users/me/password', 'post'],
    ['/api/v1/users', 'get'],
    ['/api/v1/users/{id}', 'patch'],
    ['/api/v1/api-keys', 'post'],
    ['/api/v1/api-keys', 'get'],
    ['/api/v1/api-keys/{id}', 'delete'],
    ['/api/v1/auth/logout', 'post'],
  ])('marks %s %s as protected by cookie or bearer', (path, method) => {
    const security = document.paths[path]?.[method]?.security ?? [];
    const schemes = security.flatMap((requirement) => Object.keys(requirement));
    expect(schemes).toEqual(expect.arrayContaining(['cookieAuth', 'bearerAuth']));
  });

  it.each([
    ['/api/v1/auth/login', 'post'],
    ['/api/v1/auth/register', 'post'],
    ['/api/v1/auth/token', 'post'],
  ])('leaves %s %s open', (path, method) => {
    expect(document.paths[path]?.[method]?.security).toBeUndefined();
  });
});
