import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, workerEnvironmentFor, type TestApp, type TestUser } from '../helpers/app.ts';
import { multipartBody } from '../files/multipart.ts';
import { TestSocket } from './ws-client.ts';

const scaled = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);

/**
 * The scaled mode: `intake worker` in another process, on the same PostgreSQL database and
 * Redis, publishes job events; the API process relays them to its sockets through Redis pub/sub.
 */
describe.skipIf(!scaled)('realtime across processes (PostgreSQL + Redis)', () => {
  let subject: TestApp;
  let worker: ChildProcess | undefined;
  let alice: TestUser;
  let base: string;

  beforeAll(async () => {
    subject = await createTestApp({ env: { JOBS_RELAY_INTERVAL_MS: '50' } });
    await subject.app.listen({ host: '127.0.0.1', port: 0 });
    base = `127.0.0.1:${(subject.app.server.address() as AddressInfo).port}`;
    alice = await subject.createUser();
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker?.once('exit', resolve));
      worker.kill('SIGTERM');
      await exited;
    }
    await subject?.close();
  });

  async function startWorkerProcess(): Promise<void> {
    const { config } = subject;
    const child = spawn(process.execPath, ['bin/intake.js', 'worker'], {
      env: {
        ...process.env,
        ...workerEnvironmentFor(config, { LOG_LEVEL: 'info', JOBS_WORKER_THREADS: '0' }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    worker = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('worker started')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited early (${code}): ${output}`)));
    });
  }

  it('relays progress and status published by a worker in another process to a socket on the API process', async () => {
    await startWorkerProcess();
    const client = new TestSocket(`ws://${base}/api/v1/ws`);
    await client.opened;
    client.send({ type: 'auth', token: alice.accessToken });
    expect(await client.next()).toEqual({ type: 'auth.ok', user_id: alice.id });
    // Everything of Alice's, subscribed before the upload: no snapshot can stand in for a live event.
    client.send({ type: 'subscribe', channel: 'user' });
    expect(await client.next()).toEqual({ type: 'subscribed', channel: 'user' });

    const { body, contentType } = multipartBody([
      { filename: 'scores.csv', contentType: 'text/csv', content: 'name,score\nAda,1\nGrace,2\n' },
    ]);
    const uploaded = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: { ...alice.bearer, 'content-type': contentType },
      payload: body,
    });
    expect(uploaded.statusCode).toBe(201);
    const file = uploaded.json().items[0] as { id: string; job_id: string };

    const frames = await client.until(
      (frame) => frame.type === 'job.status' && frame.job_id === file.job_id && frame.status === 'succeeded',
    );
    client.close();
    const jobFrames = frames.filter((frame) => frame.job_id === file.job_id);
    expect(jobFrames[0]).toEqual({ type: 'job.status', job_id: file.job_id, file_id: file.id, status: 'running' });
    expect(jobFrames.filter((frame) => frame.type === 'job.progress').at(-1)).toMatchObject({
      progress: { percent: 100, message: 'done' },
    });
    expect(frames.filter((frame) => frame.type === 'file.status').map((frame) => frame.status)).toEqual([
      'uploaded',
      'processing',
      'processed',
    ]);
  }, 90_000);
});
