import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Config } from '../config/config.ts';
import { ERROR_CODES } from '../errors/catalog.ts';
import type { App } from './app-types.ts';

export const API_PREFIX = '/api/v1';

function errorCodeTable(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, { status, description }]) => `| \`${code}\` | ${status} | ${description} |`,
  );
  return ['| code | status | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/**
 * The OpenAPI document is generated from the route schemas (never written by hand) and served
 * at /openapi.json; /docs renders it with Swagger UI from files bundled in the package.
 */
export async function registerOpenApi(app: App, config: Config, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Intake API',
        version,
        description: [
          'Sign in, upload files, let workers process them, read the results back.',
          '',
          'Every error is an RFC 9457 problem (`application/problem+json`) with a stable `code` and the `request_id`:',
          '',
          errorCodeTable(),
        ].join('\n'),
      },
      servers: [{ url: config.publicUrl }],
      tags: [{ name: 'service', description: 'Liveness, readiness and the API description' }],
    },
  });

  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true, persistAuthorization: true, withCredentials: true },
    // Swagger UI needs its own scripts and styles; the rest of the API keeps the strict policy.
    staticCSP: true,
    // On plain http (local development) upgrading every asset request to https breaks the page.
    transformStaticCSP: (header: string) => header.replace(/\s*upgrade-insecure-requests;?/g, ''),
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
