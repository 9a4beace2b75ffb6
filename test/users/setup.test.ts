import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback } from '../../src/users/first-admin.service.ts';
import { createTestApp, DEFAULT_PASSWORD, type TestApp } from '../helpers/app.ts';

const REMOTE = '203.0.113.9';

function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

function setupAdmin(
  t: TestApp,
  body: Record<string, unknown>,
  options: { remoteAddress?: string; headers?: Record<string, string> } = {},
) {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/setup/admin',
    payload: body,
    ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
  });
}

function setupState(t: TestApp, remoteAddress?: string) {
  return t.app.inject({ method: 'GET', url: '/api/v1/setup', ...(remoteAddress ? { remoteAddress } : {}) });
}

describe('first run with the setup link from the log', () => {
  let t: TestApp;
  const log = capturedLog();
  let token: string;

  beforeAll(async () => {
    t = await createTestApp({
      env: { LOG_LEVEL: 'info', PUBLIC_URL: 'http://intake.example.test:8000' },
      overrides: { logStream: log.stream },
    });
    await t.app.ready();
    const line = log.lines.find((entry) => typeof entry.setup_url === 'string');
    const url = new URL(String(line?.setup_url));
    token = new URLSearchParams(url.hash.slice(1)).get('token') ?? '';
  });

  afterAll(async () => {
    await t?.close();
  });

  it('prints a setup link holding the token in its fragment, once, at start', () => {
    const lines = log.lines.filter((entry) => typeof entry.setup_url === 'string');
    expect(lines).toHaveLength(1);
    expect(String(lines[0]?.setup_url)).toMatch(/^http:\/\/intake\.example\.test:8000\/setup#token=[A-Za-z0-9_-]{43}$/);
    expect(String(lines[0]?.msg)).toContain('No administrator exists yet');
    expect(token).toHaveLength(43);
  });

  it('says setup is needed, and that a remote client needs the token while a loopback one does not', async () => {
    expect((await setupState(t)).json()).toEqual({ needs_setup: true, token_required: false });
    expect((await setupState(t, REMOTE)).json()).toEqual({ needs_setup: true, token_required: true });
  });

  it('refuses a remote client without the token, or with a wrong one, and creates nobody', async () => {
    const without = await setupAdmin(t, { email: 'root@example.test', password: DEFAULT_PASSWORD }, { remoteAddress: REMOTE });
    expect(without.statusCode).toBe(403);
    expect(without.json()).toMatchObject({ code: 'setup_token_required' });
    const spoofed = await setupAdmin(
      t,
      { email: 'root@example.test', password: DEFAULT_PASSWORD },
      {
        remoteAddress: REMOTE,
        headers: { 'x-forwarded-for': '127.0.0.1' },
      },
    );
    expect(spoofed.json()).toMatchObject({ code: 'setup_token_required' });
    const wrong = await setupAdmin(
      t,
      { email: 'root@example.test', password: DEFAULT_PASSWORD, setup_token: `${token.slice(0, -1)}x` },
      { remoteAddress: REMOTE },
    );
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json()).toMatchObject({ code: 'setup_token_invalid' });
    expect((await setupState(t)).json()).toMatchObject({ needs_setup: true });
  });

  it('rejects a short password with 422 before anything is checked', async () => {
    const response = await setupAdmin(
      t,
      { email: 'root@example.test', password: 'short', setup_token: token },
      { remoteAddress: REMOTE },
    );
    expect(response.statusCode).toBe(422);
  });

  it('creates the first administrator with the token from anywhere; then setup is over and the token spent', async () => {
    const created = await setupAdmin(
      t,
      { email: 'Root@Example.test', password: DEFAULT_PASSWORD, full_name: 'Root', setup_token: token },
      { remoteAddress: REMOTE },
    );
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ email: 'root@example.test', role: 'admin', is_active: true, full_name: 'Root' });
    const session = await t.tokenLogin('root@example.test', DEFAULT_PASSWORD);
    const queues = await t.app.inject({
      method: 'GET',
      url: '/api/v1/admin/jobs/summary',
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(queues.statusCode).toBe(200);

    expect((await setupState(t, REMOTE)).json()).toMatchObject({ needs_setup: false });
    const again = await setupAdmin(
      t,
      { email: 'second@example.test', password: DEFAULT_PASSWORD, setup_token: token },
      { remoteAddress: REMOTE },
    );
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'setup_complete' });
    const fromLoopback = await setupAdmin(t, { email: 'second@example.test', password: DEFAULT_PASSWORD });
    expect(fromLoopback.json()).toMatchObject({ code: 'setup_complete' });
  });

  it('documents the setup endpoints as public in the OpenAPI document', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(document.paths['/api/v1/setup'].get.security).toEqual([]);
    expect(document.paths['/api/v1/setup/admin'].post.security).toEqual([]);
  });
});

describe('first run from this machine', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('promotes an existing account only for someone who knows its password', async () => {
    const user = await t.createUser();
    const wrong = await setupAdmin(t, { email: user.email, password: 'not the password at all' });
    expect(wrong.statusCode).toBe(409);
    expect(wrong.json()).toMatchObject({ code: 'email_taken' });
    expect((await setupState(t)).json()).toMatchObject({ needs_setup: true });
  });

  it('promotes an existing account whose password is given, without a token from loopback', async () => {
    const user = await t.createUser({ fullName: 'Ada' });
    const promoted = await setupAdmin(t, { email: user.email, password: user.password });
    expect(promoted.statusCode).toBe(200);
    expect(promoted.json()).toMatchObject({ id: user.id, role: 'admin', full_name: 'Ada' });
    expect((await setupState(t)).json()).toMatchObject({ needs_setup: false });
  });
});

describe('first run behind a proxy (TRUST_PROXY)', () => {
  let t: TestApp;
  const log = capturedLog();

  beforeAll(async () => {
    t = await createTestApp({ env: { TRUST_PROXY: 'true', LOG_LEVEL: 'info' }, overrides: { logStream: log.stream } });
    await t.app.ready();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('requires the token even from loopback, where the proxy itself connects from', async () => {
    expect((await setupState(t)).json()).toEqual({ needs_setup: true, token_required: true });
    const response = await setupAdmin(
      t,
      { email: 'root@example.test', password: DEFAULT_PASSWORD },
      { headers: { 'x-forwarded-for': '127.0.0.1' } },
    );
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'setup_token_required' });
  });

  it('lets only one of two simultaneous requests with the token become the first administrator', async () => {
    const url = log.lines.map((entry) => entry.setup_url).find((value) => typeof value === 'string');
    const token = new URLSearchParams(new URL(String(url)).hash.slice(1)).get('token') ?? '';
    const answers = await Promise.all([
      setupAdmin(t, { email: 'one@example.test', password: DEFAULT_PASSWORD, setup_token: token }),
      setupAdmin(t, { email: 'two@example.test', password: DEFAULT_PASSWORD, setup_token: token }),
    ]);
    expect(answers.map((answer) => answer.statusCode).sort()).toEqual([201, 409]);
    expect(answers.find((answer) => answer.statusCode === 409)?.json()).toMatchObject({ code: 'setup_complete' });
    expect((await setupState(t)).json()).toMatchObject({ needs_setup: false });
  });
});

describe('isLoopback', () => {
  it('recognises IPv4 loopback, IPv6 loopback and IPv4-mapped loopback, and nothing else', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopback(address), address).toBe(true);
    for (const address of [undefined, '', '10.0.0.1', '::ffff:10.0.0.1', '::', '0.0.0.0', '128.0.0.1', 'fe80::1']) {
      expect(isLoopback(address), String(address)).toBe(false);
    }
  });
});
