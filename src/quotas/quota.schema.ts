import { sql } from 'drizzle-orm';
import { bigint, check, integer, pgTable, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from '../users/user.schema.ts';

/**
 * One row per account that has stored anything: what it uses (bytes of originals and derived
 * blobs, and file count, reservations of uploads in flight included) and the limits an admin
 * set for it (null: the configured default). Reservations are atomic updates guarded by the
 * limit, so concurrent uploads can never take more than the limit between them.
 */
export const accountQuotas = pgTable(
  'account_quotas',
  {
    userId: uuid('user_id')
      .primaryKey()
      .references(() => users.id, { onDelete: 'cascade' }),
    usedBytes: bigint('used_bytes', { mode: 'number' }).notNull().default(0),
    usedFiles: integer('used_files').notNull().default(0),
    maxBytes: bigint('max_bytes', { mode: 'number' }),
    maxFiles: integer('max_files'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    check('account_quotas_used_check', sql`${table.usedBytes} >= 0 and ${table.usedFiles} >= 0`),
    check('account_quotas_max_check', sql`coalesce(${table.maxBytes}, 0) >= 0 and coalesce(${table.maxFiles}, 0) >= 0`),
  ],
);

export type AccountQuotaRow = typeof accountQuotas.$inferSelect;
