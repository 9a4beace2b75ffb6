import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import Fastify, { LogController } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DestinationStream } from 'pino';
import { Redis } from 'ioredis';
import { ApiKeyService } from './api-keys/api-key.service.ts';
import { apiKeysRoutes } from './api-keys/api-keys.routes.ts';
import { registerAuthentication } from './auth/authenticate.ts';
import { Authenticator } from './auth/authenticator.ts';
import { authRoutes } from './auth/auth.routes.ts';
import { AuthService } from './auth/auth.service.ts';
import { jwksRoutes } from './auth/jwks.routes.ts';
import { JwtTokens } from './auth/jwt-tokens.ts';
import { PasswordHasher } from './auth/password-hasher.ts';
import { loadSigningKeys, type SigningKeys } from './auth/signing-keys.ts';
import {
  DatabaseTokenRevocationStore,
  RedisTokenRevocationStore,
  type TokenRevocationStore,
} from './auth/token-revocation-store.ts';
import type { Config } from './config/config.ts';
import { redactUrl } from './config/config-spec.ts';
import { openDatabase, type Database } from './db/database.ts';
import { FileService, type FileStatusListener } from './files/file.service.ts';
import { filesRoutes } from './files/files.routes.ts';
import { processFileJob } from './files/file-processing.job.ts';
import { RecordService } from './records/record.service.ts';
import { recordsRoutes } from './records/records.routes.ts';
import { healthRoutes } from './health/health.routes.ts';
import type { ReadinessCheck } from './health/readiness.ts';
import type { App } from './http/app-types.ts';
import { registerErrorHandling } from './http/error-handler.ts';
import { frameworkErrorOptions } from './http/framework-errors.ts';
import { registerStrictQuery } from './http/strict-query.ts';
import { API_PREFIX, registerOpenApi } from './http/openapi.ts';
import { problemRoutes } from './http/problem.routes.ts';
import { REQUEST_ID_HEADER, requestIdFor } from './http/request-id.ts';
import { browserOrigins, registerSecurity } from './http/security.ts';
import { loggerOptions } from './logging/logger.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { createBlobStore } from './storage/create-blob-store.ts';
import { localBlobRoutes } from './storage/local-blob.routes.ts';
import { LocalBlobStore } from './storage/local-blob-store.ts';
import { DatabaseRateLimiter } from './rate-limit/database-rate-limiter.ts';
import type { RateLimiter } from './rate-limit/rate-limiter.ts';
import { RedisRateLimiter } from './rate-limit/redis-rate-limiter.ts';
import { UserService } from './users/user.service.ts';
import { usersRoutes } from './users/users.routes.ts';
import { VERSION } from './version.ts';
import { activeJobFor } from './jobs/active-job.ts';
import { QUEUE_NAMES } from './jobs/job-catalog.ts';
import type { JobQueue } from './jobs/job-queue.ts';
import { createJobQueue } from './jobs/job-queue-factory.ts';
import { JobService } from './jobs/job.service.ts';
import { jobsRoutes } from './jobs/jobs.routes.ts';
import { NotificationService } from './notifications/notification.service.ts';
import { notificationsRoutes } from './notifications/notifications.routes.ts';
import { outboundGuardFor } from './webhooks/webhook-delivery.job.ts';
import { fileEventData, WebhookPublisher } from './webhooks/webhook-events.ts';
import { loadSecretBox } from './webhooks/webhook-signature.ts';
import { WebhookService } from './webhooks/webhook.service.ts';
import { webhooksRoutes } from './webhooks/webhooks.routes.ts';
import type { EventBus } from './events/event-bus.ts';
import { createEventBus } from './events/create-event-bus.ts';
import { fileStatusPublisher, jobEventPublisher } from './events/job-event-relay.ts';
import { RealtimeService } from './realtime/realtime.service.ts';
import { realtimeRoutes } from './realtime/realtime.routes.ts';
import { AdminJobsService } from './admin/admin-jobs.service.ts';
import { adminJobsRoutes } from './admin/admin-jobs.routes.ts';
import { ConsoleSite } from './http/console-site.ts';
import { FirstAdminService } from './users/first-admin.service.ts';
import { announceSetupLink } from './users/setup-announcement.ts';
import { setupRoutes } from './users/setup.routes.ts';
import { SetupToken } from './users/setup-token.ts';
import { IntakeMetrics } from './metrics/metrics.ts';
import { registerDatabaseGauges } from './metrics/database-gauges.ts';
import { metricsRoutes, registerHttpMetrics } from './metrics/http-metrics.ts';
import { allOf, jobMetricsSink } from './metrics/job-metrics.ts';
import { webhookDeliveryJob } from './webhooks/webhook-delivery.job.ts';
import { StarvedQueueWatch } from './jobs/queue-health.ts';

/** One warning per starved queue every five minutes, however long the outage. */
const STARVED_QUEUE_QUIET_MS = 5 * 60_000;

/** The adapters the service runs on. A test passes its own; the rest are built from config. */
export interface AppDependencies {
  database: Database;
  blobStore: BlobStore;
  /** Keys that sign and verify JWTs: from config, or generated under DATA_DIR. */
  signingKeys: SigningKeys;
  /** Redis when REDIS_URL is set, else the database. */
  rateLimiter: RateLimiter;
  /** Redis when REDIS_URL is set, else the database. */
  tokenRevocations: TokenRevocationStore;
  jobQueue: JobQueue;
  /** Realtime fan-out: Redis pub/sub when REDIS_URL is set, else in-process. */
  eventBus: EventBus;
}

/**
 * The one composition root of the HTTP service: builds what `overrides` does not provide,
 * wires routes and plugins, and closes what it built when the app closes. It never listens.
 */
export type AppOverrides = Partial<AppDependencies> & {
  /** Where log lines go instead of stdout; tests read them to check what gets logged. */
  logStream?: DestinationStream;
  /** The process's metrics, when the app shares them (with workers in `intake serve`). */
  metrics?: IntakeMetrics;
};

export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const owned: { close(): Promise<void> }[] = [];
  const database = overrides.database ?? (await openDatabase({ ...config.database, dataDir: config.dataDir }));
  if (!overrides.database) owned.push(database);

  try {
    if (config.database.migrateOnBoot) await database.migrate();
    let redis: Redis | undefined;
    const needsRedis = config.redis.url !== undefined && (!overrides.rateLimiter || !overrides.tokenRevocations);
    if (needsRedis && config.redis.url) {
      redis = new Redis(config.redis.url, { maxRetriesPerRequest: 2, connectTimeout: 5_000 });
      // Errors surface on each command (and in /ready); unhandled, the event would crash the process.
      redis.on('error', () => undefined);
      const client = redis;
      owned.push({ close: async () => void (await client.quit().catch(() => client.disconnect())) });
    }
    const blobStore = overrides.blobStore ?? (await createBlobStore(config.storage));
    if (!overrides.blobStore) owned.push(blobStore);
    const baseDeps: Omit<AppDependencies, 'jobQueue' | 'eventBus'> = {
      database,
      blobStore,
      signingKeys:
        overrides.signingKeys ??
        (await loadSigningKeys({
          privateKey: config.auth.jwtPrivateKey,
          retiredPublicKeys: config.auth.jwtPublicKeys,
          dataDir: config.dataDir,
        })),
      rateLimiter:
        overrides.rateLimiter ??
        (redis ? new RedisRateLimiter(redis, config.redis.keyPrefix) : new DatabaseRateLimiter(database.db)),
      tokenRevocations:
        overrides.tokenRevocations ??
        (redis ? new RedisTokenRevocationStore(redis, config.redis.keyPrefix) : new DatabaseTokenRevocationStore(database.db)),
    };

    const app: App = Fastify({
      logger: loggerOptions(config, overrides.logStream),
      genReqId: requestIdFor,
      requestIdHeader: false,
      logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
      bodyLimit: config.http.bodyLimitBytes,
      trustProxy: config.http.trustProxy,
      return503OnClosing: true,
      forceCloseConnections: 'idle',
      ajv: { customOptions: { removeAdditional: 'all', coerceTypes: 'array', useDefaults: true } },
      ...frameworkErrorOptions(),
    }).withTypeProvider<TypeBoxTypeProvider>();

    const eventBus = overrides.eventBus ?? createEventBus(config, app.log);
    if (!overrides.eventBus) owned.push(eventBus);
    const metrics = overrides.metrics ?? new IntakeMetrics();
    const jobQueue =
      overrides.jobQueue ??
      createJobQueue(config.jobs, database, app.log, allOf(jobEventPublisher(eventBus, app.log), jobMetricsSinkFor(config, metrics)));
    // Closed first (owned closes in reverse): it writes to the database and uses the other adapters.
    if (!overrides.jobQueue) owned.push(jobQueue);
    const deps: AppDependencies = { ...baseDeps, jobQueue, eventBus };
    app.addHook('onClose', async () => {
      // The database last: the others may still write to it while closing.
      for (const dependency of [...owned].reverse()) await dependency.close();
    });

    app.addHook('onRequest', async (request, reply) => {
      reply.header('X-Request-ID', request.id);
    });
    // One line per request, written when the answer is complete.
    app.addHook('onResponse', async (request, reply) => {
      request.log.info(
        {
          method: request.method,
          route: request.routeOptions.url ?? null,
          status: reply.statusCode,
          duration_ms: Math.round(reply.elapsedTime * 10) / 10,
        },
        'request',
      );
    });

    const consoleSite = new ConsoleSite(config.console.dir, config.publicUrl);
    registerErrorHandling(app, { notFoundFallback: consoleSite.fallback });
    registerHttpMetrics(app, metrics);
    registerDatabaseGauges(metrics, database, { queues: QUEUE_NAMES, leaseMs: config.jobs.leaseMs });
    registerStrictQuery(app);
    await registerSecurity(app, config);
    await registerOpenApi(app, config, VERSION);

    // Cookies and forms are parsed for every route: login accepts forms, and the auth hook reads cookies.
    await app.register(cookie);
    await app.register(formbody, { bodyLimit: config.http.bodyLimitBytes });

    const checks: ReadinessCheck[] = [
      { name: 'database', target: `${database.kind} ${database.location}`, check: () => database.ping() },
      blobStore.readiness,
      ...jobQueue.readiness(),
    ];
    if (redis) {
      const client = redis;
      checks.push({ name: 'redis', target: redactUrl(config.redis.url ?? ''), check: async () => void (await client.ping()) });
    }
    const setup = SetupToken.generate();
    const services = buildServices(config, deps, app.log, setup.token, metrics);
    announceSetupLink(app, services.firstAdmin, `${config.publicUrl}/setup#token=${setup.plaintext}`);
    // On the root instance, so that every route plugin sees `app.authenticate`.
    registerAuthentication(app, services.authenticator);

    scheduleFileSweep(app, services.files, config.files.sweepIntervalSeconds);
    scheduleStarvedQueueWatch(app, new StarvedQueueWatch(database.db, app.log, { leaseMs: config.jobs.leaseMs, quietMs: STARVED_QUEUE_QUIET_MS }), config.jobs.leaseMs);
    scheduleDeliveryLogSweep(app, services.webhooks, config.webhooks.logRetentionMs);

    await app.register(healthRoutes, { checks });
    await app.register(metricsRoutes, { metrics, token: config.metrics.token });
    await app.register(problemRoutes);
    await app.register(jwksRoutes, { keys: deps.signingKeys });
    await app.register(apiRoutes(config, services, metrics), { prefix: API_PREFIX });
    await app.register(consoleSite.routes);
    // The local driver's signed links point back at this service (the cloud drivers' at the cloud).
    if (blobStore instanceof LocalBlobStore) await app.register(localBlobRoutes, { store: blobStore, prefix: API_PREFIX });
    return app;
  } catch (error) {
    await Promise.allSettled(owned.map((dependency) => dependency.close()));
    throw error;
  }
}

/**
 * Removes blobs a crash left without a row and direct uploads never completed. Every API process
 * may run it: deleting what is already gone is harmless.
 */
function scheduleFileSweep(app: App, files: FileService, intervalSeconds: number): void {
  if (intervalSeconds === 0) return;
  const timer = setInterval(() => {
    files.sweep().then(
      (swept) => {
        if (swept.expiredUploads + swept.orphanBlobs > 0) app.log.info(swept, 'swept abandoned uploads and orphaned blobs');
      },
      (error: unknown) => app.log.warn({ err: error }, 'file sweep failed; it runs again at the next interval'),
    );
  }, intervalSeconds * 1000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}

/** Warns (rate-limited) when jobs wait and no worker of their queue is alive; checks once per lease. */
function scheduleStarvedQueueWatch(app: App, watch: StarvedQueueWatch, intervalMs: number): void {
  const timer = setInterval(() => {
    watch.check().catch((error: unknown) => app.log.debug({ err: error }, 'starved-queue check failed; /ready reports the database'));
  }, intervalMs);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}

/** Keeps the webhook delivery log to WEBHOOK_LOG_RETENTION_DAYS; any API process may run it. */
function scheduleDeliveryLogSweep(app: App, webhooks: WebhookService, retentionMs: number): void {
  if (retentionMs === 0) return;
  const timer = setInterval(() => {
    webhooks.sweepLog(new Date(Date.now() - retentionMs)).then(
      (removed) => {
        if (removed > 0) app.log.info({ count: removed }, 'removed webhook deliveries past retention');
      },
      (error: unknown) => app.log.warn({ err: error }, 'webhook delivery log sweep failed; it runs again within the hour'),
    );
  }, 3600_000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}

type Services = ReturnType<typeof buildServices>;

/** Job counters and webhook delivery outcomes, from the queue's job events. */
export function jobMetricsSinkFor(config: Config, metrics: IntakeMetrics) {
  return jobMetricsSink(metrics, { webhookJobType: webhookDeliveryJob(config.webhooks).name });
}

function buildServices(config: Config, deps: AppDependencies, log: App['log'], setupToken: SetupToken, metrics: IntakeMetrics) {
  const db = deps.database.db;
  const users = new UserService(db);
  const apiKeys = new ApiKeyService(db);
  const tokens = new JwtTokens(deps.signingKeys, {
    accessSeconds: config.auth.accessTokenTtlSeconds,
    refreshSeconds: config.auth.refreshTokenTtlSeconds,
  });
  const auth = new AuthService({
    db,
    users,
    passwords: new PasswordHasher(),
    tokens,
    revocations: deps.tokenRevocations,
    rateLimiter: deps.rateLimiter,
    config: config.auth,
  });
  const authenticator = new Authenticator(db, tokens, deps.tokenRevocations, apiKeys);
  const webhookPublisher = new WebhookPublisher(deps.jobQueue, config.webhooks);
  const files = new FileService(
    db,
    deps.blobStore,
    config.files,
    {
      async enqueue(file, tx, reason) {
      const job = await deps.jobQueue.enqueue(
        processFileJob,
        { file_id: file.id },
        // An upload queues its processing once; an explicit request always queues a new run.
        { ownerId: file.ownerId, fileId: file.id, tx, ...(reason === 'upload' ? { idempotencyKey: `upload:${file.id}` } : {}) },
      );
      return job.id;
      },
      active: (fileId, tx) => activeJobFor(tx, processFileJob.name, fileId),
    },
    {
      async uploaded(tx, file) {
        await webhookPublisher.publish(tx, file.ownerId, 'file.uploaded', { file: fileEventData(file) });
      },
    },
    uploadCounting(metrics, fileStatusPublisher(deps.eventBus, log)),
    { limiter: deps.rateLimiter, ...config.files.processRateLimit },
  );
  const records = new RecordService(db);
  const jobs = new JobService(db, deps.jobQueue, QUEUE_NAMES);
  const webhooks = new WebhookService(db, outboundGuardFor(config.webhooks), () => loadSecretBox(config.webhooks), webhookPublisher);
  const notifications = new NotificationService(db, config.email.smtpUrl !== undefined);
  const realtime = new RealtimeService(deps.eventBus, jobs, files);
  const adminJobs = new AdminJobsService(db, deps.jobQueue, QUEUE_NAMES);
  const firstAdmin = new FirstAdminService(db, new PasswordHasher(), setupToken, config.http.trustProxy);
  return { users, apiKeys, auth, authenticator, files, records, jobs, webhooks, notifications, realtime, adminJobs, firstAdmin };
}

function uploadCounting(metrics: IntakeMetrics, next: FileStatusListener): FileStatusListener {
  return (file) => {
    if (file.status === 'uploaded') {
      metrics.uploadFiles.inc();
      metrics.uploadBytes.inc(file.sizeBytes);
    }
    next(file);
  };
}

function apiRoutes(config: Config, services: Services, metrics: IntakeMetrics) {
  return async function api(app: App): Promise<void> {
    await app.register(authRoutes, { auth: services.auth, config: config.auth, allowedOrigins: browserOrigins(config) });
    await app.register(usersRoutes, { users: services.users, auth: services.auth });
    await app.register(setupRoutes, { firstAdmin: services.firstAdmin });
    await app.register(adminJobsRoutes, { service: services.adminJobs });
    await app.register(apiKeysRoutes, { apiKeys: services.apiKeys });
    await app.register(webhooksRoutes, { webhooks: services.webhooks });
    await app.register(notificationsRoutes, { notifications: services.notifications });
    await app.register(async (jobsScope: App) => {
      jobsScope.addHook('preHandler', jobsScope.authenticate);
      await jobsScope.register(jobsRoutes, {
        service: services.jobs,
        resolveUser: (request) => request.user && { id: request.user.id, role: request.user.role },
      });
    });
    await app.register(realtimeRoutes, {
      service: services.realtime,
      authenticator: services.authenticator,
      limits: config.realtime,
      observer: {
        opened: () => metrics.webSocketConnections.inc(),
        closed: () => metrics.webSocketConnections.dec(),
        sent: () => metrics.webSocketMessagesSent.inc(),
      },
      allowedOrigins: browserOrigins(config),
    });
    await app.register(multipart, { limits: { fileSize: config.files.maxUploadBytes + 1, files: config.files.maxFilesPerRequest + 1 } });
    await app.register(recordsRoutes, { files: services.files, records: services.records });
    await app.register(filesRoutes, {
      files: services.files,
      maxUploadBytes: config.files.maxUploadBytes,
      maxFilesPerRequest: config.files.maxFilesPerRequest,
    });
  };
}

export { REQUEST_ID_HEADER };
