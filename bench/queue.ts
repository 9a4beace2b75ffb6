// No-op jobs through each queue adapter, enqueue to completion.
//   node --import tsx bench/queue.ts            (PGlite always; PostgreSQL with DATABASE_URL; BullMQ with REDIS_URL)
//   BENCH_JOBS=5000 BENCH_CONCURRENCY=16 node --import tsx bench/queue.ts
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { count, eq } from 'drizzle-orm';
import pg from 'pg';
import pino from 'pino';
import { openDatabase, type Database } from '../src/db/database.ts';
import { createBullmqQueue } from '../src/jobs/bullmq-queue.ts';
import { createEmbeddedQueue } from '../src/jobs/embedded-queue.ts';
import { JobRegistry } from '../src/jobs/job-registry.ts';
import type { JobQueue, QueueSettings } from '../src/jobs/job-queue.ts';
import { jobs } from '../src/jobs/jobs.schema.ts';
import { noopJob } from '../src/jobs/system-jobs.ts';
import { writeBenchResult } from './result-file.ts';

const JOBS = Number(process.env.BENCH_JOBS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const ENQUEUERS = 16;
const log = pino({ level: 'warn' });

const settings: QueueSettings = {
  leaseMs: 30_000,
  heartbeatMs: 10_000,
  pollIntervalMs: 100,
  stalledCheckMs: 15_000,
  sweepIntervalMs: 300_000,
  retentionMs: 24 * 3600_000,
  concurrency: { notifications: CONCURRENCY },
  defaultConcurrency: CONCURRENCY,
  shutdownGraceMs: 5_000,
};

interface Figures {
  adapter: string;
  jobs: number;
  enqueuePerSecond: number;
  endToEndPerSecond: number;
  seconds: number;
  /** This process's CPU (user + system) per job from the first enqueue to the last done: all of it on PGlite, the client's share otherwise. */
  cpuMicrosPerJob: number;
}

async function measure(adapter: string, database: Database, queue: JobQueue): Promise<Figures> {
  const workers = await queue.startWorkers({ registry: new JobRegistry().register(noopJob, async () => null) });
  // Warm-up: first statements, JIT, Redis scripts.
  for (let index = 0; index < 20; index += 1) await queue.enqueue(noopJob, { sequence: -1 });
  await waitFor(database, 20);

  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: ENQUEUERS }, async () => {
      while (next < JOBS) {
        next += 1;
        await queue.enqueue(noopJob, { sequence: next });
      }
    }),
  );
  const enqueued = performance.now();
  await waitFor(database, JOBS + 20);
  const done = performance.now();
  const cpu = process.cpuUsage(cpuStarted);
  await workers.close(1_000);
  return {
    adapter,
    jobs: JOBS,
    enqueuePerSecond: Math.round(JOBS / ((enqueued - started) / 1000)),
    endToEndPerSecond: Math.round(JOBS / ((done - started) / 1000)),
    seconds: Math.round((done - started) / 100) / 10,
    cpuMicrosPerJob: Math.round((cpu.user + cpu.system) / JOBS),
  };
}

async function waitFor(database: Database, expected: number): Promise<void> {
  for (;;) {
    const [row] = await database.db.select({ n: count() }).from(jobs).where(eq(jobs.status, 'succeeded'));
    if ((row?.n ?? 0) >= expected) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function withPglite<T>(run: (database: Database) => Promise<T>): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bench-queue-'));
  const database = await openDatabase({ url: undefined, dataDir, poolSize: 1 });
  try {
    await database.migrate();
    return await run(database);
  } finally {
    await database.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function withPostgres<T>(base: string, run: (database: Database) => Promise<T>): Promise<T> {
  const name = `intake_bench_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), dataDir: os.tmpdir(), poolSize: 20 });
  try {
    await database.migrate();
    return await run(database);
  } finally {
    await database.close();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

const results: Figures[] = [];
// BENCH_QUEUE_ADAPTERS=pglite,postgres,bullmq (default: all that the URLs allow) runs only those.
const adapters = new Set((process.env.BENCH_QUEUE_ADAPTERS ?? 'pglite,postgres,bullmq').split(','));
const databaseUrl = adapters.has('postgres') || adapters.has('bullmq') ? process.env.DATABASE_URL : undefined;
const redisUrl = adapters.has('bullmq') ? process.env.REDIS_URL : undefined;

if (adapters.has('pglite'))
  results.push(
    await withPglite((database) => measure('embedded · PGlite', database, createEmbeddedQueue(database, settings, log))),
  );
if (databaseUrl && adapters.has('postgres')) {
  results.push(
    await withPostgres(databaseUrl, (database) =>
      measure('embedded · PostgreSQL', database, createEmbeddedQueue(database, settings, log)),
    ),
  );
}
if (redisUrl) {
  const bullmq = (database: Database) =>
    createBullmqQueue(
      database,
      settings,
      { redisUrl, prefix: `intake-bench-${randomUUID().slice(0, 8)}`, maxStalledCount: 1, relayIntervalMs: 1_000 },
      log,
    );
  const run = async (label: string, database: Database) => {
    const queue = bullmq(database);
    try {
      return await measure(label, database, queue);
    } finally {
      await queue.close();
    }
  };
  // bench/all.ts reads the PostgreSQL row only; BENCH_SKIP_BULLMQ_PGLITE spares it the PGlite one.
  if (!process.env.BENCH_SKIP_BULLMQ_PGLITE)
    results.push(await withPglite((database) => run('BullMQ · jobs table on PGlite', database)));
  if (databaseUrl)
    results.push(await withPostgres(databaseUrl, (database) => run('BullMQ · jobs table on PostgreSQL', database)));
}

console.log(
  `\nNo-op jobs, enqueue → completion (${JOBS} jobs, ${ENQUEUERS} concurrent enqueuers, worker concurrency ${CONCURRENCY}, ${os.cpus().length} CPUs, Node ${process.version})\n`,
);
console.log('| adapter | enqueue jobs/s | end-to-end jobs/s | total s | node CPU µs/job |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const figures of results) {
  console.log(
    `| ${figures.adapter} | ${figures.enqueuePerSecond} | ${figures.endToEndPerSecond} | ${figures.seconds} | ${figures.cpuMicrosPerJob} |`,
  );
}
writeBenchResult(results);
process.exit(0);
