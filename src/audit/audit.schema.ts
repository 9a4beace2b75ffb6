import { index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * Security events. Actor and target carry no foreign key on purpose: the trail must outlive
 * the accounts it names.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
    action: text('action').notNull(),
    /** Who did it; null when nobody was signed in (a failed sign-in, a reset link). */
    actorId: uuid('actor_id'),
    /** The account it concerns. */
    targetUserId: uuid('target_user_id'),
    ip: text('ip'),
    details: jsonb('details').$type<Record<string, string | number | boolean | null>>().notNull().default({}),
  },
  (table) => [
    index('audit_events_occurred_idx').on(table.occurredAt),
    index('audit_events_target_idx').on(table.targetUserId, table.occurredAt),
    index('audit_events_actor_idx').on(table.actorId, table.occurredAt),
  ],
);

export type AuditEventRow = typeof auditEvents.$inferSelect;
