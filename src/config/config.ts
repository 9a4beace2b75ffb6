import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, EnvReader, type Env } from './config-spec.ts';
import { SUPPORTED_MIME_TYPES, supportedContentType } from '../processing/content-types.ts';
import type { ProcessingLimits } from '../processing/processing-options.ts';
import { readProcessingLimits } from './processing-config.ts';
import { readIdentityProviders, type IdentityProvidersConfig } from './identity-provider-config.ts';

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
    /** PGlite only: let V8 recompile hot WebAssembly functions with its optimising compiler. */
    readonly pgliteWasmTierUp: boolean;
  };
  readonly log: {
    readonly level: LogLevel;
    readonly pretty: boolean;
  };
  /** Absent means rate-limit and token-revocation state live in the database. */
  readonly redis: {
    readonly url: string | undefined;
    /** Prepended to every key, so several deployments (or test runs) can share one Redis. */
    readonly keyPrefix: string;
  };
  readonly auth: AuthConfig;
  readonly http: {
    readonly corsOrigins: readonly string[];
    readonly bodyLimitBytes: number;
    readonly trustProxy: boolean;
    readonly shutdownGraceMs: number;
    /** API processes `intake serve` runs on one port (WEB_CONCURRENCY, or `--workers`); above 1 needs PostgreSQL. */
    readonly processes: number;
  };
  readonly storage: StorageConfig;
  readonly files: FilesConfig;
  readonly jobs: JobsConfig;
  /** Limits that keep file processing bounded; passed as `limits` to the processors. */
  readonly processing: Readonly<ProcessingLimits>;
  readonly webhooks: WebhooksConfig;
  readonly email: EmailConfig;
  readonly realtime: RealtimeConfig;
  readonly console: {
    /** The built web console (`npm run build:console` writes it); served at `/`. */
    readonly dir: string;
  };
  readonly metrics: MetricsConfig;
  readonly telemetry: TelemetryConfig;
  /** Sign-in with OpenID Connect issuers and GitHub (`OIDC_PROVIDERS`); none by default. */
  readonly identityProviders: IdentityProvidersConfig;
  /**
   * Every process of this deployment uses this same DATA_DIR (a single process, or a volume all
   * of them mount), so keys and blobs generated there are shared: the fleet check lets them be.
   */
  readonly dataDirShared: boolean;
}

export interface MetricsConfig {
  /** Set: `/metrics` answers only `Authorization: Bearer <token>`. */
  readonly token: string | undefined;
  /** `intake worker` serves `/metrics` and `/health` on this port; absent: no metrics server. */
  readonly workerPort: number | undefined;
  readonly workerHost: string;
}

/** Optional exports to an operator's observability stack; both are off unless their variable is set. */
export interface TelemetryConfig {
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT): traces go to `<endpoint>/v1/traces` as JSON. */
  readonly otlpEndpoint: string | undefined;
  /** `service.name` on every span (OTEL_SERVICE_NAME). */
  readonly serviceName: string;
  /** Sentry DSN (`https://<key>@<host>/<project>`): unexpected 500s and failed job attempts are reported. */
  readonly sentryDsn: string | undefined;
  /** Sentry's `environment` tag: SENTRY_ENVIRONMENT, else NODE_ENV. */
  readonly sentryEnvironment: string;
}

export interface WebhooksConfig {
  /** Every destination address allowed, private and loopback included (trusted networks, development). */
  readonly allowPrivateNetworks: boolean;
  /** CIDRs allowed although private (e.g. `10.20.0.0/16` for an internal receiver). */
  readonly allowedCidrs: readonly string[];
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  /** Delay before the first retry; doubled for each retry after it, up to `retryMaxDelayMs`. */
  readonly retryBaseMs: number;
  readonly retryMaxDelayMs: number;
  /** Retries stop once their delays would add up to more than this. */
  readonly retryWindowMs: number;
  /** Encrypts signing secrets at rest. Absent: a key generated once and kept in `secretKeyFile`. */
  readonly secretKey: string | undefined;
  readonly secretKeyFile: string;
  /** Finished deliveries older than this leave the log; 0 keeps them forever. */
  readonly logRetentionMs: number;
}

export interface EmailConfig {
  /** Absent: e-mail notifications are off. */
  readonly smtpUrl: string | undefined;
  readonly from: string;
}

/** Bounds on WebSocket and Server-Sent Events connections (WS_*). */
export interface RealtimeConfig {
  /** How often sockets are pinged; a peer that has not answered the previous ping is closed. */
  readonly heartbeatMs: number;
  /** How long a socket may stay open without authenticating. */
  readonly authTimeoutMs: number;
  /** Largest client frame accepted; a larger one closes the socket (1009). */
  readonly maxMessageBytes: number;
  /** Client messages allowed per window; more close the socket (4029). */
  readonly rateLimitMessages: number;
  readonly rateLimitWindowMs: number;
  /** Unsent bytes a connection may queue; a client that falls further behind is disconnected (4008). */
  readonly maxBufferedBytes: number;
  readonly maxSubscriptions: number;
}

export interface FilesConfig {
  readonly maxUploadBytes: number;
  readonly maxFilesPerRequest: number;
  /** Canonical MIME types accepted for upload. */
  readonly allowedContentTypes: readonly string[];
  readonly maxLinkSeconds: number;
  readonly directUploadSeconds: number;
  /** How often the API sweeps expired direct uploads and orphaned blobs; 0 turns it off. */
  readonly sweepIntervalSeconds: number;
  /** Processing requests (`POST /files/{id}/process`) each user may make per window. */
  readonly processRateLimit: { readonly limit: number; readonly windowSeconds: number };
  /** Default per-account quotas (an admin may set an account's own); null is unlimited. */
  readonly quotas: { readonly bytesPerUser: number | null; readonly filesPerUser: number | null };
  /** How long an incomplete resumable (tus) upload is kept after its last chunk. */
  readonly tusUploadExpirySeconds: number;
}

export type StorageDriver = 'local' | 'azure' | 's3';

export interface StorageConfig {
  readonly driver: StorageDriver;
  /** The base of the signed links the local driver hands out (`PUBLIC_URL` + `/api/v1`). */
  readonly publicBaseUrl: string;
  readonly local: {
    readonly directory: string;
    /** Absent means a secret generated once and kept in `DATA_DIR` with mode 0600. */
    readonly signingSecret: string | undefined;
    readonly signingSecretFile: string;
  };
  readonly azure: {
    readonly connectionString: string | undefined;
    readonly accountName: string | undefined;
    readonly accountKey: string | undefined;
    /** Blob endpoint; defaults to https://<account>.blob.core.windows.net. */
    readonly accountUrl: string | undefined;
    readonly container: string;
    readonly blockBytes: number;
    readonly uploadConcurrency: number;
    readonly maxTries: number;
  };
  readonly s3: {
    readonly bucket: string | undefined;
    readonly region: string;
    readonly endpoint: string | undefined;
    readonly accessKeyId: string | undefined;
    readonly secretAccessKey: string | undefined;
    readonly forcePathStyle: boolean;
    readonly partBytes: number;
    readonly uploadConcurrency: number;
    readonly maxAttempts: number;
  };
}

const MIB = 1024 * 1024;

/** `console/dist` of this package, wherever the process was started from. */
const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../console/dist', import.meta.url));
/** Placeholders people paste from examples; a link signed with one can be forged by anyone. */
const PLACEHOLDER_SECRET = /change-?me|example|placeholder|replace|^(.)\1*$/i;

export interface RateLimitRule {
  /** Attempts allowed per window. */
  readonly limit: number;
  readonly windowSeconds: number;
}

export interface AuthConfig {
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  readonly registrationOpen: boolean;
  /** `Secure` on the auth cookies; only plain-http development turns it off. */
  readonly cookieSecure: boolean;
  /** PKCS#8 PEM or private JWK (Ed25519). Absent outside production: a key pair is kept under DATA_DIR. */
  readonly jwtPrivateKey: string | undefined;
  /** JSON Web Key Set (or array of JWKs) of retired public keys that still verify. */
  readonly jwtPublicKeys: string | undefined;
  readonly rateLimits: {
    /** Password attempts (login and token grant) per client IP. */
    readonly loginPerIp: RateLimitRule;
    /** Password attempts per account (email), whatever the IP. */
    readonly loginPerAccount: RateLimitRule;
    readonly registerPerIp: RateLimitRule;
    /** Password-reset requests per address (a digest of it), so nobody can flood an inbox. */
    readonly passwordResetPerEmail: RateLimitRule;
    /** Password-reset requests and confirmations, and verification resends, per client IP. */
    readonly passwordResetPerIp: RateLimitRule;
    /** Two-factor codes tried (to complete a sign-in, confirm enrolment or disable) per account. */
    readonly twoFactorPerAccount: RateLimitRule;
  };
  /** How long a password-reset link works. */
  readonly passwordResetTtlSeconds: number;
  readonly emailVerificationTtlSeconds: number;
  /** `required`: unverified accounts may sign in and verify, nothing else. */
  readonly emailVerification: EmailVerificationMode;
  /** A refresh repeated by the same client within this many seconds gets the same new pair. */
  readonly refreshReuseGraceSeconds: number;
  /** Audit events older than this are deleted; 0 keeps them forever. */
  readonly auditRetentionDays: number;
  /** REQUIRE_2FA_FOR_ADMINS: an administrator without two-factor keeps only a user's powers until enrolled. */
  readonly requireTwoFactorForAdmins: boolean;
  /** How long the challenge between a proven password and its code stays open. */
  readonly twoFactorChallengeTtlSeconds: number;
  /** The name authenticator apps show beside the account. */
  readonly twoFactorIssuer: string;
}

export type EmailVerificationMode = 'off' | 'optional' | 'required';

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
  /** Recycle a worker after it has run this many attempts (0: never). */
  readonly workerMaxJobs: number;
  /** Recycle a worker once its resident memory passes this many MiB (0: never). */
  readonly workerMaxRssMb: number;
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
  const jwtPrivateKey = read.optionalString('JWT_PRIVATE_KEY');
  if (environment === 'production' && jwtPrivateKey === undefined) {
    // A key generated on one machine's disk cannot be shared by a fleet, nor rotated on purpose.
    throw new ConfigError('JWT_PRIVATE_KEY', 'set in production (an Ed25519 private key as PKCS#8 PEM or JWK)', '');
  }
  const authWindow = read.integer('AUTH_RATE_LIMIT_WINDOW_SECONDS', 900, { min: 1, max: 86_400 });
  /** A sign-in-side limit: its own count, the shared window. */
  const authLimit = (name: string, fallback: number) => ({
    limit: read.integer(name, fallback, { min: 1, max: 1_000_000 }),
    windowSeconds: authWindow,
  });
  const smtpUrl = read.url('SMTP_URL', ['smtp:', 'smtps:'])?.toString();
  const emailVerification = read.oneOf('EMAIL_VERIFICATION', ['off', 'optional', 'required'], smtpUrl ? 'optional' : 'off');
  if (emailVerification !== 'off' && !smtpUrl) {
    throw new ConfigError('EMAIL_VERIFICATION', 'off when SMTP_URL is not set (links are sent by e-mail)', emailVerification);
  }

  const resolvedPublicUrl = (publicUrl?.toString() ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}/`).replace(
    /\/$/,
    '',
  );
  const dataDir = path.resolve(read.string('DATA_DIR', './data'));

  const leaseMs = read.integer('JOBS_LEASE_MS', 30_000, { min: 100, max: 60 * 60_000 });
  const heartbeatMs = read.integer('JOBS_HEARTBEAT_MS', Math.max(50, Math.floor(leaseMs / 3)), { min: 10, max: 60 * 60_000 });
  if (heartbeatMs >= leaseMs)
    throw new ConfigError('JOBS_HEARTBEAT_MS', `less than JOBS_LEASE_MS (${leaseMs})`, String(heartbeatMs));

  const config: Config = {
    env: environment,
    host,
    port,
    publicUrl: resolvedPublicUrl,
    dataDir,
    database: {
      url: databaseUrl?.toString(),
      poolSize: read.integer('DATABASE_POOL_SIZE', 10, { min: 1, max: 1000 }),
      migrateOnBoot: read.boolean('MIGRATE_ON_BOOT', true),
      pgliteWasmTierUp: read.boolean('PGLITE_WASM_TIER_UP', false),
    },
    redis: {
      url: redisUrl?.toString(),
      keyPrefix: read.string('REDIS_KEY_PREFIX', 'intake:'),
    },
    auth: {
      accessTokenTtlSeconds: read.integer('ACCESS_TOKEN_TTL_SECONDS', 15 * 60, { min: 30, max: 24 * 3600 }),
      refreshTokenTtlSeconds: read.integer('REFRESH_TOKEN_TTL_SECONDS', 7 * 24 * 3600, { min: 60, max: 365 * 24 * 3600 }),
      registrationOpen: read.boolean('REGISTRATION_OPEN', true),
      // Browsers drop Secure cookies sent over plain http (except on localhost in some), so
      // the default follows the address clients use: https, or production, means Secure.
      cookieSecure: read.boolean('COOKIE_SECURE', environment === 'production' || (publicUrl?.protocol ?? 'http:') === 'https:'),
      jwtPrivateKey,
      jwtPublicKeys: read.optionalString('JWT_PUBLIC_KEYS'),
      rateLimits: {
        loginPerIp: authLimit('LOGIN_RATE_LIMIT_PER_IP', 30),
        loginPerAccount: authLimit('LOGIN_RATE_LIMIT_PER_ACCOUNT', 10),
        registerPerIp: authLimit('REGISTER_RATE_LIMIT_PER_IP', 10),
        passwordResetPerEmail: authLimit('PASSWORD_RESET_RATE_LIMIT_PER_EMAIL', 3),
        passwordResetPerIp: authLimit('PASSWORD_RESET_RATE_LIMIT_PER_IP', 10),
        twoFactorPerAccount: authLimit('TWO_FACTOR_RATE_LIMIT_PER_ACCOUNT', 5),
      },
      passwordResetTtlSeconds: read.integer('PASSWORD_RESET_TTL_SECONDS', 3600, { min: 60, max: 7 * 24 * 3600 }),
      emailVerificationTtlSeconds: read.integer('EMAIL_VERIFICATION_TTL_SECONDS', 48 * 3600, { min: 60, max: 30 * 24 * 3600 }),
      emailVerification,
      refreshReuseGraceSeconds: read.integer('REFRESH_REUSE_GRACE_SECONDS', 5, { min: 0, max: 60 }),
      auditRetentionDays: read.integer('AUDIT_RETENTION_DAYS', 365, { min: 0, max: 100 * 365 }),
      requireTwoFactorForAdmins: read.boolean('REQUIRE_2FA_FOR_ADMINS', false),
      twoFactorChallengeTtlSeconds: read.integer('TWO_FACTOR_CHALLENGE_TTL_SECONDS', 300, { min: 30, max: 3600 }),
      twoFactorIssuer: read.string('TWO_FACTOR_ISSUER', 'Intake'),
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
      processes: read.integer('WEB_CONCURRENCY', 1, { min: 1, max: 256 }),
    },
    storage: readStorageConfig(read, environment, dataDir, `${resolvedPublicUrl}/api/v1`),
    files: readFilesConfig(read),
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
      // A dead worker's jobs are taken over within lease + this interval: the lease runs out at most
      // a lease after its last heartbeat, and the next check after that requeues them.
      stalledCheckMs: read.integer('JOBS_STALLED_CHECK_MS', heartbeatMs, { min: 10, max: 60 * 60_000 }),
      maxStalledCount: read.integer('JOBS_MAX_STALLED_COUNT', 2, { min: 0, max: 100 }),
      retentionMs: read.integer('JOBS_RETENTION_SECONDS', 24 * 60 * 60, { min: 0, max: 365 * 24 * 60 * 60 }) * 1000,
      sweepIntervalMs: read.integer('JOBS_SWEEP_INTERVAL_MS', 5 * 60_000, { min: 100, max: 24 * 60 * 60_000 }),
      relayIntervalMs: read.integer('JOBS_RELAY_INTERVAL_MS', 1_000, { min: 10, max: 60_000 }),
      shutdownGraceMs: read.integer('JOBS_SHUTDOWN_GRACE_MS', 25_000, { min: 0, max: 60 * 60_000 }),
      workersInServe: read.boolean('JOBS_WORKERS_IN_SERVE', redisUrl === undefined),
      workerThreads: read.integer('JOBS_WORKER_THREADS', 1, { min: 0, max: 64 }),
      workerMaxJobs: read.integer('WORKER_MAX_JOBS', 0, { min: 0, max: 1_000_000_000 }),
      workerMaxRssMb: read.integer('WORKER_MAX_RSS_MB', 0, { min: 0, max: 1_000_000 }),
    },
    processing: readProcessingLimits(read),
    console: { dir: path.resolve(read.string('CONSOLE_DIR', DEFAULT_CONSOLE_DIR)) },
    webhooks: readWebhooksConfig(read, environment, dataDir),
    email: {
      smtpUrl,
      from: read.string('EMAIL_FROM', 'Intake <intake@localhost>'),
    },
    realtime: {
      heartbeatMs: read.integer('WS_HEARTBEAT_MS', 30_000, { min: 100, max: 10 * 60_000 }),
      authTimeoutMs: read.integer('WS_AUTH_TIMEOUT_MS', 10_000, { min: 100, max: 10 * 60_000 }),
      maxMessageBytes: read.integer('WS_MAX_MESSAGE_BYTES', 4096, { min: 1024, max: 1024 * 1024 }),
      rateLimitMessages: read.integer('WS_RATE_LIMIT_MESSAGES', 60, { min: 1, max: 1_000_000 }),
      rateLimitWindowMs: read.integer('WS_RATE_LIMIT_WINDOW_MS', 10_000, { min: 100, max: 60 * 60_000 }),
      maxBufferedBytes: read.integer('WS_MAX_BUFFERED_BYTES', 1024 * 1024, { min: 1024, max: 1024 * 1024 * 1024 }),
      maxSubscriptions: read.integer('WS_MAX_SUBSCRIPTIONS', 100, { min: 1, max: 100_000 }),
    },
    metrics: readMetricsConfig(read, host),
    telemetry: readTelemetryConfig(read, environment),
    identityProviders: readIdentityProviders(read),
    dataDirShared: read.boolean('DATA_DIR_SHARED', false),
  };
  return deepFreeze(config);
}

function readMetricsConfig(read: EnvReader, host: string): MetricsConfig {
  const token = read.optionalString('METRICS_TOKEN');
  if (token !== undefined && token.length < 16) {
    throw new ConfigError('METRICS_TOKEN', 'at least 16 characters (e.g. `openssl rand -base64 24`)', '***');
  }
  const port = read.raw('METRICS_PORT') === undefined ? undefined : read.integer('METRICS_PORT', 0, { min: 0, max: 65535 });
  return { token, workerPort: port, workerHost: read.string('METRICS_HOST', host) };
}

function readTelemetryConfig(read: EnvReader, environment: Environment): TelemetryConfig {
  const otlp = read.url('OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:']);
  const dsn = read.url('SENTRY_DSN', ['http:', 'https:']);
  if (dsn && (dsn.username === '' || !/^\/(?:.*\/)?[^/]+$/.test(dsn.pathname))) {
    throw new ConfigError('SENTRY_DSN', 'a DSN like https://<public key>@<host>/<project id>', '***');
  }
  return {
    otlpEndpoint: otlp?.toString().replace(/\/+$/, ''),
    serviceName: read.string('OTEL_SERVICE_NAME', 'intake'),
    sentryDsn: dsn?.toString(),
    sentryEnvironment: read.string('SENTRY_ENVIRONMENT', environment),
  };
}

function readWebhooksConfig(read: EnvReader, environment: Environment, dataDir: string): WebhooksConfig {
  const allowedCidrs = read.list('WEBHOOK_ALLOWED_CIDRS');
  for (const cidr of allowedCidrs) {
    const [network, prefix] = cidr.split('/');
    const family = network ? isIP(network) : 0;
    const maxPrefix = family === 4 ? 32 : 128;
    if (family === 0 || (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= maxPrefix))) {
      throw new ConfigError('WEBHOOK_ALLOWED_CIDRS', 'a comma-separated list of CIDRs like 10.0.0.0/8 or fd00::/8', cidr);
    }
  }
  const secretKey = read.optionalString('WEBHOOK_SECRET_KEY');
  if (secretKey !== undefined && secretKey.length < 32) {
    throw new ConfigError('WEBHOOK_SECRET_KEY', 'at least 32 characters (e.g. `openssl rand -base64 48`)', '***');
  }
  if (secretKey !== undefined && environment === 'production' && PLACEHOLDER_SECRET.test(secretKey)) {
    throw new ConfigError('WEBHOOK_SECRET_KEY', 'a random value in production, not a placeholder', '***');
  }
  const retryBaseMs = read.integer('WEBHOOK_RETRY_BASE_MS', 10_000, { min: 1, max: 24 * 3600_000 });
  return {
    allowPrivateNetworks: read.boolean('WEBHOOK_ALLOW_PRIVATE_NETWORKS', false),
    allowedCidrs,
    connectTimeoutMs: read.integer('WEBHOOK_CONNECT_TIMEOUT_MS', 3_000, { min: 10, max: 60_000 }),
    timeoutMs: read.integer('WEBHOOK_TIMEOUT_MS', 10_000, { min: 10, max: 120_000 }),
    maxResponseBytes: read.integer('WEBHOOK_MAX_RESPONSE_BYTES', 64 * 1024, { min: 0, max: 10 * MIB }),
    retryBaseMs,
    retryMaxDelayMs: read.integer('WEBHOOK_RETRY_MAX_DELAY_MS', 3600_000, { min: retryBaseMs, max: 7 * 24 * 3600_000 }),
    retryWindowMs: read.integer('WEBHOOK_RETRY_WINDOW_SECONDS', 24 * 3600, { min: 0, max: 30 * 24 * 3600 }) * 1000,
    secretKey,
    secretKeyFile: path.join(dataDir, 'webhook-secret.key'),
    logRetentionMs: read.integer('WEBHOOK_LOG_RETENTION_DAYS', 30, { min: 0, max: 3650 }) * 24 * 3600_000,
  };
}

function readFilesConfig(read: EnvReader): FilesConfig {
  const allowed = read.list('ALLOWED_CONTENT_TYPES');
  const allowedContentTypes =
    allowed.length === 0
      ? SUPPORTED_MIME_TYPES
      : allowed.map((declared) => {
          const type = supportedContentType(declared);
          if (!type)
            throw new ConfigError(
              'ALLOWED_CONTENT_TYPES',
              `a comma-separated subset of ${SUPPORTED_MIME_TYPES.join(', ')}`,
              declared,
            );
          return type.mime;
        });
  return {
    maxUploadBytes: read.integer('MAX_UPLOAD_BYTES', 50 * MIB, { min: 1, max: 5 * 1024 * 1024 * MIB }),
    maxFilesPerRequest: read.integer('MAX_FILES_PER_UPLOAD', 10, { min: 1, max: 1000 }),
    allowedContentTypes,
    maxLinkSeconds: read.integer('SIGNED_LINK_MAX_SECONDS', 7 * 24 * 3600, { min: 1, max: 7 * 24 * 3600 }),
    directUploadSeconds: read.integer('DIRECT_UPLOAD_EXPIRY_SECONDS', 3600, { min: 60, max: 7 * 24 * 3600 }),
    sweepIntervalSeconds: read.integer('FILE_SWEEP_INTERVAL_SECONDS', 3600, { min: 0, max: 7 * 24 * 3600 }),
    processRateLimit: {
      limit: read.integer('PROCESS_RATE_LIMIT_PER_USER', 60, { min: 1, max: 1_000_000 }),
      windowSeconds: read.integer('PROCESS_RATE_LIMIT_WINDOW_SECONDS', 3600, { min: 1, max: 86_400 }),
    },
    quotas: {
      // 0 (the default) means unlimited.
      bytesPerUser: read.integer('QUOTA_BYTES_PER_USER', 0, { min: 0 }) || null,
      filesPerUser: read.integer('QUOTA_FILES_PER_USER', 0, { min: 0, max: 2_147_483_647 }) || null,
    },
    tusUploadExpirySeconds: read.integer('TUS_UPLOAD_EXPIRY_SECONDS', 24 * 3600, { min: 60, max: 30 * 24 * 3600 }),
  };
}

function readStorageConfig(read: EnvReader, environment: Environment, dataDir: string, publicBaseUrl: string): StorageConfig {
  const azure = {
    connectionString: read.optionalString('AZURE_STORAGE_CONNECTION_STRING'),
    accountName: read.optionalString('AZURE_STORAGE_ACCOUNT_NAME'),
    accountKey: read.optionalString('AZURE_STORAGE_ACCOUNT_KEY'),
    accountUrl: read.url('AZURE_STORAGE_ACCOUNT_URL', ['http:', 'https:'])?.toString().replace(/\/$/, ''),
    container: read.string('AZURE_STORAGE_CONTAINER', 'intake'),
    blockBytes: read.integer('AZURE_STORAGE_BLOCK_BYTES', 8 * MIB, { min: 1 * MIB, max: 4000 * MIB }),
    uploadConcurrency: read.integer('AZURE_STORAGE_UPLOAD_CONCURRENCY', 4, { min: 1, max: 64 }),
    maxTries: read.integer('AZURE_STORAGE_MAX_TRIES', 5, { min: 1, max: 20 }),
  };
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(azure.container)) {
    throw new ConfigError('AZURE_STORAGE_CONTAINER', '3-63 lowercase letters, digits and single hyphens', azure.container);
  }
  const s3Endpoint = read.url('S3_ENDPOINT', ['http:', 'https:'])?.toString().replace(/\/$/, '');
  const s3 = {
    bucket: read.optionalString('S3_BUCKET'),
    region: read.string('S3_REGION', 'us-east-1'),
    endpoint: s3Endpoint,
    accessKeyId: read.optionalString('S3_ACCESS_KEY_ID'),
    secretAccessKey: read.optionalString('S3_SECRET_ACCESS_KEY'),
    // Self-hosted S3 servers (MinIO, Ceph, Garage) rarely have wildcard DNS for bucket hosts.
    forcePathStyle: read.boolean('S3_FORCE_PATH_STYLE', s3Endpoint !== undefined),
    // S3 refuses multipart parts under 5 MiB (except the last one).
    partBytes: read.integer('S3_PART_BYTES', 8 * MIB, { min: 5 * MIB, max: 5 * 1024 * MIB }),
    uploadConcurrency: read.integer('S3_UPLOAD_CONCURRENCY', 4, { min: 1, max: 64 }),
    maxAttempts: read.integer('S3_MAX_ATTEMPTS', 5, { min: 1, max: 20 }),
  };
  if ((s3.accessKeyId === undefined) !== (s3.secretAccessKey === undefined)) {
    throw new ConfigError(
      'S3_SECRET_ACCESS_KEY',
      'set together with S3_ACCESS_KEY_ID (or neither, for the default AWS credential chain)',
      '***',
    );
  }

  const azureConfigured =
    azure.connectionString !== undefined || azure.accountName !== undefined || azure.accountUrl !== undefined;
  const detected: StorageDriver = azureConfigured ? 'azure' : s3.bucket !== undefined ? 's3' : 'local';
  const driver = read.oneOf('STORAGE_DRIVER', ['local', 'azure', 's3', 'auto'], 'auto');
  const chosen: StorageDriver = driver === 'auto' ? detected : driver;
  if (chosen === 'azure' && !azureConfigured) {
    throw new ConfigError(
      'STORAGE_DRIVER',
      'azure only with AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_NAME or AZURE_STORAGE_ACCOUNT_URL',
      driver,
    );
  }
  if (chosen === 's3' && s3.bucket === undefined) {
    throw new ConfigError('STORAGE_DRIVER', 's3 only with S3_BUCKET', driver);
  }

  const signingSecret = read.optionalString('STORAGE_SIGNING_SECRET');
  if (signingSecret !== undefined) {
    if (signingSecret.length < 32) {
      throw new ConfigError('STORAGE_SIGNING_SECRET', 'at least 32 characters (e.g. `openssl rand -base64 48`)', '***');
    }
    if (environment === 'production' && PLACEHOLDER_SECRET.test(signingSecret)) {
      throw new ConfigError('STORAGE_SIGNING_SECRET', 'a random value in production, not a placeholder', '***');
    }
  }

  return {
    driver: chosen,
    publicBaseUrl,
    local: {
      directory: path.resolve(read.string('STORAGE_LOCAL_DIR', path.join(dataDir, 'blobs'))),
      signingSecret,
      signingSecretFile: path.join(dataDir, 'storage-signing.key'),
    },
    azure,
    s3,
  };
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
