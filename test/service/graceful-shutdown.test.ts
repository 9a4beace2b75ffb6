import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { startServer } from '../../src/server.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase } from '../helpers/database.ts';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function startSlowServer(graceMs: number) {
  const testDatabase = await createTestDatabase();
  // The app opens the database itself, as in production, so that closing it is the app's job.
  await testDatabase.database.close();
  const config = testConfig(testDatabase.dataDir, {
    PORT: '0',
    SHUTDOWN_GRACE_MS: String(graceMs),
    DATABASE_URL: testDatabase.url,
  });
  let requestArrived!: () => void;
  const arrived = new Promise<void>((resolve) => (requestArrived = resolve));
  const app = await buildApp(config);
  app.get('/test/slow', async () => {
    requestArrived();
    await new Promise((resolve) => setTimeout(resolve, 400));
    return { finished: true };
  });
  const signals = new EventEmitter();
  const server = await startServer(app, config, signals);
  return { server, signals, arrived, testDatabase };
}

describe('graceful shutdown', () => {
  it('lets a request in flight at SIGTERM finish, then closes the database', async () => {
    const { server, signals, arrived, testDatabase } = await startSlowServer(5_000);
    const inFlight = get(`${server.address}/test/slow`);
    await arrived;
    signals.emit('SIGTERM', 'SIGTERM');

    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ finished: true });
    expect(await server.closed).toBe(0);
    await expect(get(`${server.address}/health`)).rejects.toThrow(/ECONNREFUSED/);
    // PGlite's lock file goes only when the database closed cleanly.
    expect(fs.existsSync(path.join(testDatabase.dataDir, 'pglite.lock'))).toBe(false);
    await testDatabase.close();
  });

  it('cuts the remaining connections when the grace period runs out', async () => {
    const { server, signals, arrived, testDatabase } = await startSlowServer(50);
    const inFlight = get(`${server.address}/test/slow`);
    await arrived;
    signals.emit('SIGTERM', 'SIGTERM');
    expect(await server.closed).toBe(1);
    await expect(inFlight).rejects.toThrow();
    await testDatabase.close();
  });

  it('exits at once on a second signal', async () => {
    const { server, signals, arrived, testDatabase } = await startSlowServer(5_000);
    const inFlight = get(`${server.address}/test/slow`).catch(() => undefined);
    await arrived;
    signals.emit('SIGTERM', 'SIGTERM');
    signals.emit('SIGINT', 'SIGINT');
    expect(await server.closed).toBe(130);
    await inFlight;
    await testDatabase.close();
  });
});
