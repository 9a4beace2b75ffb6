import { Type } from '../vendor/typebox.ts';
import { AUTH_SECURITY } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import { Id, Nullable, PageOf, pageQueryFields } from '../http/schema-types.ts';
import type { AuditEventRow } from './audit.schema.ts';
import { AUDIT_ACTIONS, type AuditLog } from './audit.service.ts';

export interface AuditRoutesOptions {
  audit: AuditLog;
}

const AuditEventResponse = Type.Object({
  id: Type.String({ format: 'uuid' }),
  occurred_at: Type.String({ format: 'date-time' }),
  action: Type.String({ description: `One of: ${AUDIT_ACTIONS.join(', ')}.` }),
  actor_id: Nullable(Type.String({ format: 'uuid', description: 'Who did it; null when nobody was signed in.' })),
  target_user_id: Nullable(Type.String({ format: 'uuid', description: 'The account concerned.' })),
  ip: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
});

function toAuditEventResponse(row: AuditEventRow) {
  return {
    id: row.id,
    occurred_at: row.occurredAt.toISOString(),
    action: row.action,
    actor_id: row.actorId,
    target_user_id: row.targetUserId,
    ip: row.ip,
    details: row.details,
  };
}

export async function auditRoutes(app: App, options: AuditRoutesOptions): Promise<void> {
  const { audit } = options;
  app.get(
    '/admin/audit',
    {
      preHandler: app.requireAdmin,
      schema: {
        tags: ['admin'],
        summary: 'Admin: the security audit log, newest first, filtered by action, actor, target and time.',
        security: AUTH_SECURITY,
        querystring: Type.Object({
          action: Type.Optional(Type.Union(AUDIT_ACTIONS.map((action) => Type.Literal(action)))),
          actor_id: Type.Optional(Id()),
          target_user_id: Type.Optional(Id()),
          since: Type.Optional(Type.String({ format: 'date-time' })),
          until: Type.Optional(Type.String({ format: 'date-time' })),
          ...pageQueryFields(),
        }),
        response: { 200: PageOf(AuditEventResponse) },
      },
    },
    async (request) => {
      const { action, actor_id, target_user_id, since, until, limit, offset } = request.query;
      const page = await audit.list({
        action,
        actorId: actor_id,
        targetUserId: target_user_id,
        since: since ? new Date(since) : undefined,
        until: until ? new Date(until) : undefined,
        limit,
        offset,
      });
      return { items: page.items.map(toAuditEventResponse), total: page.total, limit, offset };
    },
  );
}
