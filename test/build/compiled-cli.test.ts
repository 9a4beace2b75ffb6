import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledState, ROOT } from '../../bin/entry.js';
import { VERSION } from '../../src/version.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { BIN, startCliServer } from '../helpers/cli-server.ts';

/**
 * Production runs dist/, the output of `npm run build`, and nothing else: these tests run that
 * output (INTAKE_RUN=compiled), so a build that emits broken JavaScript, leaves a `.ts`
 * specifier behind or misses a file resolved at run time fails here. CI's `npm ci` builds it
 * through `prepare`; a checkout whose dist/ is missing or older than src/ is built first.
 */
const COMPILED = { PATH: process.env.PATH, INTAKE_RUN: 'compiled' };
const disposables: TestDatabase[] = [];

beforeAll(() => {
  if (compiledState() === 'fresh') return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  expect(build.stdout + build.stderr).toBe('');
  expect(build.status).toBe(0);
}, 600_000);
afterAll(async () => {
  await Promise.all(disposables.map((subject) => subject.close().catch(() => undefined)));
});

describe('the compiled CLI', () => {
  it('leaves no TypeScript specifier in the emitted imports', () => {
    const files = fs
      .readdirSync(path.join(ROOT, 'dist'), { recursive: true })
      .map(String)
      .filter((file) => file.endsWith('.js'));
    expect(files).toContain('main.js');
    expect(files).toContain(path.join('jobs', 'worker-thread.js'));
    for (const file of files) {
      const text = fs.readFileSync(path.join(ROOT, 'dist', file), 'utf8');
      expect(text, file).not.toMatch(/(?:from|import\()\s*["']\.{1,2}\/[^"']*\.ts["']/);
    }
  });

  it('prints its version', () => {
    const result = spawnSync(process.execPath, [BIN, '--version'], { env: COMPILED, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(VERSION);
    expect(result.status).toBe(0);
  });

  it('serves /health, starts its job worker thread from dist/ with the first job, then stops on SIGTERM', async () => {
    const subject = await createTestDatabase();
    disposables.push(subject);
    await subject.database.close();
    const server = await startCliServer({
      ...COMPILED,
      NODE_ENV: 'test',
      DATA_DIR: subject.dataDir,
      ...(subject.url ? { DATABASE_URL: subject.url } : {}),
      JOBS_WORKER_THREADS: '1',
    });
    try {
      const health = await fetch(`${server.origin}/health`);
      expect(await health.json()).toEqual({ status: 'ok' });
      await server.waitFor('worker started');
      // The thread (dist/jobs/worker-thread.js and the handlers) starts with the first job: a
      // processed CSV proves it loaded from dist/.
      const api = `${server.origin}/api/v1`;
      const credentials = { email: 'thread@example.com', password: 'correct horse battery' };
      const registered = await fetch(`${api}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(credentials),
      });
      expect(registered.status).toBe(201);
      const token = (await (
        await fetch(`${api}/auth/token`, {
          method: 'POST',
          body: new URLSearchParams({ username: credentials.email, password: credentials.password }),
        })
      ).json()) as { access_token: string };
      const form = new FormData();
      form.append('files', new Blob(['name,country\nAda,GB\n'], { type: 'text/csv' }), 'people.csv');
      const uploaded = (await (
        await fetch(`${api}/files`, { method: 'POST', headers: { authorization: `Bearer ${token.access_token}` }, body: form })
      ).json()) as { items: { job_id: string }[] };
      const jobId = uploaded.items[0]?.job_id;
      // The job's event stream ends with its final status.
      const events = await (
        await fetch(`${api}/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${token.access_token}` } })
      ).text();
      expect(events).toMatch(/"status":"succeeded"/);
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(server.output()).not.toContain('"level":50');
  });

  it('says how to build when dist/ is missing and tsx is not installed', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bin-'));
    try {
      fs.cpSync(path.join(ROOT, 'bin'), path.join(copy, 'bin'), { recursive: true });
      const result = spawnSync(process.execPath, [path.join(copy, 'bin', 'intake.js'), '--version'], {
        env: { PATH: process.env.PATH },
        encoding: 'utf8',
      });
      expect(result.status).toBe(1);
      expect(result.stderr.trim()).toBe(
        'intake: the compiled files (dist/) are missing: run `npm run build` (`npm install` runs it too).',
      );
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});
