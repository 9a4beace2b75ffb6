import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { createEmbeddedQueue } from '../../src/jobs/embedded-queue.ts';
import { jobs } from '../../src/jobs/jobs.schema.ts';
import { noopJob } from '../../src/jobs/system-jobs.ts';
import { silentLog, TEST_SETTINGS } from './queue-harness.ts';

describe('intake worker', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-worker-cmd-'));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('runs queued jobs as its own process and stops cleanly on SIGTERM', async () => {
    let database = await openDatabase({ url: undefined, dataDir, poolSize: 1 });
    await database.migrate();
    const queue = createEmbeddedQueue(database, TEST_SETTINGS, silentLog);
    const { id } = await queue.enqueue(noopJob, { sequence: 1 });
    await queue.close();
    // PGlite is one process at a time: the worker takes the directory over.
    await database.close();

    const child = spawn(process.execPath, ['bin/intake.js', 'worker'], {
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        LOG_LEVEL: 'debug',
        LOG_PRETTY: 'false',
        JOBS_POLL_INTERVAL_MS: '50',
        DATABASE_URL: '',
        REDIS_URL: '',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.split('\n').some((line) => line.includes('job attempt ended') && line.includes(id))) resolve();
      });
      child.on('exit', (code) => reject(new Error(`worker exited early (${code}): ${output}`)));
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('worker stopped cleanly');

    database = await openDatabase({ url: undefined, dataDir, poolSize: 1 });
    const [row] = await database.db.select().from(jobs).where(eq(jobs.id, id));
    await database.close();
    expect(row?.status).toBe('succeeded');
  }, 90_000);

  it('intake serve runs queued jobs in a worker thread in the embedded mode', async () => {
    const serveDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-serve-cmd-'));
    onTestFinished(() => fs.rmSync(serveDir, { recursive: true, force: true }));
    let database = await openDatabase({ url: undefined, dataDir: serveDir, poolSize: 1 });
    await database.migrate();
    const queue = createEmbeddedQueue(database, TEST_SETTINGS, silentLog);
    const { id } = await queue.enqueue(noopJob, { sequence: 2 });
    await queue.close();
    await database.close();

    const child = spawn(process.execPath, ['bin/intake.js', 'serve'], {
      env: {
        ...process.env,
        DATA_DIR: serveDir,
        PORT: '0',
        LOG_LEVEL: 'debug',
        LOG_PRETTY: 'false',
        JOBS_POLL_INTERVAL_MS: '50',
        JOBS_WORKER_THREADS: '1',
        DATABASE_URL: '',
        REDIS_URL: '',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const lines = output.split('\n');
        const ran = lines.some((line) => line.includes('job attempt ended') && line.includes(id));
        if (ran && output.includes('listening on')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`serve exited early (${code}): ${output}`)));
    });
    expect(output).toMatch(/"threads":1/);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    database = await openDatabase({ url: undefined, dataDir: serveDir, poolSize: 1 });
    const [row] = await database.db.select().from(jobs).where(eq(jobs.id, id));
    await database.close();
    expect(row?.status).toBe('succeeded');
  }, 120_000);
});
