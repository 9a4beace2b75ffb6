import { Writable } from 'node:stream';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/errors/catalog.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';

const logLines: Record<string, unknown>[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
    done();
  },
});

let subject: TestApp;

beforeAll(async () => {
  subject = await createTestApp({
    env: { LOG_LEVEL: 'info', BODY_LIMIT_BYTES: '2048', CORS_ORIGINS: 'https://app.example.com' },
    overrides: { logStream },
    routes: (app) => {
      app.post(
        '/test/echo',
        { schema: { body: Type.Object({ name: Type.String({ minLength: 2 }), count: Type.Integer({ minimum: 1 }) }) } },
        async (request) => request.body,
      );
      app.get('/test/explode', async () => {
        throw new Error('secret detail at /srv/intake/src/thing.ts: SELECT * FROM users');
      });
      app.get('/test/gone', async () => {
        throw ERRORS.notFound('No such thing.');
      });
      app.get('/test/large', async () => ({ items: 'x'.repeat(10_000) }));
    },
  });
});

afterAll(async () => {
  await subject?.close();
});

function expectProblem(
  response: { headers: Record<string, unknown>; json(): Record<string, unknown> },
  status: number,
  code: string,
) {
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json();
  expect(body).toMatchObject({ status, code, type: `/problems/${code}` });
  expect(typeof body.title).toBe('string');
  expect(body.request_id).toBe(response.headers['x-request-id']);
  return body;
}

describe('service endpoints', () => {
  it('answers /health with ok and touches nothing', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('answers /ready with the state of the database, storage and queue', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/ready' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.status).toBe('ready');
    expect(body.components).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'database', status: 'up' }),
        expect.objectContaining({ name: 'storage', status: 'up' }),
      ]),
    );
  });

  it('serves an OpenAPI 3.1 document generated from the routes', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const document = response.json();
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBe('Intake API');
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/health', '/ready']));
    expect(document.paths['/ready'].get.responses).toHaveProperty('503');
  });

  it('serves the interactive reference at /docs with its own content policy', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/docs/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.body).toContain('swagger');
    expect(String(response.headers['content-security-policy'])).toContain("script-src 'self'");
  });

  it('describes each problem type at its URL', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/problems/validation_failed' });
    expect(response.json()).toMatchObject({ code: 'validation_failed', status: 422 });
    const unknown = await subject.app.inject({ method: 'GET', url: '/problems/constructor' });
    expect(unknown.statusCode).toBe(404);
  });
});

describe('problem details', () => {
  it('answers an unknown route with a 404 problem', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/api/v1/nothing-here?x=1' });
    expect(response.statusCode).toBe(404);
    const body = expectProblem(response, 404, 'route_not_found');
    expect(body.instance).toBe('/api/v1/nothing-here');
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const response = await subject.app.inject({ method: 'DELETE', url: '/health' });
    expect(response.statusCode).toBe(405);
    expectProblem(response, 405, 'method_not_allowed');
    expect(response.headers.allow).toBe('GET, HEAD');
  });

  it('answers a body that breaks the schema with 422 and every path at fault', async () => {
    const response = await subject.app.inject({ method: 'POST', url: '/test/echo', payload: { name: 'x' } });
    expect(response.statusCode).toBe(422);
    const body = expectProblem(response, 422, 'validation_failed');
    expect(body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: expect.stringMatching(/^body\./) })]));
  });

  it('answers malformed JSON with 400', async () => {
    const response = await subject.app.inject({
      method: 'POST',
      url: '/test/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": "ab",',
    });
    expect(response.statusCode).toBe(400);
    expectProblem(response, 400, 'malformed_body');
  });

  it('answers a body over the configured limit with 413', async () => {
    const response = await subject.app.inject({
      method: 'POST',
      url: '/test/echo',
      payload: { name: 'x'.repeat(4096), count: 1 },
    });
    expect(response.statusCode).toBe(413);
    expectProblem(response, 413, 'payload_too_large');
  });

  it('answers an unsupported content type with 415', async () => {
    const response = await subject.app.inject({
      method: 'POST',
      url: '/test/echo',
      headers: { 'content-type': 'application/x-something' },
      payload: 'name=ab',
    });
    expect(response.statusCode).toBe(415);
    expectProblem(response, 415, 'unsupported_media_type');
  });

  it('answers an AppError with its own status and code', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/test/gone' });
    expect(response.statusCode).toBe(404);
    expect(expectProblem(response, 404, 'not_found').detail).toBe('No such thing.');
  });

  it('answers an unexpected error with a generic 500 and logs the stack alone', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/test/explode' });
    expect(response.statusCode).toBe(500);
    const body = expectProblem(response, 500, 'internal_error');
    expect(response.body).not.toMatch(/secret|SELECT|\/srv|thing\.ts|at /);
    expect(body.detail).toMatch(/request id/);
    const logged = logLines.find((line) => line.request_id === body.request_id && line.level === 50);
    expect(JSON.stringify(logged)).toContain('secret detail');
  });
});

describe('request ids and logs', () => {
  it('honours a well-formed X-Request-ID and returns it', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'client-abc.123' } });
    expect(response.headers['x-request-id']).toBe('client-abc.123');
  });

  it('replaces an X-Request-ID that could inject into logs', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'evil\nline' } });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('writes one line per request with method, route, status, duration and request id', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'one-line-check' } });
    expect(response.statusCode).toBe(200);
    const lines = logLines.filter((line) => line.request_id === 'one-line-check');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: 'GET', route: '/health', status: 200, msg: 'request' });
    expect(typeof lines[0]?.duration_ms).toBe('number');
  });

  it('never writes credentials into the log', async () => {
    const secret = 'Bearer super-secret-token-value';
    subject.app.log.info(
      { headers: { authorization: secret, cookie: 'access_token=abc' }, body: { password: 'hunter22' } },
      'probe',
    );
    await subject.app.inject({ method: 'GET', url: '/health', headers: { authorization: secret, cookie: 'access_token=abc' } });
    const text = JSON.stringify(logLines);
    expect(text).not.toContain('super-secret-token-value');
    expect(text).not.toContain('hunter22');
    expect(text).not.toContain('access_token=abc');
    expect(text).toContain('[redacted]');
  });
});

describe('security headers, CORS and compression', () => {
  it('sets a strict content policy and no-sniff on API answers', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/health' });
    expect(response.headers['content-security-policy']).toContain("default-src 'none'");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBeDefined();
  });

  it('lets only configured origins call the API from a browser', async () => {
    const allowed = await subject.app.inject({
      method: 'OPTIONS',
      url: '/health',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
    });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    const refused = await subject.app.inject({
      method: 'GET',
      url: '/health',
      headers: { origin: 'https://evil.example.net' },
    });
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('compresses large answers for clients that accept it', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/test/large', headers: { 'accept-encoding': 'gzip' } });
    expect(response.headers['content-encoding']).toBe('gzip');
  });
});
