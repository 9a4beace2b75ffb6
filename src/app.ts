import Fastify, { LogController } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config/config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { healthRoutes } from './health/health.routes.ts';
import type { ReadinessCheck } from './health/readiness.ts';
import type { App } from './http/app-types.ts';
import { registerErrorHandling } from './http/error-handler.ts';
import { API_PREFIX, registerOpenApi } from './http/openapi.ts';
import { problemRoutes } from './http/problem.routes.ts';
import { REQUEST_ID_HEADER, requestIdFor } from './http/request-id.ts';
import { registerSecurity } from './http/security.ts';
import { loggerOptions } from './logging/logger.ts';
import { VERSION } from './version.ts';
import { QUEUE_NAMES } from './jobs/job-catalog.ts';
import type { JobQueue } from './jobs/job-queue.ts';
import { createJobQueue } from './jobs/job-queue-factory.ts';
import { JobService } from './jobs/job.service.ts';
import { jobsRoutes, type JobsRoutesOptions } from './jobs/jobs.routes.ts';

/** The adapters the service runs on. A test passes its own; the rest are built from config. */
export interface AppDependencies {
  database: Database;
  jobQueue: JobQueue;
  /** Who is calling. The auth domain provides it; until then nobody is (job routes answer 401). */
  resolveUser: JobsRoutesOptions['resolveUser'];
}

/**
 * The one composition root of the HTTP service: builds what `overrides` does not provide,
 * wires routes and plugins, and closes what it built when the app closes. It never listens.
 */
export async function buildApp(config: Config, overrides: Partial<AppDependencies> = {}): Promise<App> {
  const owned: { close(): Promise<void> }[] = [];
  const database = overrides.database ?? (await openDatabase({ ...config.database, dataDir: config.dataDir }));
  if (!overrides.database) owned.push(database);

  try {
    if (config.database.migrateOnBoot) await database.migrate();

    const app: App = Fastify({
      logger: loggerOptions(config),
      genReqId: requestIdFor,
      requestIdHeader: false,
      logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
      bodyLimit: config.http.bodyLimitBytes,
      trustProxy: config.http.trustProxy,
      return503OnClosing: true,
      forceCloseConnections: 'idle',
      ajv: { customOptions: { removeAdditional: 'all', coerceTypes: 'array', useDefaults: true } },
    }).withTypeProvider<TypeBoxTypeProvider>();

    const jobQueue = overrides.jobQueue ?? createJobQueue(config.jobs, database, app.log);
    // Closed before the database it writes to.
    if (!overrides.jobQueue) owned.unshift(jobQueue);
    const deps: AppDependencies = { database, jobQueue, resolveUser: overrides.resolveUser ?? (() => null) };

    app.addHook('onClose', async () => {
      for (const dependency of owned) await dependency.close();
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

    registerErrorHandling(app);
    await registerSecurity(app, config);
    await registerOpenApi(app, config, VERSION);

    const checks: ReadinessCheck[] = [
      { name: 'database', target: `${database.kind} ${database.location}`, check: () => database.ping() },
      ...jobQueue.readiness(),
    ];
    await app.register(healthRoutes, { checks });
    await app.register(problemRoutes);
    await app.register(apiRoutes(deps), { prefix: API_PREFIX });
    return app;
  } catch (error) {
    await Promise.allSettled(owned.map((dependency) => dependency.close()));
    throw error;
  }
}

function apiRoutes(deps: AppDependencies) {
  return async function api(app: App): Promise<void> {
    // Each domain registers its routes here as it lands.
    const jobService = new JobService(deps.database.db, deps.jobQueue, QUEUE_NAMES);
    await app.register(jobsRoutes, { service: jobService, resolveUser: deps.resolveUser });
  };
}

export { REQUEST_ID_HEADER };
