import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

const BIN = path.resolve('bin/intake.js');
const disposables: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(disposables.map((subject) => subject.close().catch(() => undefined)));
});

/** A data directory (or PostgreSQL database) the child process opens itself. */
async function childEnvironment(extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  const subject = await createTestDatabase();
  disposables.push(subject);
  await subject.database.close();
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'test',
    DATA_DIR: subject.dataDir,
    // The only process on its database: its DATA_DIR is the deployment's.
    ...(subject.url ? { DATABASE_URL: subject.url, DATA_DIR_SHARED: 'true' } : {}),
    ...extra,
  };
}

function run(args: string[], env: NodeJS.ProcessEnv = { PATH: process.env.PATH }) {
  return spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 60_000 });
}

describe('intake CLI', () => {
  it('prints its version', () => {
    const result = run(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(VERSION);
  });

  it('lists its commands', () => {
    const result = run(['--help']);
    expect(result.status).toBe(0);
    for (const command of ['serve', 'migrate', 'worker']) expect(result.stdout).toContain(command);
  });

  it('refuses an unknown command', () => {
    const result = run(['frobnicate']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unknown command "frobnicate"');
  });

  it('stops with one clear line on a bad configuration value', () => {
    const result = run(['serve'], { PATH: process.env.PATH, PORT: 'eighty' });
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe('Invalid configuration: PORT must be a whole number between 0 and 65535 (got "eighty")');
  });

  it('applies migrations with `migrate`', async () => {
    const result = run(['migrate'], await childEnvironment());
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/Migrations applied to (pglite|postgres)/);
  });

  it('serves /health and /ready, then exits 0 on SIGTERM', async () => {
    const env = await childEnvironment({ PORT: '0', LOG_PRETTY: 'false' });
    const child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in: ${output}`)), 60_000);
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+) — API docs at \S+\/docs — data in/.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
    });

    const health = await fetch(`${address}/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${address}/ready`);
    expect(ready.status).toBe(200);

    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('shut down cleanly');
    if (!env.DATABASE_URL) expect(fs.existsSync(path.join(String(env.DATA_DIR), 'pglite.lock'))).toBe(false);
  });

  it('runs workers with `worker` until SIGTERM, then stops cleanly', async () => {
    const env = await childEnvironment({ LOG_PRETTY: 'false' });
    const child = spawn(process.execPath, [BIN, 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (output += chunk));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('worker started')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('worker stopped cleanly');
  });
});
