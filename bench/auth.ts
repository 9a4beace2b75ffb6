/**
 * Sign-ins per second and authenticated requests per second against a real listening server
 * on loopback. Embedded (PGlite) by default; set DATABASE_URL / REDIS_URL to measure the
 * scaled adapters: the bench then creates a database of its own on that server and drops it
 * afterwards, so it never migrates or writes into the database the URL names. Bounded: a
 * fixed number of requests per phase.
 *
 *   node --import tsx bench/auth.ts            # LOGINS=200 REQUESTS=3000 CONCURRENCY=16
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config/config.ts';

const LOGINS = Number(process.env.LOGINS ?? 200);
const REQUESTS = Number(process.env.REQUESTS ?? 3000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const PASSWORD = 'benchmark password 1';

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bench-'));
  const database = process.env.DATABASE_URL ? await scratchDatabase(process.env.DATABASE_URL) : undefined;
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: database?.url,
    REDIS_URL: process.env.REDIS_URL,
    REDIS_KEY_PREFIX: `intake-bench:${process.pid}:`,
    LOGIN_RATE_LIMIT_PER_IP: '1000000',
    LOGIN_RATE_LIMIT_PER_ACCOUNT: '1000000',
    REGISTER_RATE_LIMIT_PER_IP: '1000000',
  });
  const app = await buildApp(config);
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const api = `${address}/api/v1`;
  try {
    const email = `bench-${process.pid}-${Date.now()}@example.test`;
    await post(`${api}/auth/register`, { email, password: PASSWORD }, 201);

    const logins = await measure(LOGINS, Math.min(CONCURRENCY, os.availableParallelism()), async () => {
      await post(`${api}/auth/token`, { username: email, password: PASSWORD }, 200);
    });

    const tokens = (await post(`${api}/auth/token`, { username: email, password: PASSWORD }, 200)) as { access_token: string };
    const bearer = { authorization: `Bearer ${tokens.access_token}` };
    const created = (await post(`${api}/api-keys`, { name: 'bench' }, 201, bearer)) as { key: string };

    const get = (headers: Record<string, string>) => async () => {
      const response = await fetch(`${api}/users/me`, { headers });
      if (response.status !== 200) throw new Error(`GET /users/me answered ${response.status}`);
      await response.arrayBuffer();
    };
    const health = await measure(REQUESTS, CONCURRENCY, async () => {
      const response = await fetch(`${address}/health`);
      await response.arrayBuffer();
    });
    const jwtCalls = await measure(REQUESTS, CONCURRENCY, get(bearer));
    const keyCalls = await measure(REQUESTS, CONCURRENCY, get({ authorization: `Bearer ${created.key}` }));

    const mode = `${config.database.url ? 'PostgreSQL' : 'PGlite'}${config.redis.url ? ' + Redis' : ''}`;
    console.log(`intake auth bench — ${mode}, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})`);
    console.log(
      `password sign-ins (POST /auth/token, argon2id m=19MiB t=2):  ${rate(logins)}  (${LOGINS} requests, concurrency ${Math.min(CONCURRENCY, os.availableParallelism())})`,
    );
    console.log(
      `GET /users/me with a bearer JWT:                            ${rate(jwtCalls)}  (${REQUESTS} requests, concurrency ${CONCURRENCY})`,
    );
    console.log(
      `GET /users/me with an API key:                              ${rate(keyCalls)}  (${REQUESTS} requests, concurrency ${CONCURRENCY})`,
    );
    console.log(`GET /health (no auth, no database; the ceiling):            ${rate(health)}`);
  } finally {
    await app.close();
    await database?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function scratchDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `intake_bench_${process.pid}_${Date.now()}`;
  const run = async (statement: string) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await run(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`drop database if exists ${name} with (force)`) };
}

interface Measurement {
  count: number;
  seconds: number;
  p50: number;
  p99: number;
}

async function measure(count: number, concurrency: number, task: () => Promise<void>): Promise<Measurement> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        const begin = performance.now();
        await task();
        latencies.push(performance.now() - begin);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { count, seconds, p50: at(0.5), p99: at(0.99) };
}

function rate(m: Measurement): string {
  return `${(m.count / m.seconds).toFixed(0).padStart(6)} req/s  p50 ${m.p50.toFixed(1)} ms  p99 ${m.p99.toFixed(1)} ms`;
}

async function post(url: string, body: object, expected: number, headers: Record<string, string> = {}): Promise<unknown> {
  const form = url.endsWith('/auth/token');
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      ...headers,
      'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
    },
    body: form ? new URLSearchParams(body as Record<string, string>).toString() : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

await main();
