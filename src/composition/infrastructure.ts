import type { Redis } from 'ioredis';
import { loadSigningKeys, type SigningKeys } from '../auth/signing-keys.ts';
import {
  DatabaseTokenRevocationStore,
  RedisTokenRevocationStore,
  type TokenRevocationStore,
} from '../auth/token-revocation-store.ts';
import type { Config } from '../config/config.ts';
import { redactUrl } from '../config/config-spec.ts';
import { openDatabase, type Database } from '../db/database.ts';
import type { EventBus } from '../events/event-bus.ts';
import { createEventBus } from '../events/create-event-bus.ts';
import { jobEventPublisher } from '../events/job-event-relay.ts';
import { fileStatusFromJob } from '../files/file-status-events.ts';
import type { ReadinessCheck } from '../http/readiness-check.ts';
import type { JobEventSink, JobLogger, JobQueue } from '../jobs/job-queue.ts';
import { jobAttemptLog } from '../jobs/job-attempt-log.ts';
import { createJobQueue } from '../jobs/job-queue-factory.ts';
import { registerDatabaseGauges } from '../metrics/database-gauges.ts';
import { allOf, jobMetricsSink } from '../metrics/job-metrics.ts';
import { IntakeMetrics } from '../metrics/metrics.ts';
import { DatabaseRateLimiter } from '../rate-limit/database-rate-limiter.ts';
import type { RateLimiter } from '../rate-limit/rate-limiter.ts';
import { RedisRateLimiter } from '../rate-limit/redis-rate-limiter.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { createBlobStore, openOnce } from '../storage/create-blob-store.ts';
import { observedJobQueue, startTelemetry, type Telemetry } from '../telemetry/telemetry.ts';
import { webhookDeliveryJob } from '../webhooks/webhook-delivery.job.ts';
import { QUEUE_NAMES } from './job-types.ts';

/**
 * The adapters the service runs on, built from Config by this one module for `intake serve`,
 * `intake worker` and the embedded mode (which shares one set between the API and its
 * workers). A test passes its own for any of them (`overrides`); what is passed is the
 * test's to close, what is built here is closed by `close()`.
 */
export interface Infrastructure {
  readonly database: Database;
  /** Realtime fan-out: Redis pub/sub when REDIS_URL is set, else in-process. */
  readonly eventBus: EventBus;
  readonly jobQueue: JobQueue;
  /** This process's metrics (one set for the API and the workers of `intake serve`), served at /metrics. */
  readonly metrics: IntakeMetrics;
  /** Traces and error reports, when OTEL_EXPORTER_OTLP_ENDPOINT or SENTRY_DSN is set. */
  readonly telemetry: Telemetry | undefined;
  /** Names the workers started on `jobQueue` in this process, for the job attempt log. */
  nameWorker(workerId: string): void;
  /** The blob store, opened on first use: a worker whose handlers run in threads never needs it here. */
  blobs(): Promise<BlobStore>;
  /** What only the API needs (signing keys, rate limits, revocations), built on first call. */
  api(): Promise<ApiInfrastructure>;
  /** The components `/ready` checks, as built so far. */
  readiness(): ReadinessCheck[];
  /**
   * Closes what was built here, last built first: the queue before the bus it publishes to,
   * both before Redis and the blob store, the database last (the others write to it while closing).
   */
  close(): Promise<void>;
}

export interface ApiInfrastructure {
  readonly blobStore: BlobStore;
  /** Keys that sign and verify JWTs: from config, or generated under DATA_DIR. */
  readonly signingKeys: SigningKeys;
  /** Redis when REDIS_URL is set, else the database. */
  readonly rateLimiter: RateLimiter;
  /** Redis when REDIS_URL is set, else the database. */
  readonly tokenRevocations: TokenRevocationStore;
}

export type InfrastructureOverrides = Partial<{
  metrics: IntakeMetrics;
  telemetry: Telemetry;
  database: Database;
  eventBus: EventBus;
  jobQueue: JobQueue;
  blobStore: BlobStore;
  signingKeys: SigningKeys;
  rateLimiter: RateLimiter;
  tokenRevocations: TokenRevocationStore;
}>;

interface Closable {
  close(): Promise<void>;
}

/** The configured database (PostgreSQL at DATABASE_URL, else PGlite under DATA_DIR): the one place it is opened. */
export function openConfiguredDatabase(config: Pick<Config, 'database' | 'dataDir'>): Promise<Database> {
  return openDatabase({ ...config.database, dataDir: config.dataDir });
}

export async function buildInfrastructure(
  config: Config,
  log: JobLogger,
  overrides: InfrastructureOverrides = {},
): Promise<Infrastructure> {
  const owned: { name: string; resource: Closable }[] = [];
  const own = <T extends Closable>(name: string, resource: T): T => {
    owned.push({ name, resource });
    return resource;
  };
  const close = async () => {
    // Each is closed even when another fails; every failure is logged with what it was.
    for (const { name, resource } of owned.splice(0).reverse()) {
      await resource
        .close()
        .catch((error: unknown) => log.error({ err: error, component: name }, 'could not close a component cleanly'));
    }
  };

  try {
    // Owned first, so closed last: it exports what everything else reported while closing.
    const { otlpEndpoint, sentryDsn } = config.telemetry;
    const telemetry =
      overrides.telemetry ??
      (otlpEndpoint || sentryDsn ? own('telemetry', await startTelemetry(config.telemetry, log)) : undefined);
    let database = overrides.database;
    if (!database) {
      database = own('database', await openConfiguredDatabase(config));
      // Before anyone claims a job or answers a request.
      if (config.database.migrateOnBoot) await database.migrate();
    }
    let metrics = overrides.metrics;
    if (!metrics) {
      metrics = new IntakeMetrics();
      registerDatabaseGauges(metrics, database, { queues: QUEUE_NAMES, leaseMs: config.jobs.leaseMs });
    }
    const eventBus = overrides.eventBus ?? own('event bus', await createEventBus(config, log));
    // Known once this process's workers start; attempt log lines name it.
    let workerId: string | undefined;
    const onJobEvent = allOf(
      jobEventPublisher(eventBus, log, [fileStatusFromJob]),
      jobMetricsSinkFor(config, metrics),
      jobAttemptLog(log, () => workerId),
    );
    const jobQueue = observedJobQueue(
      overrides.jobQueue ?? own('job queue', await createJobQueue(config.jobs, database, log, onJobEvent)),
      telemetry,
    );
    const db = database;

    let blobReadiness: ReadinessCheck | undefined;
    const openBlobs = openOnce(async () => overrides.blobStore ?? own('blob store', await createBlobStore(config.storage)));
    const blobs = async () => {
      const store = await openBlobs();
      blobReadiness = store.readiness;
      return store;
    };

    let redis: Redis | undefined;
    const redisClient = async (url: string): Promise<Redis> => {
      if (redis) return redis;
      const { Redis: RedisClient } = await import('ioredis');
      const client = new RedisClient(url, { maxRetriesPerRequest: 2, connectTimeout: 5_000 });
      // Errors surface on each command (and in /ready); unhandled, the event would crash the process.
      let lastWarning = 0;
      client.on('error', (error) => {
        if (Date.now() - lastWarning < 60_000) return;
        lastWarning = Date.now();
        log.warn({ err: error }, 'redis connection error (rate limits, token revocations)');
      });
      own('redis', { close: async () => void (await client.quit().catch(() => client.disconnect())) });
      redis = client;
      return client;
    };

    const api = openOnce(async (): Promise<ApiInfrastructure> => {
      const url = config.redis.url;
      const needsRedis = url !== undefined && (!overrides.rateLimiter || !overrides.tokenRevocations);
      const client = needsRedis ? await redisClient(url) : undefined;
      return {
        blobStore: await blobs(),
        signingKeys:
          overrides.signingKeys ??
          (await loadSigningKeys({
            privateKey: config.auth.jwtPrivateKey,
            retiredPublicKeys: config.auth.jwtPublicKeys,
            dataDir: config.dataDir,
          })),
        rateLimiter:
          overrides.rateLimiter ??
          (client ? new RedisRateLimiter(client, config.redis.keyPrefix) : new DatabaseRateLimiter(db.db)),
        tokenRevocations:
          overrides.tokenRevocations ??
          (client ? new RedisTokenRevocationStore(client, config.redis.keyPrefix) : new DatabaseTokenRevocationStore(db.db)),
      };
    });

    return {
      database,
      eventBus,
      jobQueue,
      metrics,
      telemetry,
      nameWorker(id) {
        workerId = id;
      },
      blobs,
      api,
      readiness() {
        const checks: ReadinessCheck[] = [{ name: 'database', target: `${db.kind} ${db.location}`, check: () => db.ping() }];
        if (blobReadiness) checks.push(blobReadiness);
        checks.push(...jobQueue.readiness());
        const client = redis;
        if (client)
          checks.push({
            name: 'redis',
            target: redactUrl(config.redis.url ?? ''),
            check: async () => void (await client.ping()),
          });
        return checks;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Job counters and webhook delivery outcomes, from the queue's job events. */
export function jobMetricsSinkFor(config: Pick<Config, 'webhooks'>, metrics: IntakeMetrics): JobEventSink {
  return jobMetricsSink(metrics, { webhookJobType: webhookDeliveryJob(config.webhooks).name });
}
