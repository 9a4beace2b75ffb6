import { Type } from '../vendor/typebox.ts';
import { Id, PageOf, pageQueryFields, Text } from '../http/schema-types.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import type { ApiKeyRow } from './api-key.schema.ts';
import type { ApiKeyService } from './api-key.service.ts';
import type { AuditRecorder } from '../audit/audit.service.ts';

const apiKeyFields = {
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to tell keys apart.' }),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
};
const ApiKeyResponse = Type.Object(apiKeyFields);
const CreatedApiKeyResponse = Type.Object({
  ...apiKeyFields,
  key: Type.String({ description: 'The key itself. Shown only in this answer; store it now.' }),
});

function toApiKeyResponse(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    created_at: row.createdAt.toISOString(),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    expires_at: row.expiresAt?.toISOString() ?? null,
  };
}

export async function apiKeysRoutes(app: App, options: { apiKeys: ApiKeyService; audit?: AuditRecorder }): Promise<void> {
  const { apiKeys, audit } = options;

  app.post(
    '/api-keys',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['api-keys'],
        summary: 'Creates an API key for machines. The key is in this answer only; send it as `Authorization: Bearer <key>`.',
        security: AUTH_SECURITY,
        body: Type.Object({
          name: Text({ minLength: 1, maxLength: 100 }),
          expires_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
        }),
        response: { 201: CreatedApiKeyResponse },
      },
    },
    async (request, reply) => {
      const expiresAt = request.body.expires_at ? new Date(request.body.expires_at) : null;
      const caller = requireUser(request);
      const created = await apiKeys.create(caller.id, { name: request.body.name, expiresAt });
      await audit?.record({
        action: 'api_key.created',
        actorId: caller.id,
        targetUserId: caller.id,
        ip: request.ip,
        details: { api_key_id: created.row.id, name: created.row.name },
      });
      reply.header('Cache-Control', 'no-store');
      return reply.code(201).send({ ...toApiKeyResponse(created.row), key: created.key });
    },
  );

  app.get(
    '/api-keys',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['api-keys'],
        summary: 'Lists your API keys (never the keys themselves).',
        security: AUTH_SECURITY,
        querystring: Type.Object({
          ...pageQueryFields(),
        }),
        response: {
          200: PageOf(ApiKeyResponse),
        },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const page = await apiKeys.list(requireUser(request).id, { limit, offset });
      return { items: page.items.map(toApiKeyResponse), total: page.total, limit, offset };
    },
  );

  app.delete(
    '/api-keys/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['api-keys'],
        summary: 'Deletes one of your API keys; it stops working at once.',
        security: AUTH_SECURITY,
        params: Type.Object({ id: Id() }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const caller = requireUser(request);
      await apiKeys.delete(caller.id, request.params.id);
      await audit?.record({
        action: 'api_key.revoked',
        actorId: caller.id,
        targetUserId: caller.id,
        ip: request.ip,
        details: { api_key_id: request.params.id },
      });
      return reply.code(204).send(null);
    },
  );
}
