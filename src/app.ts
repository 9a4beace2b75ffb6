import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import Fastify, { LogController } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DestinationStream } from 'pino';
import { ApiKeyService } from './api-keys/api-key.service.ts';
import { apiKeysRoutes } from './api-keys/api-keys.routes.ts';
import { registerAuthentication } from './auth/authenticate.ts';
import { Authenticator } from './auth/authenticator.ts';
import { authRoutes } from './auth/auth.routes.ts';
import { AccountRecoveryService } from './auth/account-recovery.service.ts';
import { accountRecoveryRoutes } from './auth/account-recovery.routes.ts';
import { sessionsRoutes } from './auth/sessions.routes.ts';
import { identityProviderClients, type ProviderFetch } from './auth/identity-providers.ts';
import { IdentitySignIn } from './auth/identity-sign-in.service.ts';
import { identitySignInRoutes } from './auth/identity-sign-in.routes.ts';
import { AuditLog } from './audit/audit.service.ts';
import { auditRoutes } from './audit/audit.routes.ts';
import { AuthService } from './auth/auth.service.ts';
import { jwksRoutes } from './auth/jwks.routes.ts';
import { JwtTokens } from './auth/jwt-tokens.ts';
import { PasswordHasher } from './auth/password-hasher.ts';
import {
  buildInfrastructure,
  type ApiInfrastructure,
  type Infrastructure,
  type InfrastructureOverrides,
} from './composition/infrastructure.ts';
import { QUEUE_NAMES } from './composition/job-types.ts';
import type { Config } from './config/config.ts';
import { AdminJobsService } from './admin/admin-jobs.service.ts';
import { adminJobsRoutes } from './admin/admin-jobs.routes.ts';
import { FileService, type FileStatusListener } from './files/file.service.ts';
import { filesRoutes } from './files/files.routes.ts';
import { processFileJob } from './files/file-processing.job.ts';
import { fileEventData } from './files/file-lookup.ts';
import { fileStatusPublisher } from './files/file-status-events.ts';
import { RecordService } from './records/record.service.ts';
import { recordsRoutes } from './records/records.routes.ts';
import { ImportSchemaService } from './schemas/import-schema.service.ts';
import { schemasRoutes } from './schemas/schemas.routes.ts';
import { fileImportsRoutes } from './files/file-imports.routes.ts';
import { UploadPreviewer } from './files/upload-preview.ts';
import { healthRoutes } from './health/health.routes.ts';
import type { App } from './http/app-types.ts';
import { ConsoleSite } from './http/console-site.ts';
import { registerErrorHandling } from './http/error-handler.ts';
import { lazySchemaCompilers } from './http/lazy-schema-compilers.ts';
import { frameworkErrorOptions } from './http/framework-errors.ts';
import { registerStrictQuery } from './http/strict-query.ts';
import { API_PREFIX, registerOpenApi } from './http/openapi.ts';
import { problemRoutes } from './http/problem.routes.ts';
import { REQUEST_ID_HEADER, requestIdFor } from './http/request-id.ts';
import { browserOrigins, registerResponseHeaders, registerSecurity } from './http/security.ts';
import { accessLogger, loggerOptions, requestChildLogger } from './logging/logger.ts';
import { UserService } from './users/user.service.ts';
import { QuotaService } from './quotas/quota.service.ts';
import { toQuotaResponse } from './quotas/quota.contract.ts';
import { quotasRoutes } from './quotas/quotas.routes.ts';
import { sweepTusUploads, TusUploads } from './uploads/tus-uploads.ts';
import { tusRoutes } from './uploads/tus.routes.ts';
import { usersRoutes } from './users/users.routes.ts';
import { VERSION } from './version.ts';
import { activeJobFor } from './jobs/active-job.ts';
import { JobService } from './jobs/job.service.ts';
import type { IntakeMetrics } from './metrics/metrics.ts';
import { metricsRoutes, registerHttpMetrics } from './metrics/http-metrics.ts';
import { registerHttpTelemetry } from './telemetry/http-telemetry.ts';
import { FirstAdminService } from './users/first-admin.service.ts';
import { announceSetupLink } from './users/setup-announcement.ts';
import { setupRoutes } from './users/setup.routes.ts';
import { SetupToken } from './users/setup-token.ts';
import { jobsRoutes } from './jobs/jobs.routes.ts';
import { NotificationService } from './notifications/notification.service.ts';
import { notificationsRoutes } from './notifications/notifications.routes.ts';
import { outboundGuardFor } from './webhooks/webhook-delivery.job.ts';
import { WebhookPublisher } from './webhooks/webhook-events.ts';
import { loadSecretBox } from './webhooks/webhook-signature.ts';
import { TwoFactorService } from './auth/two-factor.service.ts';
import { twoFactorRoutes } from './auth/two-factor.routes.ts';
import { WebhookService } from './webhooks/webhook.service.ts';
import { webhooksRoutes } from './webhooks/webhooks.routes.ts';
import { RealtimeService } from './realtime/realtime.service.ts';
import { realtimeRoutes } from './realtime/realtime.routes.ts';
import { StarvedQueueWatch } from './jobs/queue-health.ts';

/** One warning per starved queue every five minutes, however long the outage. */
const STARVED_QUEUE_QUIET_MS = 5 * 60_000;

/**
 * What a caller of `buildApp` may pass instead of what the configuration says: single
 * adapters (a test's own), or a whole infrastructure shared with workers (the embedded mode),
 * which then stays the caller's to close.
 */
export type AppOverrides = InfrastructureOverrides & {
  infrastructure?: Infrastructure;
  /** Where log lines go instead of stdout; tests read them to check what gets logged. */
  logStream?: DestinationStream;
  /** The time in ms, for token lifetimes (Date.now unless a test passes its own clock). */
  clock?: () => number;
  /** How identity providers are reached (a test passes one that stands between). */
  providerFetch?: ProviderFetch;
};

/**
 * The HTTP service: builds (or takes) the infrastructure, wires the features' services and
 * routes, and closes what it built when the app closes. It never listens.
 */
export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const app: App = Fastify({
    logger: loggerOptions(config, overrides.logStream),
    genReqId: requestIdFor,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    childLoggerFactory: requestChildLogger,
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: 'all', coerceTypes: 'array', useDefaults: true } },
    schemaController: lazySchemaCompilers(),
    ...frameworkErrorOptions(),
  }).withTypeProvider<TypeBoxTypeProvider>();

  const infrastructure = overrides.infrastructure ?? (await buildInfrastructure(config, app.log, overrides));
  try {
    // Built here, closed here; a shared one is closed by whoever built it.
    if (!overrides.infrastructure) app.addHook('onClose', async () => infrastructure.close());
    const adapters = await infrastructure.api();

    // Hooks that run on every request are synchronous: an async one costs a promise and a
    // microtask turn each time (measured with bench/all.ts, GET /health). The request id and the
    // security headers are set by one hook, first of all.
    registerResponseHeaders(app);
    // One line per request, written when the answer is complete; nothing is built for it when
    // the level is above info.
    const accessLog = accessLogger(app.log);
    app.addHook('onResponse', (request, reply, done) => {
      if (isInfoEnabled(request.log)) {
        accessLog.info(
          {
            request_id: request.id,
            method: request.method,
            route: request.routeOptions.url ?? null,
            status: reply.statusCode,
            duration_ms: Math.round(reply.elapsedTime * 10) / 10,
          },
          'request',
        );
      }
      done();
    });

    const { metrics } = infrastructure;
    const consoleSite = new ConsoleSite(config.console.dir, config.publicUrl);
    registerErrorHandling(app, { notFoundFallback: consoleSite.fallback });
    registerHttpMetrics(app, metrics);
    if (infrastructure.telemetry) registerHttpTelemetry(app, infrastructure.telemetry);
    registerStrictQuery(app);
    await registerSecurity(app, config);
    await registerOpenApi(app, config, VERSION);

    // Cookies and forms are parsed for every route: login accepts forms, and the auth hook reads cookies.
    await app.register(cookie);
    await app.register(formbody, { bodyLimit: config.http.bodyLimitBytes });

    const setup = SetupToken.generate();
    const services = buildServices(
      config,
      infrastructure,
      adapters,
      app.log,
      overrides.clock ?? Date.now,
      setup.token,
      overrides.providerFetch,
    );
    announceSetupLink(app, services.firstAdmin, `${config.publicUrl}/setup#token=${setup.plaintext}`);
    // On the root instance, so that every route plugin sees `app.authenticate`.
    registerAuthentication(app, services.authenticator, {
      requireVerifiedEmail: config.auth.emailVerification === 'required',
      ...(config.auth.requireTwoFactorForAdmins ? { adminHasTwoFactor: (userId) => services.twoFactor.isEnabled(userId) } : {}),
    });

    scheduleFileSweep(
      app,
      async () => {
        const files = await services.files.sweep();
        const tus = await sweepTusUploads(infrastructure.database.db, adapters.blobStore, services.quotas, new Date());
        return { ...files, expiredTusUploads: tus.expiredUploads, orphanTusParts: tus.orphanParts };
      },
      config.files.sweepIntervalSeconds,
    );
    scheduleStarvedQueueWatch(
      app,
      new StarvedQueueWatch(infrastructure.database.db, app.log, {
        leaseMs: config.jobs.leaseMs,
        quietMs: STARVED_QUEUE_QUIET_MS,
      }),
      config.jobs.leaseMs,
    );
    scheduleDeliveryLogSweep(app, services.webhooks, config.webhooks.logRetentionMs);
    scheduleAuditSweep(app, services.audit, config.auth.auditRetentionDays);

    await app.register(healthRoutes, { checks: infrastructure.readiness() });
    await app.register(metricsRoutes, { metrics, token: config.metrics.token });
    await app.register(problemRoutes);
    await app.register(jwksRoutes, { keys: adapters.signingKeys });
    await app.register(apiRoutes(config, services, metrics), { prefix: API_PREFIX });
    await app.register(consoleSite.routes);
    // A driver whose signed links point back at this service (the local one) serves them here.
    const blobRoutes = adapters.blobStore.httpRoutes;
    if (blobRoutes) await app.register(blobRoutes, { prefix: API_PREFIX });
    return app;
  } catch (error) {
    if (!overrides.infrastructure) await infrastructure.close();
    throw error;
  }
}

/**
 * Removes blobs a crash left without a row and direct uploads never completed. Every API process
 * may run it: deleting what is already gone is harmless.
 */
function scheduleFileSweep(app: App, sweep: () => Promise<Record<string, number>>, intervalSeconds: number): void {
  if (intervalSeconds === 0) return;
  const timer = setInterval(() => {
    sweep().then(
      (swept) => {
        if (Object.values(swept).some((count) => count > 0)) app.log.info(swept, 'swept abandoned uploads and orphaned blobs');
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
    watch
      .check()
      .catch((error: unknown) => app.log.debug({ err: error }, 'starved-queue check failed; /ready reports the database'));
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

/** Keeps the audit log to AUDIT_RETENTION_DAYS; any API process may run it. */
function scheduleAuditSweep(app: App, audit: AuditLog, retentionDays: number): void {
  if (retentionDays === 0) return;
  const sweep = () =>
    audit.sweep(new Date(Date.now() - retentionDays * 86_400_000)).then(
      (removed) => {
        if (removed > 0) app.log.info({ count: removed }, 'removed audit events past retention');
      },
      (error: unknown) => app.log.warn({ err: error }, 'audit log sweep failed; it runs again within the hour'),
    );
  const timer = setInterval(sweep, 3600_000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}

type Services = ReturnType<typeof buildServices>;

function buildServices(
  config: Config,
  infrastructure: Infrastructure,
  adapters: ApiInfrastructure,
  log: App['log'],
  clock: () => number,
  setupToken: SetupToken,
  providerFetch: ProviderFetch | undefined,
) {
  const { metrics } = infrastructure;
  const db = infrastructure.database.db;
  const { jobQueue, eventBus } = infrastructure;
  const users = new UserService(db);
  const apiKeys = new ApiKeyService(db);
  const tokens = new JwtTokens(
    adapters.signingKeys,
    { accessSeconds: config.auth.accessTokenTtlSeconds, refreshSeconds: config.auth.refreshTokenTtlSeconds },
    clock,
  );
  const audit = new AuditLog(db, clock);
  const passwords = new PasswordHasher();
  const recovery = new AccountRecoveryService({
    db,
    users,
    passwords,
    queue: jobQueue,
    rateLimiter: adapters.rateLimiter,
    config: config.auth,
    audit,
    emailEnabled: config.email.smtpUrl !== undefined,
    now: clock,
  });
  const twoFactor = new TwoFactorService({
    db,
    users,
    passwords,
    rateLimiter: adapters.rateLimiter,
    config: config.auth,
    audit,
    sealer: () => loadSecretBox(config.webhooks, 'two-factor secrets'),
    now: clock,
  });
  const auth = new AuthService({
    db,
    users,
    passwords,
    tokens,
    revocations: adapters.tokenRevocations,
    rateLimiter: adapters.rateLimiter,
    config: config.auth,
    audit,
    verification: recovery,
    twoFactor,
    now: clock,
  });
  const authenticator = new Authenticator(db, tokens, adapters.tokenRevocations, apiKeys);
  const identities = new IdentitySignIn({
    db,
    providers: identityProviderClients(config.identityProviders.providers, providerFetch),
    audit,
    redirectUri: (provider) => `${config.publicUrl}${API_PREFIX}/auth/oidc/${provider}/callback`,
    flowTtlSeconds: config.identityProviders.flowTtlSeconds,
    registrationOpen: config.auth.registrationOpen,
    now: clock,
  });
  const webhookPublisher = new WebhookPublisher(jobQueue, config.webhooks);
  const quotas = new QuotaService(db, { bytes: config.files.quotas.bytesPerUser, files: config.files.quotas.filesPerUser });
  const files = new FileService(
    db,
    adapters.blobStore,
    config.files,
    {
      async enqueue(file, tx, reason) {
        const job = await jobQueue.enqueue(
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
    uploadCounting(metrics, fileStatusPublisher(eventBus, log)),
    { limiter: adapters.rateLimiter, ...config.files.processRateLimit },
    quotas,
  );
  const tusUploads = new TusUploads(
    db,
    adapters.blobStore,
    files,
    quotas,
    { maxUploadBytes: config.files.maxUploadBytes, expirySeconds: config.files.tusUploadExpirySeconds },
    () => new Date(clock()),
  );
  const records = new RecordService(db);
  const schemas = new ImportSchemaService(db);
  const jobs = new JobService(db, jobQueue, QUEUE_NAMES);
  const webhooks = new WebhookService(
    db,
    outboundGuardFor(config.webhooks),
    () => loadSecretBox(config.webhooks),
    webhookPublisher,
    (ids) => jobs.nextRuns(ids),
  );
  const notifications = new NotificationService(db, config.email.smtpUrl !== undefined);
  const realtime = new RealtimeService(eventBus, jobs, files);
  const adminJobs = new AdminJobsService(db, jobQueue, QUEUE_NAMES);
  const firstAdmin = new FirstAdminService(db, new PasswordHasher(), setupToken, config.http.trustProxy);
  return {
    users,
    apiKeys,
    auth,
    audit,
    recovery,
    twoFactor,
    authenticator,
    identities,
    files,
    records,
    schemas,
    blobs: adapters.blobStore,
    jobs,
    webhooks,
    notifications,
    realtime,
    adminJobs,
    firstAdmin,
    quotas,
    tusUploads,
    clock,
    /** The sessions routes read the auth tables (small queries that need no service of their own). */
    db,
  };
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
    await app.register(usersRoutes, {
      users: services.users,
      auth: services.auth,
      quota: async (userId) => toQuotaResponse(await services.quotas.status(userId)),
    });
    await app.register(quotasRoutes, { quotas: services.quotas });
    await app.register(tusRoutes, { uploads: services.tusUploads, maxUploadBytes: config.files.maxUploadBytes });
    await app.register(accountRecoveryRoutes, { recovery: services.recovery, users: services.users });
    await app.register(twoFactorRoutes, {
      twoFactor: services.twoFactor,
      requiredForAdmins: config.auth.requireTwoFactorForAdmins,
    });
    await app.register(identitySignInRoutes, {
      identities: services.identities,
      auth: services.auth,
      config: config.auth,
      flowTtlSeconds: config.identityProviders.flowTtlSeconds,
    });
    await app.register(sessionsRoutes, { db: services.db, audit: services.audit, now: services.clock });
    await app.register(auditRoutes, { audit: services.audit });
    await app.register(setupRoutes, { firstAdmin: services.firstAdmin });
    await app.register(adminJobsRoutes, { service: services.adminJobs });
    await app.register(apiKeysRoutes, { apiKeys: services.apiKeys, audit: services.audit });
    await app.register(webhooksRoutes, { webhooks: services.webhooks, audit: services.audit });
    await app.register(notificationsRoutes, { notifications: services.notifications });
    await app.register(jobsRoutes, { service: services.jobs });
    await app.register(realtimeRoutes, {
      service: services.realtime,
      authenticator: services.authenticator,
      limits: config.realtime,
      now: services.clock,
      observer: {
        opened: () => metrics.webSocketConnections.inc(),
        closed: () => metrics.webSocketConnections.dec(),
        sent: () => metrics.webSocketMessagesSent.inc(),
      },
      allowedOrigins: browserOrigins(config),
    });
    await app.register(multipart, {
      limits: { fileSize: config.files.maxUploadBytes + 1, files: config.files.maxFilesPerRequest + 1 },
    });
    await app.register(recordsRoutes, { files: services.files, records: services.records });
    await app.register(schemasRoutes, { schemas: services.schemas });
    await app.register(fileImportsRoutes, {
      files: services.files,
      schemas: services.schemas,
      blobs: services.blobs,
      limits: config.processing,
    });
    await app.register(filesRoutes, {
      files: services.files,
      uploadPreviewer: new UploadPreviewer(
        services.files,
        async (ownerId, schemaId) => (await services.schemas.get(ownerId, schemaId)).definition,
        config.processing,
        config.files.maxUploadBytes,
      ),
      checkSchema: async (ownerId, schemaId) => {
        await services.schemas.get(ownerId, schemaId);
      },
      maxUploadBytes: config.files.maxUploadBytes,
      maxFilesPerRequest: config.files.maxFilesPerRequest,
    });
  };
}

export { REQUEST_ID_HEADER };

/** Whether an info line of this logger would be written (pino's own check, on Fastify's narrower logger type). */
function isInfoEnabled(log: App['log']): boolean {
  return (log as App['log'] & { isLevelEnabled(level: string): boolean }).isLevelEnabled('info');
}
