import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.ts';

const INDEX =
  '<!doctype html><html lang="en"><head><title>Intake</title><script type="module" src="/assets/app-3f9c2b1a.js"></script></head><body><div id="root"></div></body></html>';
const SCRIPT = 'document.getElementById("root").textContent = "console";';

/** A stand-in for `console/dist`, with the shape Vite writes: index.html and hashed assets. */
function fakeConsoleBuild(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-console-'));
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'index.html'), INDEX);
  fs.writeFileSync(path.join(dir, 'assets', 'app-3f9c2b1a.js'), SCRIPT);
  fs.writeFileSync(path.join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  return dir;
}

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

function directives(header: string | string[] | number | undefined): Map<string, string> {
  return new Map(
    String(header)
      .split(';')
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part) => {
        const [name = '', ...values] = part.split(/\s+/);
        return [name, values.join(' ')];
      }),
  );
}

describe('the console at /', () => {
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = fakeConsoleBuild();
    t = await createTestApp({ env: { CONSOLE_DIR: dir, PUBLIC_URL: 'https://intake.example.test' } });
  });

  afterAll(async () => {
    await t?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / under a strict policy, revalidated on every visit', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/', headers: HTML });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toBe(INDEX);
    expect(response.headers['cache-control']).toBe('no-cache');
    const csp = directives(response.headers['content-security-policy']);
    expect(Object.fromEntries(csp)).toEqual({
      'default-src': "'self'",
      'script-src': "'self'",
      'style-src': "'self'",
      'img-src': "'self' data: blob:",
      'connect-src': "'self' wss://intake.example.test",
      'frame-ancestors': "'none'",
      'base-uri': "'none'",
      'form-action': "'self'",
    });
  });

  it('serves hashed assets with a year-long immutable cache, and other files revalidated', async () => {
    const asset = await t.app.inject({ method: 'GET', url: '/assets/app-3f9c2b1a.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.body).toBe(SCRIPT);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const icon = await t.app.inject({ method: 'GET', url: '/favicon.svg' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['cache-control']).toBe('no-cache');
    expect(icon.headers['content-security-policy']).toContain("script-src 'self'");
  });

  it('answers a browser navigating to a console page with index.html (client-side routes)', async () => {
    for (const url of ['/files', '/files/3f1c0e9e-8a43-4d6e-9f0e-0c1f1f5b7a11', '/setup', '/admin/jobs?status=failed']) {
      const response = await t.app.inject({ method: 'GET', url, headers: HTML });
      expect(response.statusCode, url).toBe(200);
      expect(response.body, url).toBe(INDEX);
      expect(response.headers['cache-control'], url).toBe('no-cache');
      expect(response.headers['content-security-policy'], url).toContain("frame-ancestors 'none'");
    }
  });

  it('keeps problems for API paths, missing assets, other methods and clients that do not ask for HTML', async () => {
    const cases = [
      { method: 'GET', url: '/api/v1/nothing-here', headers: HTML, code: 'route_not_found' },
      { method: 'GET', url: '/assets/missing-0000.js', headers: HTML, code: 'route_not_found' },
      { method: 'GET', url: '/files', headers: { accept: 'application/json' }, code: 'route_not_found' },
      { method: 'POST', url: '/files', headers: HTML, code: 'route_not_found' },
      { method: 'DELETE', url: '/health', headers: HTML, code: 'method_not_allowed' },
    ] as const;
    for (const { method, url, headers, code } of cases) {
      const response = await t.app.inject({ method, url, headers });
      expect(response.headers['content-type'], `${method} ${url}`).toMatch(/^application\/problem\+json/);
      expect(response.json().code, `${method} ${url}`).toBe(code);
    }
  });

  it('leaves the API and /docs their own policies', async () => {
    const health = await t.app.inject({ method: 'GET', url: '/health' });
    expect(health.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
    const docs = await t.app.inject({ method: 'GET', url: '/docs/', headers: HTML });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
    expect(docs.headers['content-security-policy']).not.toContain("base-uri 'none'");
  });

  it('keeps the console out of the OpenAPI document', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(
      Object.keys(document.paths).filter(
        (route) =>
          !route.startsWith('/api/') && !['/health', '/ready', '/problems/{code}', '/.well-known/jwks.json'].includes(route),
      ),
    ).toEqual([]);
  });
});

describe('the console before it is built', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { CONSOLE_DIR: path.join(os.tmpdir(), `intake-no-console-${process.pid}-${Date.now()}`) } });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers / with a page that says how to build it, instead of a 404 problem', async () => {
    for (const url of ['/', '/files']) {
      const response = await t.app.inject({ method: 'GET', url, headers: HTML });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type'], url).toMatch(/^text\/html/);
      expect(response.body, url).toContain('npm run build:console');
      expect(response.body, url).not.toMatch(/<script|style=/);
    }
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me' })).json().code).toBe('unauthenticated');
  });
});
