import { and, count, desc, eq, gte, lt, lte, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { auditEvents, type AuditEventRow } from './audit.schema.ts';

/** The security events the log keeps; clients may filter on them. */
export const AUDIT_ACTIONS = [
  'sign_in.succeeded',
  'sign_in.failed',
  'sign_in.challenged',
  'session.signed_out',
  'password.changed',
  'password.reset_requested',
  'password.reset',
  'session.revoked',
  'session.token_reused',
  'email.verified',
  'email.change_requested',
  'api_key.created',
  'api_key.revoked',
  'user.role_changed',
  'user.activated',
  'user.deactivated',
  'webhook.secret_rotated',
  'two_factor.enrolment_started',
  'two_factor.enabled',
  'two_factor.disabled',
  'two_factor.recovery_code_used',
  'identity.signed_in',
  'identity.linked',
  'identity.unlinked',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  action: AuditAction;
  actorId?: string | null;
  targetUserId?: string | null;
  ip?: string | null;
  details?: Record<string, string | number | boolean | null>;
}

/** What other features need of the log: writing to it. */
export interface AuditRecorder {
  record(entry: AuditEntry): Promise<void>;
}

export interface AuditQuery {
  action?: string;
  actorId?: string;
  targetUserId?: string;
  since?: Date;
  until?: Date;
  limit: number;
  offset: number;
}

/** The security audit trail: appended to by the features, read by administrators. */
export class AuditLog implements AuditRecorder {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  async record(entry: AuditEntry): Promise<void> {
    await this.db.insert(auditEvents).values({
      occurredAt: new Date(this.now()),
      action: entry.action,
      actorId: entry.actorId ?? null,
      targetUserId: entry.targetUserId ?? null,
      ip: entry.ip ?? null,
      details: entry.details ?? {},
    });
  }

  async list(query: AuditQuery): Promise<{ items: AuditEventRow[]; total: number }> {
    const filters: SQL[] = [];
    if (query.action) filters.push(eq(auditEvents.action, query.action));
    if (query.actorId) filters.push(eq(auditEvents.actorId, query.actorId));
    if (query.targetUserId) filters.push(eq(auditEvents.targetUserId, query.targetUserId));
    if (query.since) filters.push(gte(auditEvents.occurredAt, query.since));
    if (query.until) filters.push(lte(auditEvents.occurredAt, query.until));
    const where = filters.length > 0 ? and(...filters) : undefined;
    const [items, counted] = await Promise.all([
      this.db
        .select()
        .from(auditEvents)
        .where(where)
        .orderBy(desc(auditEvents.occurredAt), desc(auditEvents.id))
        .limit(query.limit)
        .offset(query.offset),
      this.db.select({ total: count() }).from(auditEvents).where(where),
    ]);
    return { items, total: counted[0]?.total ?? 0 };
  }

  /** Deletes events older than `before` (AUDIT_RETENTION_DAYS); returns how many. */
  async sweep(before: Date): Promise<number> {
    const removed = await this.db.delete(auditEvents).where(lt(auditEvents.occurredAt, before)).returning({ id: auditEvents.id });
    return removed.length;
  }
}
