import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { openDatabase, type Database } from '../../src/db/database.ts';
import type { App } from '../../src/http/app-types.ts';
import { RedisRateLimiter } from '../../src/rate-limit/redis-rate-limiter.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { testConfig } from '../helpers/config.ts';
import { makeTempDir } from '../helpers/database.ts';
import { freePort } from '../helpers/free-port.ts';

/** Log lines as objects, to count what an outage writes. */
function logCollector(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { stream, lines };
}

function expectUnavailable(response: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  expect(response.statusCode, response.body).toBe(503);
  expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
  expect(String(response.headers['content-type'])).toContain('application/problem+json');
  const body = JSON.parse(response.body) as Record<string, unknown>;
  expect(body.code).toBe('service_unavailable');
  expect(body.request_id).toEqual(expect.any(String));
  expect(response.body).not.toContain('ECONNREFUSED');
  expect(response.body).not.toContain('127.0.0.1');
}

describe('a PostgreSQL that refuses connections', () => {
  let app: App;
  let database: Database;
  const log = logCollector();

  beforeAll(async () => {
    // A real PostgreSQL adapter pointed at a loopback port where nothing listens.
    const port = await freePort();
    database = await openDatabase({ url: `postgres://postgres@127.0.0.1:${port}/test`, dataDir: makeTempDir(), poolSize: 1 });
    app = await buildApp(testConfig(makeTempDir(), { LOG_LEVEL: 'info' }), { database, logStream: log.stream });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await database?.close();
  });

  it('answers API calls with 503 service_unavailable and Retry-After, and logs the outage once', async () => {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expectUnavailable(
        await app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { email: 'someone@example.test', password: 'a long password' },
        }),
      );
    }
    const outageLines = log.lines.filter((line) => String(line.msg).startsWith('a dependency is unavailable'));
    expect(outageLines).toHaveLength(1);
    expect(log.lines.filter((line) => line.level === 50 && line !== outageLines[0])).toEqual([]);
  });
});

describe('a Redis that refuses connections', () => {
  let subject: TestApp;
  let redis: Redis;

  beforeAll(async () => {
    const port = await freePort();
    redis = new Redis(`redis://127.0.0.1:${port}`, {
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => (times > 2 ? null : 10),
    });
    redis.on('error', () => undefined);
    subject = await createTestApp({ overrides: { rateLimiter: new RedisRateLimiter(redis, 'outage-test:') } });
  });
  afterAll(async () => {
    await subject?.close();
    redis?.disconnect();
  });

  it('answers a rate-limited route with 503 instead of 500', async () => {
    expectUnavailable(
      await subject.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'someone@example.test', password: 'a long password' },
      }),
    );
  });
});
