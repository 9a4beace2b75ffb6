import swagger, { type SwaggerTransform } from '@fastify/swagger';
import type { FastifySchema } from 'fastify';
import type { OpenAPIV3_1 } from 'openapi-types';
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

/** RFC 9457 problem details as every error is answered (see src/http/error-handler.ts). */
const PROBLEM_SCHEMA: OpenAPIV3_1.SchemaObject = {
  type: 'object',
  required: ['type', 'title', 'status', 'code', 'request_id'],
  properties: {
    type: { type: 'string', description: '`/problems/<code>`, which describes the code.' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    code: { type: 'string', description: 'Stable machine-readable code; see the table above.' },
    request_id: { type: 'string', description: 'Quote it when reporting a problem; the log holds the details under it.' },
    errors: {
      type: 'array',
      description: 'Validation failures (422): which input, and what is wrong with it.',
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: { path: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
  additionalProperties: true,
};

const PROBLEM_RESPONSE = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

interface DocumentedSchema {
  body?: unknown;
  querystring?: unknown;
  params?: unknown;
  consumes?: readonly string[];
  security?: unknown;
  response?: Record<string, unknown>;
  hide?: boolean;
}

/**
 * Completes each operation of the document (never the runtime schemas): the problem answers a
 * route can give, and for multipart uploads a request body with binary parts, which Swagger UI
 * shows as a file picker and client generators type. The upload itself is not validated
 * against it: its parts are streamed to storage as they arrive.
 */
const documentOperation: SwaggerTransform = ({ schema, url }) => {
  const route = (schema ?? {}) as DocumentedSchema;
  if (route.hide) return { schema, url };
  const errors: Record<string, unknown> = {};
  if (route.body !== undefined || route.querystring !== undefined || route.params !== undefined || route.consumes !== undefined) {
    errors['400'] = PROBLEM_RESPONSE('The request cannot be read (malformed body, path or parameters).');
    errors['422'] = PROBLEM_RESPONSE('The input does not match the schema, or names an unknown parameter; see `errors`.');
  }
  if (Array.isArray(route.security) && route.security.length > 0) {
    errors['401'] = PROBLEM_RESPONSE('Not signed in, or the credential is invalid, expired or revoked.');
    errors['403'] = PROBLEM_RESPONSE('Signed in, but not allowed (role, CSRF).');
  }
  if (route.params !== undefined) errors['404'] = PROBLEM_RESPONSE('No such resource, or it belongs to someone else.');
  errors['503'] = PROBLEM_RESPONSE('A dependency is unavailable; retry after `Retry-After` seconds.');
  errors.default = PROBLEM_RESPONSE('Any other error, as RFC 9457 problem details.');
  const documented: DocumentedSchema = { ...route, response: { ...errors, ...route.response } };
  if (route.body === undefined && route.consumes?.includes('multipart/form-data')) {
    documented.body = {
      type: 'object',
      required: ['files'],
      properties: {
        files: {
          type: 'array',
          items: { type: 'string', format: 'binary' },
          description: 'One or more files, each a part named "files".',
        },
      },
    };
  }
  return { schema: documented as FastifySchema, url };
};

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
      components: { securitySchemes: SECURITY_SCHEMES, schemas: { Problem: PROBLEM_SCHEMA } },
    },
    transform: documentOperation,
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
