import { Type } from '../vendor/typebox.ts';
import type { AuditRecorder } from '../audit/audit.service.ts';
import type { Db } from '../db/database.ts';
import { ERRORS } from '../errors/catalog.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import { Id, Nullable } from '../http/schema-types.ts';
import { listSessions, revokeOwnSession, revokeUserSessions } from './sessions.ts';
import { describeUserAgent } from './user-agent.ts';

export interface SessionsRoutesOptions {
  db: Db;
  audit: AuditRecorder;
  now: () => number;
}

const SessionResponse = Type.Object({
  id: Type.String({ format: 'uuid' }),
  device: Type.String({ description: 'Browser and system read from the User-Agent, e.g. "Firefox on Linux".' }),
  user_agent: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time', description: 'The last sign-in or refresh (not every request).' }),
  expires_at: Type.String({ format: 'date-time' }),
  current: Type.Boolean({ description: 'The session of the credential making this request.' }),
});

export async function sessionsRoutes(app: App, options: SessionsRoutesOptions): Promise<void> {
  const { db, audit, now } = options;

  app.get(
    '/users/me/sessions',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'My signed-in sessions (browsers and programs), the most recently used first.',
        security: AUTH_SECURITY,
        response: { 200: Type.Object({ items: Type.Array(SessionResponse) }) },
      },
    },
    async (request) => {
      const caller = requireUser(request);
      const rows = await listSessions(db, caller.id, new Date(now()));
      return {
        items: rows.map((row) => ({
          id: row.id,
          device: describeUserAgent(row.userAgent),
          user_agent: row.userAgent,
          ip: row.ip,
          created_at: row.createdAt.toISOString(),
          last_used_at: row.lastUsedAt.toISOString(),
          expires_at: row.expiresAt.toISOString(),
          current: row.id === caller.session?.id,
        })),
      };
    },
  );

  app.delete(
    '/users/me/sessions/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Signs out one of my sessions (its tokens stop working at once). 404 when it is not mine or already ended.',
        security: AUTH_SECURITY,
        params: Type.Object({ id: Id() }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const caller = requireUser(request);
      if (!(await revokeOwnSession(db, caller.id, request.params.id)))
        throw ERRORS.notFound('No live session of yours has this id.');
      await audit.record({
        action: 'session.revoked',
        actorId: caller.id,
        targetUserId: caller.id,
        ip: request.ip,
        details: { session_id: request.params.id },
      });
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/users/me/sessions',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Signs out everywhere else: ends every session of mine but the one making this request.',
        description: 'API keys stay valid. Called with an API key, it ends every session.',
        security: AUTH_SECURITY,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const caller = requireUser(request);
      await revokeUserSessions(db, caller.id, caller.session?.id);
      await audit.record({
        action: 'session.revoked',
        actorId: caller.id,
        targetUserId: caller.id,
        ip: request.ip,
        details: { others: true },
      });
      return reply.code(204).send(null);
    },
  );
}
