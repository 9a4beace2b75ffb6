import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';

const MISSING_FILE = '00000000-0000-4000-8000-000000000000';

function expectProblem(
  response: { statusCode: number; headers: Record<string, unknown>; body: string },
  status: number,
  code: string,
) {
  expect(response.statusCode, response.body).toBe(status);
  expect(String(response.headers['content-type'])).toContain('application/problem+json');
  const body = JSON.parse(response.body) as { code: string; request_id: string };
  expect(body.code).toBe(code);
  expect(body.request_id).toEqual(expect.any(String));
  return body;
}

function cursorOf(position: unknown): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

describe('client faults answer 4xx problems, never 500', () => {
  let subject: TestApp;
  let user: TestUser;

  beforeAll(async () => {
    subject = await createTestApp();
    user = await subject.createUser();
  });
  afterAll(async () => subject?.close());

  it('refuses NUL and control characters in text fields and filters with 422 naming the field', async () => {
    const cases = [
      { method: 'POST' as const, url: '/api/v1/api-keys', payload: { name: 'a\u0000b' }, path: 'body.name' },
      { method: 'PATCH' as const, url: '/api/v1/users/me', payload: { full_name: 'x\u0000' }, path: 'body.full_name' },
      {
        method: 'POST' as const,
        url: '/api/v1/webhooks',
        payload: { url: 'https://example.com/', events: ['file.uploaded'], description: 'a\u0000' },
        path: 'body.description',
      },
      { method: 'GET' as const, url: '/api/v1/files?filename=%00', path: 'querystring.filename' },
      { method: 'GET' as const, url: '/api/v1/files?filename=%1B%5B31m', path: 'querystring.filename' },
      { method: 'GET' as const, url: `/api/v1/files/${MISSING_FILE}/records?filter[city]=%00`, path: 'querystring.filter[city]' },
    ];
    for (const { path, ...request } of cases) {
      const response = await subject.app.inject({ ...request, headers: user.bearer });
      const body = expectProblem(response, 422, 'validation_failed') as unknown as { errors: { path: string }[] };
      expect(body.errors.map((error) => error.path)).toContain(path);
    }
  });

  it('bounds integers in every query and in decoded records cursors', async () => {
    for (const offset of ['1e30', '99999999999999999999', '2147483648', '-1']) {
      expectProblem(
        await subject.app.inject({ method: 'GET', url: `/api/v1/files?offset=${offset}`, headers: user.bearer }),
        422,
        'validation_failed',
      );
    }
    const [file] = (
      await subject.app.inject({
        method: 'POST',
        url: '/api/v1/files?process=false',
        headers: { ...user.bearer, 'content-type': 'multipart/form-data; boundary=b0undary' },
        payload:
          '--b0undary\r\nContent-Disposition: form-data; name="files"; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\na,b\r\n1,2\r\n--b0undary--\r\n',
      })
    ).json<{ items: { id: string }[] }>().items;
    for (const position of [
      { row: 1e20, order: 'asc' },
      { row: 2147483648, order: 'asc' },
      { row: [1], order: 'asc' },
      [1, 2],
      { row: 1, order: 'asc', sort: 'a', value: [1] },
    ]) {
      const response = await subject.app.inject({
        method: 'GET',
        url: `/api/v1/files/${file!.id}/records?cursor=${cursorOf(position)}`,
        headers: user.bearer,
      });
      expect(response.statusCode, response.body).toBeGreaterThanOrEqual(400);
      expect(response.statusCode).toBeLessThan(500);
    }
  });

  it('answers malformed multipart bodies with 400 malformed_body', async () => {
    const part = 'Content-Disposition: form-data; name="files"; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\na,b\r\n1,2\r\n';
    const cases = [
      { type: 'multipart/form-data', payload: `--x\r\n${part}--x--\r\n` },
      { type: `multipart/form-data; boundary=${'a'.repeat(300)}`, payload: `--x\r\n${part}--x--\r\n` },
      { type: 'multipart/form-data; boundary=abc', payload: `--xyz\r\n${part}--xyz--\r\n` },
      { type: 'multipart/form-data; boundary=abc', payload: `--abc\r\n${part}` },
    ];
    for (const { type, payload } of cases) {
      const response = await subject.app.inject({
        method: 'POST',
        url: '/api/v1/files',
        headers: { ...user.bearer, 'content-type': type },
        payload,
      });
      expectProblem(response, 400, 'malformed_body');
    }
  });

  it('refuses unknown query parameters with 422 naming them, and filters jobs by file_id', async () => {
    const unknown = await subject.app.inject({ method: 'GET', url: '/api/v1/files?colour=red', headers: user.bearer });
    const body = expectProblem(unknown, 422, 'validation_failed') as unknown as { errors: { path: string }[] };
    expect(body.errors).toEqual([expect.objectContaining({ path: 'querystring.colour' })]);
    const noQueryRoute = await subject.app.inject({ method: 'GET', url: '/api/v1/users/me?x=1', headers: user.bearer });
    expectProblem(noQueryRoute, 422, 'validation_failed');
    const jobs = await subject.app.inject({ method: 'GET', url: `/api/v1/jobs?file_id=${MISSING_FILE}`, headers: user.bearer });
    expect(jobs.statusCode, jobs.body).toBe(200);
    expect(jobs.json().items).toEqual([]);
  });

  it('reads sort=-field as a descending sort, never as a field named "-field"', async () => {
    const upload = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/files?process=false',
      headers: { ...user.bearer, 'content-type': 'multipart/form-data; boundary=b0undary' },
      payload:
        '--b0undary\r\nContent-Disposition: form-data; name="files"; filename="s.csv"\r\nContent-Type: text/csv\r\n\r\nn\r\n1\r\n--b0undary--\r\n',
    });
    const id = upload.json<{ items: { id: string }[] }>().items[0]!.id;
    const descending = await subject.app.inject({
      method: 'GET',
      url: `/api/v1/files/${id}/records?sort=-n`,
      headers: user.bearer,
    });
    expect(descending.statusCode, descending.body).toBe(200);
    const explicit = await subject.app.inject({
      method: 'GET',
      url: `/api/v1/files/${id}/records?sort=n&order=desc`,
      headers: user.bearer,
    });
    expect(descending.json()).toEqual(explicit.json());
  });

  it('renders router errors as problems with request id and security headers, without echoing the path', async () => {
    const ordinary = await subject.app.inject({ method: 'GET', url: '/api/v1/nothing-here' });
    for (const [url, status, code] of [
      ['/api/v1/files/%E0%A4%A', 400, 'invalid_path'],
      [`/api/v1/files/${'a'.repeat(300)}`, 414, 'path_too_long'],
    ] as const) {
      const response = await subject.app.inject({ method: 'GET', url, headers: user.bearer });
      expectProblem(response, status, code);
      expect(response.headers['x-request-id']).toEqual(expect.any(String));
      expect(response.body).not.toContain(url.slice('/api/v1/files/'.length, 40));
      for (const header of [
        'content-security-policy',
        'x-content-type-options',
        'x-frame-options',
        'referrer-policy',
        'strict-transport-security',
        'cross-origin-resource-policy',
      ]) {
        expect(response.headers[header], header).toBe(ordinary.headers[header]);
      }
    }
  });

  it('answers headers too large from the HTTP parser as a problem', async () => {
    await subject.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = subject.app.server.address() as net.AddressInfo;
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', (error) => (data ? resolve(data) : reject(error)));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 431 /);
    expect(raw).toContain('application/problem+json');
    expect(raw).toMatch(/x-request-id: \S+/i);
    expect(raw).toContain('"code":"headers_too_large"');
  });
});
