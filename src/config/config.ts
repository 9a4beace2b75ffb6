import path from 'node:path';
import { ConfigError, EnvReader, type Env } from './config-spec.ts';

export type Environment = 'development' | 'test' | 'production';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  readonly env: Environment;
  readonly host: string;
  readonly port: number;
  /** The address clients use to reach this service, for links the service hands out. */
  readonly publicUrl: string;
  readonly dataDir: string;
  readonly database: {
    /** Absent means the embedded PGlite database under `dataDir`. */
    readonly url: string | undefined;
    readonly poolSize: number;
    readonly migrateOnBoot: boolean;
  };
  readonly log: {
    readonly level: LogLevel;
    readonly pretty: boolean;
  };
  readonly http: {
    readonly corsOrigins: readonly string[];
    readonly bodyLimitBytes: number;
    readonly trustProxy: boolean;
    readonly shutdownGraceMs: number;
  };
  readonly jobs: JobsConfig;
}

export interface JobsConfig {
  /** Set: BullMQ on this Redis dispatches jobs. Unset: the embedded queue on the database. */
  readonly redisUrl: string | undefined;
  readonly prefix: string;
  readonly concurrency: { readonly files: number; readonly notifications: number };
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly pollIntervalMs: number;
  readonly stalledCheckMs: number;
  readonly maxStalledCount: number;
  readonly retentionMs: number;
  readonly sweepIntervalMs: number;
  readonly relayIntervalMs: number;
  readonly shutdownGraceMs: number;
  /** Whether `intake serve` runs workers too (default: in the embedded mode only). */
  readonly workersInServe: boolean;
  /** Threads that run handlers off the API's event loop when `intake serve` runs workers; 0 = inline. */
  readonly workerThreads: number;
}

/**
 * Reads and validates the whole configuration once, at boot. The result is frozen and passed
 * down; nothing else in the code base reads `process.env`.
 */
export function loadConfig(env: Env = process.env): Config {
  const read = new EnvReader(env);
  const environment = read.oneOf('NODE_ENV', ['development', 'test', 'production'], 'development');
  const host = read.string('HOST', '127.0.0.1');
  const port = read.integer('PORT', 8000, { min: 0, max: 65535 });
  const databaseUrl = read.url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const publicUrl = read.url('PUBLIC_URL', ['http:', 'https:']);

  const redisUrl = read.url('REDIS_URL', ['redis:', 'rediss:']);
  const leaseMs = read.integer('JOBS_LEASE_MS', 30_000, { min: 100, max: 60 * 60_000 });
  const heartbeatMs = read.integer('JOBS_HEARTBEAT_MS', Math.max(50, Math.floor(leaseMs / 3)), { min: 10, max: 60 * 60_000 });
  if (heartbeatMs >= leaseMs) throw new ConfigError('JOBS_HEARTBEAT_MS', `less than JOBS_LEASE_MS (${leaseMs})`, String(heartbeatMs));

  const config: Config = {
    env: environment,
    host,
    port,
    publicUrl: (publicUrl?.toString() ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}/`).replace(/\/$/, ''),
    dataDir: path.resolve(read.string('DATA_DIR', './data')),
    database: {
      url: databaseUrl?.toString(),
      poolSize: read.integer('DATABASE_POOL_SIZE', 10, { min: 1, max: 1000 }),
      migrateOnBoot: read.boolean('MIGRATE_ON_BOOT', true),
    },
    log: {
      level: read.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
      pretty: read.boolean('LOG_PRETTY', environment !== 'production' && process.stdout.isTTY === true),
    },
    http: {
      corsOrigins: read.list('CORS_ORIGINS').map((origin) => {
        if (origin === '*') return origin;
        try {
          return new URL(origin).origin;
        } catch {
          throw new ConfigError('CORS_ORIGINS', 'a comma-separated list of origins like https://app.example.com', origin);
        }
      }),
      bodyLimitBytes: read.integer('BODY_LIMIT_BYTES', 1024 * 1024, { min: 1024, max: 1024 * 1024 * 1024 }),
      trustProxy: read.boolean('TRUST_PROXY', false),
      shutdownGraceMs: read.integer('SHUTDOWN_GRACE_MS', 10_000, { min: 0, max: 10 * 60_000 }),
    },
    jobs: {
      redisUrl: redisUrl?.toString(),
      prefix: read.string('JOBS_QUEUE_PREFIX', 'intake'),
      concurrency: {
        files: read.integer('JOBS_CONCURRENCY_FILES', 2, { min: 1, max: 1000 }),
        notifications: read.integer('JOBS_CONCURRENCY_NOTIFICATIONS', 4, { min: 1, max: 1000 }),
      },
      leaseMs,
      heartbeatMs,
      pollIntervalMs: read.integer('JOBS_POLL_INTERVAL_MS', 1_000, { min: 10, max: 60_000 }),
      stalledCheckMs: read.integer('JOBS_STALLED_CHECK_MS', Math.max(100, Math.floor(leaseMs / 2)), { min: 10, max: 60 * 60_000 }),
      maxStalledCount: read.integer('JOBS_MAX_STALLED_COUNT', 2, { min: 0, max: 100 }),
      retentionMs: read.integer('JOBS_RETENTION_SECONDS', 24 * 60 * 60, { min: 0, max: 365 * 24 * 60 * 60 }) * 1000,
      sweepIntervalMs: read.integer('JOBS_SWEEP_INTERVAL_MS', 5 * 60_000, { min: 100, max: 24 * 60 * 60_000 }),
      relayIntervalMs: read.integer('JOBS_RELAY_INTERVAL_MS', 1_000, { min: 10, max: 60_000 }),
      shutdownGraceMs: read.integer('JOBS_SHUTDOWN_GRACE_MS', 25_000, { min: 0, max: 60 * 60_000 }),
      workersInServe: read.boolean('JOBS_WORKERS_IN_SERVE', redisUrl === undefined),
      workerThreads: read.integer('JOBS_WORKER_THREADS', 1, { min: 0, max: 64 }),
    },
  };
  return deepFreeze(config);
}

/** `.env` in the working directory, when present, fills variables the environment leaves unset. */
export function loadDotEnv(file = path.resolve('.env')): void {
  try {
    process.loadEnvFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export { ConfigError };
