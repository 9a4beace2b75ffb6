import Fastify, { LogController } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DestinationStream } from 'pino';
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
import type { BlobStore } from './storage/blob-store.ts';
import { createBlobStore } from './storage/create-blob-store.ts';
import { localBlobRoutes } from './storage/local-blob.routes.ts';
import { LocalBlobStore } from './storage/local-blob-store.ts';
import { VERSION } from './version.ts';

/** The adapters the service runs on. A test passes its own; the rest are built from config. */
export interface AppDependencies {
  database: Database;
  blobStore: BlobStore;
}

/**
 * The one composition root of the HTTP service: builds what `overrides` does not provide,
 * wires routes and plugins, and closes what it built when the app closes. It never listens.
 */
export type AppOverrides = Partial<AppDependencies> & {
  /** Where log lines go instead of stdout; tests read them to check what gets logged. */
  logStream?: DestinationStream;
};

export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const owned: { close(): Promise<void> }[] = [];
  const database = overrides.database ?? (await openDatabase({ ...config.database, dataDir: config.dataDir }));
  if (!overrides.database) owned.push(database);

  try {
    if (config.database.migrateOnBoot) await database.migrate();
    const blobStore = overrides.blobStore ?? (await createBlobStore(config.storage));
    if (!overrides.blobStore) owned.push(blobStore);
    const deps: AppDependencies = { database, blobStore };

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
    }).withTypeProvider<TypeBoxTypeProvider>();

    for (const dependency of owned) app.addHook('onClose', async () => dependency.close());

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
      blobStore.readiness,
    ];
    await app.register(healthRoutes, { checks });
    await app.register(problemRoutes);
    await app.register(apiRoutes(deps), { prefix: API_PREFIX });
    // The local driver's signed links point back at this service (the cloud drivers' at the cloud).
    if (blobStore instanceof LocalBlobStore) await app.register(localBlobRoutes, { store: blobStore, prefix: API_PREFIX });
    return app;
  } catch (error) {
    await Promise.allSettled(owned.map((dependency) => dependency.close()));
    throw error;
  }
}

function apiRoutes(_deps: AppDependencies) {
  return async function api(_app: App): Promise<void> {
    // Each domain registers its routes here as it lands.
  };
}

export { REQUEST_ID_HEADER };
