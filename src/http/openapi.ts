import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Config } from '../config/config.ts';
import { ERROR_CODES } from '../errors/catalog.ts';
import type { App } from './app-types.ts';

export const API_PREFIX = '/api/v1';

/**
 * How protected routes accept credentials. Each route lists them in `security` (see
 * `AUTH_SECURITY` in src/auth/authenticate.ts), so /docs can sign in and call them: the
 * `oauth2` password flow fills in a bearer token from `/auth/token`, and a browser signed in
 * through `/auth/login` sends the cookie by itself.
 */
export const SECURITY_SCHEMES = {
  cookieAuth: {
    type: 'apiKey',
    in: 'cookie',
    name: 'access_token',
    description:
      'Set by `POST /auth/login`. Cookie-authenticated POST, PUT, PATCH and DELETE also need `X-CSRF-Token` equal to the `csrf_token` cookie.',
  },
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description: 'An access token from `POST /auth/token` or `POST /auth/refresh`, or an API key (`ik_…`).',
  },
  oauth2: {
    type: 'oauth2',
    description: 'Password grant: sign in with email and password from the docs page.',
    flows: { password: { tokenUrl: `${API_PREFIX}/auth/token`, refreshUrl: `${API_PREFIX}/auth/refresh`, scopes: {} } },
  },
} as const;

/** `security` of an operation that needs a signed-in caller (cookie, bearer JWT or API key). */
export const SIGNED_IN_SECURITY: { [scheme: string]: string[] }[] = [{ cookieAuth: [] }, { bearerAuth: [] }, { oauth2: [] }];

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
      tags: [
        { name: 'service', description: 'Liveness, readiness and the API description' },
        { name: 'auth', description: 'Registration, sign-in (cookies or bearer tokens), refresh, sign-out, JWKS' },
        { name: 'users', description: 'Your account; administrators manage everyone’s' },
        { name: 'api-keys', description: 'Long-lived keys for machines, sent as `Authorization: Bearer <key>`' },
      ],
      components: { securitySchemes: SECURITY_SCHEMES },
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
