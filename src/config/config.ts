import path from 'node:path';
import { ConfigError, EnvReader, type Env } from './config-spec.ts';
import type { ProcessingLimits } from '../processing/processing-options.ts';
import { readProcessingLimits } from '../processing/processing-config.ts';

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
  /** Limits that keep file processing bounded; passed as `limits` to the processors. */
  readonly processing: Readonly<ProcessingLimits>;
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
    processing: readProcessingLimits(read),
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
