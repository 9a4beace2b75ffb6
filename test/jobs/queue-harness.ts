import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import pino from 'pino';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { createBullmqQueue } from '../../src/jobs/bullmq-queue.ts';
import { createEmbeddedQueue } from '../../src/jobs/embedded-queue.ts';
import type { JobQueue, QueueSettings } from '../../src/jobs/job-queue.ts';

/**
 * A lease no test outlives by waiting: a test that needs one expired moves a queue's clock past
 * it (`takeoverClock`) instead, so a slow machine never loses a lease by accident either. The
 * heartbeat stays short: it is also how a worker hears of a cancellation made through another
 * queue instance.
 */
export const TEST_SETTINGS: QueueSettings = {
  leaseMs: 60_000,
  heartbeatMs: 100,
  pollIntervalMs: 50,
  stalledCheckMs: 200,
  sweepIntervalMs: 60_000,
  retentionMs: 24 * 60 * 60_000,
  concurrency: {},
  defaultConcurrency: 2,
  shutdownGraceMs: 1_000,
};

export const silentLog = pino({ level: 'silent' });

/** One adapter under test, on its own database (and Redis prefix), so test files never meet. */
export interface QueueHarness {
  readonly name: string;
  database(): Database;
  /** A new adapter instance on the same database, as another process would have. */
  createQueue(settings?: Partial<QueueSettings>): JobQueue;
  /**
   * Makes the leases of `jobId` (a worker of `queue` died holding it) expired for a queue built
   * with `takeoverClock()`: the jobs table's lease through that clock; with BullMQ, Redis's own
   * lock too (Redis keeps time by itself, so the lock is removed as its expiry would).
   */
  expireLease(queue: string, jobId: string): Promise<void>;
  /** Environment for a child worker process reaching the same database and Redis. */
  childEnv(): Record<string, string>;
  /** PGlite allows one process at a time: the harness lets go of it while a child runs. */
  readonly exclusiveDatabase: boolean;
  releaseDatabase(): Promise<void>;
  reopenDatabase(): Promise<void>;
  close(): Promise<void>;
}

type Backend = 'pglite' | 'postgres';

export async function createHarness(backend: Backend, broker: 'embedded' | 'bullmq'): Promise<QueueHarness> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-jobs-'));
  let databaseUrl: string | undefined;
  let dropDatabase: (() => Promise<void>) | undefined;
  if (backend === 'postgres') {
    const base = process.env.DATABASE_URL;
    if (!base) throw new Error('DATABASE_URL is required for the PostgreSQL harness');
    const name = `intake_jobs_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(base);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    dropDatabase = async () => {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    };
  }
  const redisUrl = process.env.REDIS_URL;
  const prefix = `intake-test-${randomUUID().slice(0, 8)}`;
  if (broker === 'bullmq' && !redisUrl) throw new Error('REDIS_URL is required for the BullMQ harness');

  const open = async () => {
    const database = await openDatabase({ url: databaseUrl, dataDir, poolSize: 5 });
    await database.migrate();
    return database;
  };
  let database: Database | undefined = await open();
  const queues: JobQueue[] = [];

  return {
    name: `${broker} on ${backend}`,
    exclusiveDatabase: backend === 'pglite',
    database() {
      if (!database) throw new Error('the database is released');
      return database;
    },
    createQueue(overrides = {}) {
      if (!database) throw new Error('the database is released');
      const settings = { ...TEST_SETTINGS, ...overrides };
      const queue =
        broker === 'bullmq'
          ? createBullmqQueue(
              database,
              settings,
              { redisUrl: redisUrl ?? '', prefix, maxStalledCount: 2, relayIntervalMs: 100 },
              silentLog,
            )
          : createEmbeddedQueue(database, settings, silentLog);
      queues.push(queue);
      return queue;
    },
    async expireLease(queue, jobId) {
      if (broker !== 'bullmq' || !redisUrl) return;
      const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
      try {
        await redis.del(`${prefix}:${queue}:${jobId}:lock`);
      } finally {
        await redis.quit();
      }
    },
    childEnv() {
      // Empty means unset: the child must not pick up the parent's DATABASE_URL / REDIS_URL.
      return {
        DATA_DIR: dataDir,
        // Empty, not absent: the child inherits the parent's environment, whose DATABASE_URL and
        // REDIS_URL (set for the PostgreSQL and BullMQ runs) must not reach a PGlite/embedded child.
        DATABASE_URL: databaseUrl ?? '',
        REDIS_URL: broker === 'bullmq' && redisUrl ? redisUrl : '',
        JOBS_QUEUE_PREFIX: prefix,
        JOBS_LEASE_MS: String(TEST_SETTINGS.leaseMs),
        JOBS_HEARTBEAT_MS: String(TEST_SETTINGS.heartbeatMs),
        JOBS_POLL_INTERVAL_MS: String(TEST_SETTINGS.pollIntervalMs),
        JOBS_STALLED_CHECK_MS: String(TEST_SETTINGS.stalledCheckMs),
        LOG_LEVEL: 'silent',
      };
    },
    async releaseDatabase() {
      await Promise.all(queues.splice(0).map((queue) => queue.close()));
      await database?.close();
      database = undefined;
    },
    async reopenDatabase() {
      database = await open();
    },
    async close() {
      await Promise.all(queues.splice(0).map((queue) => queue.close()));
      await database?.close();
      await dropDatabase?.();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `probe` returns a value, for state reached asynchronously; fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A clock one lease (and a second) ahead of the wall clock: every lease taken before it is over. */
export function takeoverClock(leaseMs = TEST_SETTINGS.leaseMs): () => Date {
  return () => new Date(Date.now() + leaseMs + 1_000);
}

export function uniqueName(base: string): string {
  return `${base}-${randomUUID().slice(0, 8)}`;
}
